"""Streamlit AppTest helpers: run a page on the tiny zoo, read its charts and metrics, make uploads."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest


ROOT = Path(__file__).resolve().parents[2]


TIMEOUT = 240


def app(model: str = "tiny-sr", task: str = "sr", page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["task"] = task
    at.query_params["model"] = model
    at.run()  # app.py registers the pages (st.navigation) on its first run
    return at.switch_page(page).run() if page else at


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def arr(value) -> np.ndarray:
    """Plotly JSON arrays: plain lists, or typed arrays {"dtype", "bdata", "shape"} (base64)."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            data = data.reshape([int(v) for v in str(shape).split(",")] if isinstance(shape, str) else shape)
        return data
    return np.asarray(value, dtype=float)


def trace(chart: dict, name: str) -> dict:
    """The panels figure's trace called ``name`` (input, prediction, ground, variance, error); for
    a colour-mapped panel (a picture under a hover heatmap of the same name) the heatmap, which
    holds the values."""
    found = [t for t in chart["data"] if t.get("name", "").split(" ")[0] == name]
    return next((t for t in found if "z" in t), found[0])


def shows_curve(at: AppTest) -> bool:
    """One chart: the image panels with the sparsification curve (its three lines last)."""
    (panels,) = charts(at)
    return [t["type"] for t in panels["data"]][-3:] == ["scatter"] * 3


def metrics(at: AppTest) -> dict[str, str]:
    """label -> value of the page's metrics: its metric rows (ui.metric_row: one HTML block per
    row) and any single ``st.metric``."""
    import html
    import re

    cells = re.compile(r'class="uq-metric-label"[^>]*>(.*?)</div><div class="uq-metric-value">(.*?)</div>')
    rows = {html.unescape(label): html.unescape(value)
            for element in at.get("html") for label, value in cells.findall(element.proto.body)}
    return {**{m.label: m.value for m in at.metric}, **rows}


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def png_bytes(h: int, w: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def save_softplus_depth(path: Path) -> Path:
    """A one-conv depth network (softplus + 0.5, always positive) saved as TorchScript."""
    import warnings

    import torch

    class Depth(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 1, 3, padding=1)

        def forward(self, x):
            return torch.nn.functional.softplus(self.conv(x)) + 0.5

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(Depth().eval()).save(str(path))
    return path


def load_relative_depth(folder: Path) -> AppTest:
    """The Models page after uploading that network as a relative-depth model called "reldepth"."""
    path = save_softplus_depth(folder / "reldepth.pt")
    at = app(page="pages/models.py")
    at.file_uploader(key="own_upload").upload("reldepth.pt", path.read_bytes()).run()
    at.selectbox(key="own_task").set_value("depth")
    at.selectbox(key="own_depth_kind").set_value("relative").run()
    at.button(key="own_load").click().run()
    return at
