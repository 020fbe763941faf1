"""Reliability through the dashboard: every bad upload gets a clear message, the app keeps working
and nothing broken is cached. What each test observes goes into docs/RELIABILITY.md."""

from __future__ import annotations

import pytest

from tests.app.test_pages import app, charts
from tests.reliability_record import record
import numpy as np

from tests.test_reliability import DEPTH_CASES, GOOD_PNG, IMAGE_CASES, RGB, depth_npy, png

AREA = "Uploads on the Explore page (AppTest)"


def outcome(at) -> str:
    if at.exception:
        return "EXCEPTION: " + at.exception[0].value
    if at.error:
        return "error shown: " + at.error[0].value
    return f"shown: {len(charts(at))} figures, no error"


@pytest.mark.parametrize("case,data,match", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_and_odd_images_in_the_app(case, data, match):
    at = app()
    at.radio(key="explore_source").set_value("Upload").run()
    cached = set(at.session_state["_results"]) if "_results" in at.session_state else set()
    at.file_uploader(key="explore_up_hr").upload("upload.png", data, "image/png").run()
    assert not at.exception
    if match is None:
        assert not at.error and len(charts(at)) == 2
    else:
        assert at.error and len(charts(at)) == 0
        assert set(at.session_state["_results"] if "_results" in at.session_state else []) == cached  # nothing broken cached
    record(AREA, f"HR upload: {case}", outcome(at))
    # the app keeps working: a good upload right after is analysed
    at.file_uploader(key="explore_up_hr").set_value(("good.png", GOOD_PNG, "image/png")).run()
    assert not at.exception and not at.error and len(charts(at)) == 2


def partly_invalid_depth() -> bytes:
    """A depth map of the RGB's size (24×20) with NaN, inf, 0 and negative pixels among valid ones."""
    depth = np.full(RGB.shape[:2], 2.5, np.float32)
    depth[0, :4] = [np.nan, np.inf, 0.0, -1.0]
    return depth_npy(depth)


@pytest.mark.parametrize("case,data,match", DEPTH_CASES, ids=[c[0] for c in DEPTH_CASES])
def test_bad_depth_maps_in_the_app(case, data, match):
    at = app("tiny-depth", "depth")
    at.radio(key="explore_source").set_value("Upload").run()
    at.file_uploader(key="explore_up_rgb").upload("rgb.png", GOOD_PNG, "image/png")
    if match is None:  # partly invalid ground truth is normal (missing depth): masked, not refused
        data = partly_invalid_depth()
    name = "d_depth.npy" if data[:6] == b"\x93NUMPY" else "d_depth.png"
    at.file_uploader(key="explore_up_depth").upload(name, data, "application/octet-stream").run()
    assert not at.exception
    if match is None:
        assert not at.error and len(charts(at)) == 2
    else:
        assert at.error and match in at.error[0].value
    record("Depth uploads on the Explore page (AppTest)", case, outcome(at))


def test_wrong_size_ground_truth_in_the_app():
    at = app()
    at.radio(key="explore_source").set_value("Upload").run()
    at.file_uploader(key="explore_up_lr").upload("lr.png", GOOD_PNG, "image/png")
    at.file_uploader(key="explore_up_hr").upload("hr.png", png(np.zeros((97, 80, 3), np.uint8)), "image/png").run()
    assert not at.exception and at.error and "×4 the LR image" in at.error[0].value
    record(AREA, "LR 24×20 with an HR off by one row (97×80 instead of 96×80)", outcome(at))
