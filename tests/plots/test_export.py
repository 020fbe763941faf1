import json

import numpy as np
import plotly.graph_objects as go

from uqcore.plots import export


def test_png16_roundtrip_within_quantisation():
    values = np.random.default_rng(0).random((7, 9)) * 3e-3
    back = export.read_map_png16(export.map_png16(values))
    assert back.shape == values.shape
    assert np.abs(back - values).max() <= values.max() / 65535


def test_npy_and_json():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(np.load(__import__("io").BytesIO(export.npy_bytes(arr))), arr)
    text = export.metrics_json({"ause": np.float64(0.1), "bad": float("nan")}, {"samples": np.int64(8)})
    assert json.loads(text) == {"settings": {"samples": 8}, "metrics": {"ause": 0.1, "bad": None}}


def test_html_report_is_self_contained():
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    report = export.html_report("t", {"method": "noise"}, {"ause": 0.12345678}, [fig, fig], ["a note"])
    assert report.startswith("<!DOCTYPE html>") and "a note" in report and "0.12346" in report
    assert report.count("plotly.js v") >= 1 and "<script src" not in report  # plotly.js inlined, nothing fetched
