"""AppTest: every page renders, and the main flows produce the figures they should."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import uqcore
from uqcore import plots
from tests.app.apptest_support import ROOT, app, arr, assert_clean, charts, metrics, png_bytes, shows_curve, trace

PAGES = ["pages/explore.py", "pages/tolerability.py", "pages/compare.py", "pages/models.py", "pages/dataset.py"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("task,model", [("sr", "tiny-sr"), ("depth", "tiny-depth")])
def test_every_page_renders(page, task, model):
    at = app(model, task, page)
    assert_clean(at)
    assert at.sidebar.radio(key="task").value == task
    assert at.sidebar.selectbox(key="model").value == model


def test_explore_default_shows_four_panels():
    at = app()
    assert_clean(at)
    (panels,) = charts(at)  # one figure: the image panels and the sparsification curve
    # input, prediction, truth: pictures; variance, error: a picture under a hover heatmap; the curve
    assert [t["type"] for t in panels["data"]] == ["image"] * 3 + ["image", "heatmap"] * 2 + ["scatter"] * 3
    titles = [a["text"] for a in panels["layout"]["annotations"]][:6]
    assert titles[0].startswith("input (") and titles[1:] == ["prediction", "ground truth", "variance",
                                                              "error |pred − target|", "sparsification"]
    assert {panels["layout"][f"xaxis{n}"]["matches"] for n in range(2, 6)} == {"x"}  # zoom and pan together
    assert "matches" not in panels["layout"]["xaxis6"]  # the curve has its own axes
    curve = panels["data"][-3:]
    names = [t["name"] for t in curve]
    assert names[0].startswith("estimate (AUSE") and names[1] == "oracle" and names[2].startswith("random (AURG")
    assert len(arr(curve[0]["y"])) == 50 and arr(curve[0]["y"])[0] == pytest.approx(1.0)
    values = metrics(at)
    assert values["samples"] == "8" and float(values["Corr pixel"]) <= 1.0
    assert {"AUSE pixel", "AUSE patch", "AUSE block", "NLL", "NLL σ-scaled", "PSNR (Y) dB", "SSIM (Y)"} <= set(values)
    assert len(at.get("download_button")) == 5  # variance PNG + npy, error npy, metrics JSON, HTML report
    assert "bicubic downscaling" in " ".join(c.value for c in at.caption)


def test_explore_controls_change_the_result():
    at = app()
    before = arr(trace(charts(at)[0], "variance")["z"])
    at.selectbox(key="method").set_value("noise").run()
    at.selectbox(key="layer").set_value("body.0")
    at.select_slider(key="strength").set_value(0.1)
    at.slider(key="samples").set_value(4).run()
    assert_clean(at)
    assert metrics(at)["samples"] == "4"
    after = arr(trace(charts(at)[0], "variance")["z"])
    assert before.shape == after.shape and not np.allclose(before, after, equal_nan=True)
    at.selectbox(key="method").set_value("dropout").run()
    at.select_slider(key="strength").set_value(0.3).run()
    assert_clean(at)
    assert metrics(at)["samples"] == "4"


def test_display_options_do_not_recompute():
    at = app()
    cached = dict(at.session_state["_results"])
    at.selectbox(key="explore_display.colormap").set_value("magma")
    at.checkbox(key="explore_display.log_variance").check().run()
    assert_clean(at)
    assert dict(at.session_state["_results"]).keys() == cached.keys()
    assert trace(charts(at)[0], "variance")["colorscale"][0][1] == "rgb(0, 0, 4)"  # magma's first colour
    assert any("log10" in a["text"] for a in charts(at)[0]["layout"]["annotations"])


@pytest.mark.parametrize("model,method", [("tiny-sr-mcdrop", "mc_dropout"), ("tiny-sr-ens", "ensemble"), ("tiny-sr-llm", "llm")])
def test_explore_baselines(model, method):
    at = app(model)
    assert method in at.selectbox(key="method").options
    at.selectbox(key="method").set_value(method).run()
    assert_clean(at)
    assert shows_curve(at)
    assert metrics(at)["samples"] == {"mc_dropout": "8", "ensemble": "2", "llm": "0 (one pass)"}[method]


def test_explore_upload_lr_only_has_no_error_panel():
    at = app()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_lr").upload("lr.png", png_bytes(24, 20), "image/png").run()
    assert_clean(at)
    (panels,) = charts(at)
    assert [t["type"] for t in panels["data"]] == ["image", "image", "image", "heatmap"]  # input, prediction, variance
    assert any("no ground truth" in i.value for i in at.info)
    assert "mean variance" in metrics(at)


def test_explore_upload_hr_makes_lr_and_pair_checks_size():
    at = app()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_hr").upload("hr.png", png_bytes(66, 81), "image/png").run()
    assert_clean(at)
    assert shows_curve(at)
    assert "cropped from 66×81 to 64×80" in " ".join(c.value for c in at.caption)
    at.file_uploader(key="up_lr").upload("lr.png", png_bytes(10, 10), "image/png").run()
    assert not at.exception
    assert any("must" not in e.value and "×4 the LR image" in e.value for e in at.error)


def test_explore_bad_upload_gives_a_clear_message():
    at = app()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_lr").upload("fake.png", b"this is text, not a PNG", "image/png").run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)


def test_explore_depth_upload_with_ground_truth():
    at = app("tiny-depth", "depth")
    at.radio(key="source").set_value("upload").run()
    rng = np.random.default_rng(0)
    depth = io.BytesIO()
    np.save(depth, rng.uniform(1, 5, (48, 64)).astype(np.float32))
    at.file_uploader(key="up_rgb").upload("room.png", png_bytes(48, 64), "image/png")
    at.file_uploader(key="up_depth").upload("room_depth.npy", depth.getvalue(), "application/octet-stream").run()
    assert_clean(at)
    (panels,) = charts(at)
    # RGB input, then depth prediction and ground truth, variance and error: colour-mapped pictures,
    # each under a hover heatmap (values in metres, or metres² for the variance); the curve last
    assert [t["type"] for t in panels["data"]] == ["image"] + ["image", "heatmap"] * 4 + ["scatter"] * 3
    assert trace(panels, "prediction")["hovertemplate"].endswith(" m<extra></extra>")
    assert {"abs-rel", "δ<1.25"} <= set(metrics(at))
    assert metrics(at)["samples"] == "2"  # transform for depth: identity + flip


def test_tolerability_sweep_and_carry_to_explore():
    at = app(page="pages/tolerability.py")
    at.multiselect(key="tolerability.layers_tiny-sr").set_value(["body.0", "body.1"])
    at.slider(key="tolerability.count").set_value(2)
    at.slider(key="tolerability.samples").set_value(2).run()
    at.button(key="tol_run").click().run()
    assert_clean(at)
    loss_fig, increase_fig, heat = charts(at)
    assert [t["name"] for t in loss_fig["data"]][:2] == ["body.0", "body.1"]
    assert [t["customdata"] for t in loss_fig["data"][:2]] == [["0.01", "1"], ["0.01", "1"]]  # strengths on hover
    assert increase_fig["layout"]["xaxis"]["title"]["text"] == "loss increase"
    assert increase_fig["layout"]["xaxis"]["tickformat"] == ".0%"
    assert heat["data"][0]["type"] == "heatmap" and heat["data"][0]["y"] == ["body.0", "body.1"]
    at.slider(key="tolerability.tolerance").set_value(0.5).run()
    assert at.success, "a recommended setting is shown"
    at.button(key="tol_carry").click().run()
    assert_clean(at)
    assert at.session_state["setting"]["method"] == "noise"
    assert shows_curve(at)  # now on the Explore page with the carried setting


def test_compare_runs_a_small_evaluation():
    at = app(page="pages/compare.py")
    at.multiselect(key="compare.methods_tiny-sr").set_value(["transform", "noise"])
    at.multiselect(key="compare.counts").set_value([2])
    at.number_input(key="compare.limit").set_value(2).run()
    at.button(key="cmp_run").click().run()
    assert_clean(at)
    (bars,) = charts(at)
    assert [t["name"] for t in bars["data"]] == ["mean", "patch", "block", "pixel"]
    assert bars["data"][0]["x"] == ["transform ×2", "noise ×2"]
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value  # 2 images: the mean level is named meaningless, not printed bare
    assert all(v.startswith("n/a: needs ≥ 10 images") for v in table.loc["Corr mean"])
    assert any("n/a" in c.value for c in at.caption)


def test_models_page_lists_zoo_and_layers():
    at = app(page="pages/models.py")
    assert_clean(at)
    labels = [e.label for e in at.expander]
    assert any("tiny-sr" in label for label in labels)
    layers = at.dataframe[0].value
    assert list(layers.columns) == ["name", "kind", "shape", "parameters"]
    assert "body.0" in set(layers["name"])
    at.text_input(key="models_filter").set_value("Conv2d").run()
    assert set(at.dataframe[0].value["kind"]) == {"Conv2d"}


def test_bundled_results_are_shared_between_sessions_uploads_are_not(monkeypatch):
    calls = []
    real = uqcore.estimate

    def counting(*args, **kwargs):
        calls.append(kwargs.get("seed"))
        return real(*args, **kwargs)

    figures = []
    real_panels = plots.panels_figure

    def counting_panels(*args, **kwargs):
        figures.append(kwargs.get("curve"))
        return real_panels(*args, **kwargs)

    monkeypatch.setattr(uqcore, "estimate", counting)
    monkeypatch.setattr(plots, "panels_figure", counting_panels)
    first = app()
    first.number_input(key="seed").set_value(4242).run()  # settings no other test uses
    assert_clean(first)
    assert calls.count(4242) == 1
    built = len(figures)
    second = app()
    second.number_input(key="seed").set_value(4242).run()  # a new session, same bundled view
    assert_clean(second)
    assert calls.count(4242) == 1, "the second session recomputed a bundled result"
    assert len(figures) == built, "the second session redrew the bundled result's panels figure"
    assert len(charts(second)) == 1
    # an upload is never served from another session's result
    sample = sorted((ROOT / "assets" / "samples" / "sr").glob("*.png"))[0].read_bytes()
    before = len(calls)
    for session in range(2):
        at = app()
        at.radio(key="source").set_value("upload").run()
        at.file_uploader(key="up_hr").upload("mine.png", sample, "image/png").run()
        assert_clean(at)
    assert len(calls) - before == 2  # each upload computed in its own session (the default views were shared)


def test_explore_auto_samples_shows_the_reliability():
    at = app()
    at.selectbox(key="method").set_value("noise").run()
    at.slider(key="samples").set_value(8).run()
    assert any("Map reliability" in c.value and "at 8 samples" in c.value for c in at.caption)  # fixed count
    at.toggle(key="auto").set_value(True).run()
    assert_clean(at)
    assert at.slider(key="samples").disabled
    assert metrics(at)["samples"].endswith("(auto)")
    assert any("after" in c.value and "Auto, target 0.9" in c.value for c in at.caption)
    assert any(json.loads(c.proto.spec)["layout"].get("title", {}).get("text") == "map reliability"
               for c in at.get("plotly_chart"))
    assert at.query_params["auto"] == "1"  # the URL says so too
