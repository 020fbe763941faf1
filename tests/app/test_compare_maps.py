"""AppTest: Compare's side-by-side maps of one image (the paper's Fig. 3)."""

from __future__ import annotations

import numpy as np

from tests.app.apptest_support import app, arr, assert_clean, charts, load_relative_depth


def maps_chart(at) -> dict:
    return next(c for c in charts(at) if any(t.get("name", "").startswith("variance:") for t in c["data"]))


def test_compare_draws_each_methods_variance_next_to_the_error():
    at = app(page="pages/compare.py")
    at.multiselect(key="compare.methods_tiny-sr").set_value(["transform", "noise"])
    at.multiselect(key="compare.counts").set_value([2])
    at.number_input(key="compare.limit").set_value(2).run()
    at.button(key="cmp_run").click().run()
    assert_clean(at)
    images = at.selectbox(key="compare.map_image")
    assert len(images.options) == 2
    images.set_value(images.options[1]).run()
    at.button(key="cmpmaps_run").click().run()
    assert_clean(at)
    chart = maps_chart(at)
    titles = [a["text"] for a in chart["layout"]["annotations"]]
    assert titles[:4] == ["prediction", "error |pred − target|", "variance: Infer-trans", "variance: Infer-noise"]
    heat = {t["name"]: t for t in chart["data"] if t["type"] == "heatmap"}
    assert set(heat) == {"error", "variance:transform", "variance:noise"}
    # per-map scales by default: each variance map has its own range and colour bar
    ranges = [(heat[n]["zmin"], heat[n]["zmax"]) for n in ("variance:transform", "variance:noise")]
    assert ranges[0] != ranges[1]
    assert all(heat[n].get("showscale", True) for n in heat)
    for name in ("variance:transform", "variance:noise"):  # from zero, within the map's values (tests/test_plots_maps)
        z = arr(heat[name]["z"])  # the hover layer's block means
        assert heat[name]["zmin"] == 0 and np.nanmin(z) < heat[name]["zmax"]
    # the toggle: one shared range, one colour bar; a display change, not a recomputation
    at.toggle(key="compare.map_shared").set_value(True).run()
    assert_clean(at)
    heat = {t["name"]: t for t in maps_chart(at)["data"] if t["type"] == "heatmap"}
    assert heat["variance:transform"]["zmax"] == heat["variance:noise"]["zmax"]
    assert heat["variance:transform"]["zmin"] == heat["variance:noise"]["zmin"] == 0
    assert [heat[n].get("showscale", True) for n in ("variance:transform", "variance:noise")] == [False, True]
    assert not at.warning  # the stored maps are current


def test_relative_depth_maps_are_aligned_and_the_caption_says_so(tmp_path):
    # a TorchScript upload: no layers the hooks reach, so Compare has no layer controls (it used to crash here)
    at = load_relative_depth(tmp_path)
    at.switch_page("pages/compare.py").run()
    assert_clean(at)
    at.multiselect(key="compare.methods_reldepth").set_value(["transform"])
    at.multiselect(key="compare.counts").set_value([2])
    at.number_input(key="compare.limit").set_value(2).run()
    at.button(key="cmp_run").click().run()
    at.button(key="cmpmaps_run").click().run()
    assert_clean(at)
    captions = [c.value for c in at.caption if "error map measures" in c.value]
    assert captions and "Relative depth: each method's prediction and variance aligned to the ground truth" in captions[0]
