"""Reliability through the dashboard: every bad upload gets a clear message, the app keeps working
and nothing broken is cached. What each test observes goes into docs/RELIABILITY.md."""

from __future__ import annotations

import pytest

from tests.app.apptest_support import app, charts, trace
from tests.reliability_record import record
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save
from streamlit.testing.v1 import AppTest

import uqcore
from uqcore.limits import IMAGE_UPLOAD_MB
from tests.reliability_cases import DEPTH_CASES, GOOD_PNG, IMAGE_CASES, RGB, depth_npy, png
from ui.keys import CUSTOM_MODELS

AREA = "Uploads on the Explore page (AppTest)"
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240


def outcome(at) -> str:
    if at.exception:
        return "EXCEPTION: " + at.exception[0].value
    if at.error:
        return "error shown: " + at.error[0].value
    return f"shown: {len(charts(at))} figures, no error"


@pytest.mark.parametrize("case,data,match", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_and_odd_images_in_the_app(case, data, match):
    at = app()
    at.radio(key="source").set_value("upload").run()
    cached = set(at.session_state["_results"]) if "_results" in at.session_state else set()
    at.file_uploader(key="up_hr").upload("upload.png", data, "image/png").run()
    assert not at.exception
    if match is None:
        assert not at.error and len(charts(at)) == 1
    else:
        assert at.error and len(charts(at)) == 0
        assert set(at.session_state["_results"] if "_results" in at.session_state else []) == cached  # nothing broken cached
    record(AREA, f"HR upload: {case}", outcome(at))
    # the app keeps working: a good upload right after is analysed
    at.file_uploader(key="up_hr").set_value(("good.png", GOOD_PNG, "image/png")).run()
    assert not at.exception and not at.error and len(charts(at)) == 1


def partly_invalid_depth() -> bytes:
    """A depth map of the RGB's size (24×20) with NaN, inf, 0 and negative pixels among valid ones."""
    depth = np.full(RGB.shape[:2], 2.5, np.float32)
    depth[0, :4] = [np.nan, np.inf, 0.0, -1.0]
    return depth_npy(depth)


@pytest.mark.parametrize("case,data,match", DEPTH_CASES, ids=[c[0] for c in DEPTH_CASES])
def test_bad_depth_maps_in_the_app(case, data, match):
    at = app("tiny-depth", "depth")
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_rgb").upload("rgb.png", GOOD_PNG, "image/png")
    if match is None:  # partly invalid ground truth is normal (missing depth): masked, not refused
        data = partly_invalid_depth()
    name = "d_depth.npy" if data[:6] == b"\x93NUMPY" else "d_depth.png"
    at.file_uploader(key="up_depth").upload(name, data, "application/octet-stream").run()
    assert not at.exception
    if match is None:
        assert not at.error and len(charts(at)) == 1
    else:
        assert at.error and match in at.error[0].value
    record("Depth uploads on the Explore page (AppTest)", case, outcome(at))


def test_wrong_size_ground_truth_in_the_app():
    at = app()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_lr").upload("lr.png", GOOD_PNG, "image/png")
    at.file_uploader(key="up_hr").upload("hr.png", png(np.zeros((97, 80, 3), np.uint8)), "image/png").run()
    assert not at.exception and at.error and "×4 the LR image" in at.error[0].value
    record(AREA, "LR 24×20 with an HR off by one row (97×80 instead of 96×80)", outcome(at))


class Raises(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("CUDA kernel failed (simulated)")


class NonFinite(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.interpolate(x, scale_factor=2) / 0.0


@pytest.mark.parametrize("case,module,match", [
    ("a model whose forward raises", Raises(), "forward pass failed"),
    ("a model that returns non-finite values", NonFinite(), "NaN or infinite"),
], ids=["raises", "non-finite"])
def test_models_that_misbehave_in_the_app(case, module, match):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state[CUSTOM_MODELS] = {"bad": uqcore.wrap(module, task="sr", scale=2, name="bad")}
    at.query_params["task"] = "sr"
    at.query_params["model"] = "bad"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and match in at.error[0].value
    assert not at.session_state["_results"] if "_results" in at.session_state else True  # nothing broken cached
    record("Models in the dashboard (AppTest)", f"{case}, selected on the Explore page", outcome(at))
    at.sidebar.selectbox(key="model").set_value("tiny-sr").run()  # the app keeps working
    assert not at.exception and not at.error and len(charts(at)) == 1


def test_model_file_of_the_wrong_architecture_on_the_models_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["task"] = "sr"
    at.query_params["model"] = "tiny-sr"
    at.run()  # app.py registers the pages (st.navigation) on its first run
    at.switch_page("pages/models.py").run()
    weights = save({"encoder.weight": torch.zeros(4, 4), "decoder.bias": torch.zeros(4)})
    at.file_uploader(key="own_upload").upload("unknown.safetensors", weights).run()
    at.button(key="own_load").click().run()
    assert not at.exception and at.error
    record("Models in the dashboard (AppTest)", "upload of a checkpoint of an architecture nobody knows",
           outcome(at))
    assert "unknown" not in at.sidebar.selectbox(key="model").options


def test_widgets_bound_samples_and_strength():
    at = app()
    at.selectbox(key="method").set_value("transform").run()
    assert at.slider(key="samples").max == 8  # what transform can draw: the 8 dihedral transforms
    at.selectbox(key="method").set_value("noise").run()
    samples = at.slider(key="samples")
    assert (samples.min, samples.max) == (1, 64)
    at.selectbox(key="method").set_value("dropout").run()
    rate = at.select_slider(key="strength")
    rates = [float(o) for o in rate.proto.options]
    assert 0 < min(rates) and max(rates) < 1
    record(AREA, "samples 0 / huge, dropout rate out of [0, 1), negative noise std",
           f"cannot be entered: samples slider {samples.min}–{samples.max}, dropout rate "
           f"{min(rates)}–{max(rates)}, "
           "noise std a log-scale slider over 1e-4…1 (the core refuses other values: see Arguments above)")


def test_exif_rotated_jpeg_in_the_app():
    from PIL import Image

    from tests.app.apptest_support import arr
    from tests.reliability_cases import jpeg

    stored = np.zeros((24, 40, 3), np.uint8)  # stored landscape, left half white
    stored[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": shown portrait, white half on top
    at = app()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_hr").upload("photo.jpg", jpeg(stored, exif=exif.tobytes(), quality=95),
                                                 "image/jpeg").run()
    assert not at.exception and not at.error
    variance = trace(charts(at)[0], "variance")
    assert arr(variance["z"]).shape == (40, 24)  # the output follows the displayed (portrait) orientation
    record(AREA, "EXIF-rotated JPEG (stored 40×24 landscape, orientation 6)",
           f"analysed in its displayed orientation: variance map {arr(variance['z']).shape[0]}×"
           f"{arr(variance['z']).shape[1]} (portrait)")


SHARED = "A shared server (AppTest)"


@pytest.fixture
def bind():
    """``bind(address)``: the app runs as if started with ``--server.address ADDRESS`` (reset after)."""
    from streamlit import config

    before = config.get_option("server.address")
    yield lambda address: config.set_option("server.address", address)
    config.set_option("server.address", before)


def _models_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["task"] = "sr"
    at.query_params["model"] = "tiny-sr"
    at.run()
    return at.switch_page("pages/models.py").run()


def _planted(tmp_path, monkeypatch):
    """A factory module whose import writes a marker file: the marker must never appear."""
    marker = tmp_path / "imported"
    (tmp_path / "planted_app_factory.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                                     "def make():\n    raise SystemExit('must never run')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


def test_shared_server_offers_uploads_only(tmp_path, monkeypatch, bind):
    monkeypatch.delenv("UQCORE_ALLOW_LOCAL_MODELS", raising=False)
    bind("0.0.0.0")
    at = _models_page()
    assert not at.exception, [e.value for e in at.exception]
    sources = at.radio(key="own_source").options
    assert sources == ["Upload a file"] and not [t for t in at.text_input if t.key in ("own_spec", "own_weights")]
    record(SHARED, "--server.address 0.0.0.0, UQCORE_ALLOW_LOCAL_MODELS unset: the Models page's model sources",
           f"{', '.join(sources)} (no server path, no module:factory field)")
    assert at.file_uploader(key="own_upload").proto.max_upload_size_mb > 0  # uploads stay
    record(SHARED, "what stays available to anyone who reaches the port",
           f"every page; uploads of images ({IMAGE_UPLOAD_MB} MB) and model files (UQCORE_MAX_MODEL_BYTES) through "
           "the safe loaders, kept in that browser session; the server's CPU / GPU")
    bind("localhost")
    assert "Path, module:factory or Hugging Face id" in _models_page().radio(key="own_source").options
    record(SHARED, "the default (server.address = localhost in .streamlit/config.toml)",
           "upload, and server paths / factories from UQCORE_FACTORY_MODULES")


def test_factories_only_from_allowed_modules_even_when_opted_in(tmp_path, monkeypatch, bind):
    import sys

    monkeypatch.setenv("UQCORE_ALLOW_LOCAL_MODELS", "1")
    monkeypatch.delenv("UQCORE_FACTORY_MODULES", raising=False)
    marker = _planted(tmp_path, monkeypatch)
    bind("0.0.0.0")
    at = _models_page()
    assert "Path, module:factory or Hugging Face id" in at.radio(key="own_source").options  # the opt-in
    at.radio(key="own_source").set_value("path").run()
    for spec in ("planted_app_factory:make", "pytest:main"):
        at.text_input(key="own_spec").input(spec).run()
        at.button(key="own_load").click().run()
        assert not at.exception and "factories are only loaded from uqcore.models" in at.error[0].value
        record(SHARED, f"UQCORE_ALLOW_LOCAL_MODELS=1, default UQCORE_FACTORY_MODULES: factory {spec}",
               f"{outcome(at)} (checked before import)")
    assert not marker.exists() and "planted_app_factory" not in sys.modules
    at.text_input(key="own_spec").input("uqcore.models.srresnet:SRResNet").run()
    at.button(key="own_load").click().run()
    assert not at.exception and not at.error and "SRResNet" in at.success[0].value
