"""AppTest flows of calibrated error bars (a calibration fitted in the dashboard is used only where
it applies): fit on Compare -> reliability diagram and
coverage per image -> Explore shows the interval maps and the coverage; a calibration of another
model or setting is refused on Explore with a message, not applied; a bad file is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import uqcore
from uqcore import plots
from tests.app.apptest_support import ROOT, TIMEOUT, arr, assert_clean, charts, metrics, png_bytes, trace

CAL_TAB = "Calibrated error bars"
NOISE = dict(method="noise", layer="body.0", strength="0.1", samples="2")


def app(page: str, model: str = "tiny-sr", **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in dict(task="sr", model=model, **params).items():
        at.query_params[key] = value
    at.run()
    return at.switch_page(page).run()


def calibration_tab(at: AppTest) -> AppTest:
    at.session_state["compare_view"] = CAL_TAB  # what clicking the tab does
    return at.run()


def figure(at: AppTest, title: str) -> dict:
    return next(c for c in charts(at) if c["layout"].get("title", {}).get("text", "").startswith(title))


def test_fit_on_compare_then_interval_maps_and_coverage_on_explore():
    at = calibration_tab(app("pages/compare.py", **NOISE))
    assert_clean(at)
    assert any("No calibration in use" in m.value for m in at.markdown)
    at.number_input(key="compare.cal_limit").set_value(3)
    at.number_input(key="compare.fit").set_value(2).run()
    at.radio(key="compare.kind").set_value("conformal").run()
    at.button(key="calfit_run").click().run()
    assert_clean(at)
    diagram = figure(at, "reliability diagram")
    raw, calibrated, ideal = diagram["data"]
    assert raw["name"].startswith("raw variance (ENCE") and calibrated["name"].startswith("calibrated (ENCE")
    assert diagram["layout"]["xaxis"]["type"] == "log" and "intensity" in diagram["layout"]["xaxis"]["title"]["text"]
    # the raw variance of a random-weight model is far too small: calibrating moves the bins to the diagonal
    gap = lambda t: np.mean(np.abs(np.log(arr(t["y"]) / arr(t["x"]))))  # noqa: E731
    assert gap(calibrated) < gap(raw)
    coverage = figure(at, "coverage per image")
    assert coverage["data"][0]["x"] == ["camera"]  # fitted on astronaut and brick, the third image held out
    shown = at.dataframe[0].value
    assert list(shown.index) == ["camera"] and 0 < shown.loc["camera", "coverage"] <= 1
    assert metrics(at)["Coverage (90% nominal)"] == f"{shown.loc['camera', 'coverage']:.1%}"
    at.button(key="cal_keep").click().run()
    assert any("In use on Explore" in s.value for s in at.success)
    cal = at.session_state["current_calibration"][0]
    assert cal.images == ["astronaut", "brick"] and cal.setting["layer"] == "body.0"

    at.switch_page("pages/explore.py").run()
    assert_clean(at)
    assert not at.warning or all("not applied" not in w.value for w in at.warning)
    panels = charts(at)[0]
    titles = [a["text"] for a in panels["layout"]["annotations"]]
    assert "interval width (90% interval)" in titles and "outside the interval (90% interval)" in titles
    width, outside, variance = (arr(trace(panels, n)["z"]) for n in ("interval", "outside", "variance"))
    # conformal: width = 2·q·sqrt(v + eps) per pixel; the hover heatmaps hold k×k block means of the
    # full-resolution maps of the result on display (the last one used in this session)
    _, result = list(at.session_state["_results"].values())[-1]
    k = -(-result.variance.shape[-1] // variance.shape[-1])
    np.testing.assert_allclose(variance, plots.block_mean(result.variance, k), rtol=1e-5)
    expected = plots.block_mean(2 * cal.fitted["q"] * np.sqrt(result.variance.astype(np.float64) + cal.eps), k)
    np.testing.assert_allclose(width, expected, rtol=1e-3)
    values = metrics(at)
    coverage_shown = float(values["Coverage (90%)"].rstrip("%")) / 100
    assert 1 - outside.mean() == pytest.approx(coverage_shown, abs=1e-3)  # the map and the number agree
    assert float(values["Interval width"]) == pytest.approx(width.mean(), rel=1e-3)
    assert any("one of the calibration images" in c.value for c in at.caption)  # astronaut: in-sample, said so


@pytest.fixture(scope="module")
def calibration_json(tmp_path_factory) -> bytes:
    """A conformal calibration of tiny-sr for the NOISE setting, fitted outside the app."""
    model = uqcore.load_model("tiny-sr")
    torch.manual_seed(0)
    hr = torch.rand(3, 32, 32)
    x = torch.nn.functional.avg_pool2d(hr[None], 4)
    cal = uqcore.calibrate(model, [("toy", x, hr)], method="noise", layer="body.0", strength=0.1, samples=2)
    return cal.save(tmp_path_factory.mktemp("cal") / "cal.json").read_bytes()


def test_loaded_calibration_applies_only_to_its_model_and_setting(calibration_json):
    at = calibration_tab(app("pages/compare.py", **NOISE))
    at.file_uploader(key="cal_upload").upload("cal.json", calibration_json, "application/json").run()
    assert_clean(at)
    assert any("In use on Explore" in m.value and "loaded from cal.json" in m.value for m in at.markdown)
    at.switch_page("pages/explore.py").run()
    assert_clean(at)
    assert "Coverage (90%)" in metrics(at)
    assert {"interval", "outside"} <= {t["name"] for t in charts(at)[0]["data"]}
    at.radio(key="source").set_value("upload").run()  # no ground truth: the width map only, no coverage
    at.file_uploader(key="up_lr").upload("lr.png", png_bytes(24, 20), "image/png").run()
    assert_clean(at)
    names = {t["name"] for t in charts(at)[0]["data"]}
    assert "interval" in names and "outside" not in names
    assert "Interval width" in metrics(at) and "Coverage (90%)" not in metrics(at)

    at.select_slider(key="strength").set_value(0.15).run()  # another setting: refused, not applied
    assert_clean(at)
    refusals = [w.value for w in at.warning if "not applied" in w.value]
    assert refusals and "strength 0.1" in refusals[0] and "strength 0.15" in refusals[0]
    assert "Coverage (90%)" not in metrics(at)
    assert not {"interval", "outside"} & {t["name"] for t in charts(at)[0]["data"]}

    at.sidebar.selectbox(key="model").set_value("tiny-sr-mcdrop").run()  # another model: refused, named
    assert_clean(at)
    refusals = [w.value for w in at.warning if "not applied" in w.value]
    assert refusals and "'tiny-sr'" in refusals[0] and "'tiny-sr-mcdrop'" in refusals[0]
    at.button(key="cal_forget_explore").click().run()  # the user can drop it
    assert "current_calibration" not in at.session_state
    assert not [w for w in at.warning if "not applied" in w.value]


def test_a_bad_calibration_file_is_refused_with_the_reason():
    at = calibration_tab(app("pages/compare.py"))
    at.file_uploader(key="cal_upload").upload("cal.json", json.dumps({"kind": "conformal"}).encode(),
                                              "application/json").run()
    assert not at.exception
    assert any("not a uqcore calibration" in e.value for e in at.error)
    assert any("No calibration in use" in m.value for m in at.markdown)
