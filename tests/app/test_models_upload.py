"""AppTest: loading your own model on the Models page (upload, what is shown, sidebar selection)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save
from streamlit.testing.v1 import AppTest
from ui.keys import CUSTOM_MODELS

from tests.app.apptest_support import load_relative_depth

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240


def models_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["task"] = "sr"
    at.query_params["model"] = "tiny-sr"
    at.run()  # app.py registers the pages (st.navigation) on its first run
    return at.switch_page("pages/models.py").run()


def tiny_compact_bytes() -> bytes:
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    return save(Compact(num_feat=8, num_conv=2, upscale=2).state_dict())


def test_upload_spandrel_checkpoint_selects_it_everywhere():
    at = models_page()
    assert not at.exception
    at.file_uploader(key="own_upload").upload("my_compact.safetensors", tiny_compact_bytes()).run()
    at.button(key="own_load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    message = at.success[0].value
    assert "my_compact" in message and "RealESRGAN Compact" in message and "×2" in message and "parameters" in message
    box = at.sidebar.selectbox(key="model")
    assert "my_compact" in box.options and box.value == "my_compact"
    assert "Layers of my_compact" in [s.value for s in at.subheader]
    card = json.loads(next(c.value for c in at.code if c.language == "json"))  # the detected settings
    assert card["format"] == "spandrel" and card["scale"] == 2 and card["source"] == "upload: my_compact.safetensors"
    # every page's sidebar offers it (custom models live in the session)
    at.switch_page("pages/explore.py").run()
    assert not at.exception
    assert "my_compact" in at.sidebar.selectbox(key="model").options


def test_bad_and_malicious_uploads_are_refused_with_a_message(tmp_path):
    at = models_page()
    at.file_uploader(key="own_upload").upload("broken.pth", b"this is not a checkpoint").run()
    at.button(key="own_load").click().run()
    assert not at.exception
    assert "not a" in at.error[0].value and "broken.pth" in at.error[0].value
    assert "broken" not in at.sidebar.selectbox(key="model").options

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pth"
    torch.save({"body.0.weight": torch.zeros(1), "x": Exploit()}, evil)
    at.file_uploader(key="own_upload").clear().upload("evil.pth", evil.read_bytes()).run()
    at.button(key="own_load").click().run()
    assert not at.exception
    assert "refused" in at.error[0].value
    assert not marker.exists()
    assert "evil" not in at.sidebar.selectbox(key="model").options
    assert not (CUSTOM_MODELS in at.session_state and at.session_state[CUSTOM_MODELS])


class _Up(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = torch.nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.conv(x))


def test_upload_torchscript_with_sidecar_offers_transform_only(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream, still supported
        torch.jit.script(_Up().eval()).save(str(tmp_path / "net.pt"))
    at = models_page()
    uploader = at.file_uploader(key="own_upload")
    uploader.upload("net.pt", (tmp_path / "net.pt").read_bytes())
    uploader.upload("net.json", json.dumps({"task": "sr", "scale": 2}).encode(), "application/json").run()
    at.button(key="own_load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "torchscript" in at.success[0].value and "×2" in at.success[0].value
    assert any("noise is not offered" in c.value and "forward hooks" in c.value for c in at.caption)
    assert any("No injection points" in i.value for i in at.info)
    assert at.sidebar.selectbox(key="model").value == "net"
    at.switch_page("pages/explore.py").run()  # the other pages run it with the methods it has
    at.sidebar.selectbox(key="model").set_value("net").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="method").options == ["transform"]


def test_upload_onnx_offers_hook_methods_on_its_node_layers(tmp_path):
    import warnings

    path = tmp_path / "net.onnx"
    axes = {"x": {0: "b", 2: "h", 3: "w"}, "y": {0: "b", 2: "oh", 3: "ow"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notice
        torch.onnx.export(_Up().eval(), (torch.rand(1, 3, 8, 8),), str(path), input_names=["x"],
                          output_names=["y"], dynamic_axes=axes, opset_version=17, dynamo=False)
    at = models_page()
    at.file_uploader(key="own_upload").upload("net.onnx", path.read_bytes()).run()
    at.button(key="own_load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "(onnx)" in at.success[0].value and "×2" in at.success[0].value
    assert at.sidebar.selectbox(key="model").value == "net"
    layers = at.dataframe[-1].value  # the layer browser lists the graph's nodes as injection points
    assert "conv/Conv" in list(layers["name"])
    at.switch_page("pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "noise" in at.selectbox(key="method").options


def test_model_uploads_follow_the_model_size_limit_and_images_keep_theirs(monkeypatch):
    import tomllib

    from uqcore import limits

    server_mb = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert server_mb * 2**20 >= limits.DEFAULT_MAX_MODEL_BYTES  # a 67 MB Real-ESRGAN fits, and 2 GiB
    assert limits.model_upload_mb(server_mb) == limits.DEFAULT_MAX_MODEL_BYTES // 2**20
    monkeypatch.setenv("UQCORE_MAX_MODEL_BYTES", str(80 * 2**20))
    at = models_page()
    assert not at.exception
    assert "up to 80 MB" in at.file_uploader(key="own_upload").label
    assert at.file_uploader(key="own_upload").proto.max_upload_size_mb == 80
    assert at.file_uploader(key="student_images").proto.max_upload_size_mb == limits.IMAGE_UPLOAD_MB
    big = b"\0" * (81 * 2**20)
    at.file_uploader(key="own_upload").upload("huge.pth", big).run()
    at.button(key="own_load").click().run()
    assert not at.exception
    assert "huge.pth is 81.0 MB" in at.error[0].value and "limited to 80 MB" in at.error[0].value
    # images keep their own limit
    at.switch_page("pages/explore.py").run()
    at.radio(key="source").set_value("upload").run()
    assert at.file_uploader(key="up_lr").proto.max_upload_size_mb == limits.IMAGE_UPLOAD_MB
    at.file_uploader(key="up_lr").upload("big.png", b"\0" * ((limits.IMAGE_UPLOAD_MB + 1) * 2**20)).run()
    assert not at.exception
    assert any("big.png" in e.value and f"limited to {limits.IMAGE_UPLOAD_MB} MB" in e.value for e in at.error)


def test_relative_depth_model_is_aligned_on_explore_and_says_so(tmp_path):
    at = load_relative_depth(tmp_path)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state[CUSTOM_MODELS]["reldepth"].depth_kind == "relative"
    at.switch_page("pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    notes = [i.value for i in at.info if i.value.startswith("Aligned:")]
    assert notes and "relative depth aligned to the ground truth by least squares in depth space" in notes[0]


def test_malformed_factory_modules_setting_does_not_break_the_page(monkeypatch):
    monkeypatch.setenv("UQCORE_FACTORY_MODULES", "mypkg/nets")
    at = models_page()
    at.radio(key="own_source").set_value("path").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "UQCORE_FACTORY_MODULES: 'mypkg/nets'" in at.text_input(key="own_spec").help
    at.text_input(key="own_spec").input("uqcore.models.srresnet:SRResNet").run()
    at.button(key="own_load").click().run()
    assert not at.exception and "is not a dotted module name" in at.error[0].value


def test_factory_that_exits_shows_an_error_not_an_exception(monkeypatch):
    """A factory in an allowed module that calls sys.exit (a command-line main) must not raise
    SystemExit into the page's callback: the page shows the loader's message."""
    monkeypatch.setenv("UQCORE_FACTORY_MODULES", "tests.models")
    at = models_page()
    at.radio(key="own_source").set_value("path").run()
    at.text_input(key="own_spec").input("tests.models.factory_fixture:exits").run()
    at.button(key="own_load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("ended with SystemExit(2)" in e.value for e in at.error), [e.value for e in at.error]
