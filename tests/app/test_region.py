"""AppTest of Explore's region setting: setting <-> URL, a box selection on the overview picks
the region, the region is shown at full resolution and the whole image as an overview."""

from __future__ import annotations

import json

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from tests.app.apptest_support import ROOT, TIMEOUT, app, assert_clean, charts, png_bytes
from ui import region as region_ui


def large_upload(at, side: int = 544):
    """An HR upload: tiny-sr's output for the LR made from it is ``side`` square, larger than the view."""
    at.radio(key="source").set_value("upload").run()
    return at.file_uploader(key="up_hr").upload("big.png", png_bytes(side, side), "image/png").run()


def panels_and_overview(at):
    found = charts(at)
    overview = [c for c in found if c["layout"].get("meta", {}).get("overview")]
    panels = [c for c in found if "display_factor" in c["layout"].get("meta", {}) and c not in overview]
    return panels, overview


def opened_at(region: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(task="sr", model="tiny-sr", region=region)
    return at.run()


def test_region_in_the_url_is_the_setting_and_back():
    at = opened_at("8,12,40,44")
    assert at.session_state["setting"]["region"] == (8, 12, 40, 44)
    assert at.query_params["region"] == "8,12,40,44"
    bad = opened_at("1,2,-3")
    assert bad.session_state["setting"]["region"] is None and "region" in bad.session_state["url_ignored"]


def test_large_upload_region_first_and_box_selection():
    at = large_upload(app())
    assert_clean(at)
    (panels,), (overview,) = panels_and_overview(at)
    # the region: today's centre view, at full resolution (factor 1), 448×448 of the 544×544 output
    assert panels["layout"]["meta"]["display_factor"] == 1
    pred = next(t for t in panels["data"] if t.get("name") == "prediction")
    assert pred["dx"] == 1 and "zoomed" not in json.dumps(panels["layout"].get("annotations", []))
    assert any("Inspecting region 448×448" in m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Metrics of the region 448×448") for c in captions)
    assert any(c.startswith("Metrics of the whole 544×544 image") for c in captions)
    assert "block means" in overview["layout"]["annotations"][-1]["text"]
    # the reliability figures refer to what is shown: the region's map at 1:1, the overview's block means
    factor = overview["layout"]["meta"]["display_factor"]
    assert factor > 1 and sum(c.startswith("Map reliability") for c in captions) == 1
    assert any(c.startswith(f"Overview reliability ({factor}×{factor} block means)") and "At full resolution" in c
               for c in captions), captions
    rects = overview["layout"]["shapes"]  # the region outlined on each overview panel
    assert len(rects) == 3 and (rects[0]["x0"], rects[0]["y0"], rects[0]["x1"]) == (47.5, 47.5, 495.5)
    # a box drawn on the overview picks the next region (what the browser sends)
    chart = next(c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["layout"].get("meta", {}).get("overview"))
    states = at._tree.get_widget_states()
    selection = {"selection": {"points": [], "point_indices": [], "lasso": [],
                               "box": [{"xref": "x", "yref": "y", "x": [10.2, 99.6], "y": [20.1, 70.4]}]}}
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(selection)))
    at._run(states)
    assert_clean(at)
    expected = region_ui.fit(20.6, 10.7, 50.3, 89.4, (544, 544), 4)
    assert at.session_state["setting"]["region"] == expected
    assert at.query_params["region"] == ",".join(map(str, expected))
    (panels,), _ = panels_and_overview(at)
    pred = next(t for t in panels["data"] if t.get("name") == "prediction")
    assert pred["dx"] == 1  # still 1:1
    assert any(f"Inspecting region {expected[3]}×{expected[2]} at x {expected[1]}, y {expected[0]}" in m.value
               for m in at.markdown)
    at.button(key="region_reset").click().run()
    assert at.session_state["setting"]["region"] is None and "region" not in at.query_params


def test_small_output_keeps_the_single_view():
    at = app()
    assert_clean(at)
    assert not panels_and_overview(at)[1]
