"""Downloads: maps as 16-bit PNG / .npy, metrics as JSON, a self-contained HTML report."""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, PngImagePlugin


def map_png16(values: np.ndarray) -> bytes:
    """A 2-D float map as a 16-bit grayscale PNG: 0 -> 0, max -> 65535, linear; NaN -> 0.

    The factor back to the original units is stored in the PNG's text chunk ``uqcore:scale``
    (value = pixel × scale), so the download loses only 16-bit quantisation."""
    arr = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    arr = np.maximum(arr, 0.0)
    peak = float(arr.max(initial=0.0))
    scale = peak / 65535.0 if peak > 0 else 1.0
    pixels = np.round(arr / scale).astype(np.uint16)
    info = PngImagePlugin.PngInfo()
    info.add_text("uqcore:scale", repr(scale))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_map_png16(data: bytes) -> np.ndarray:
    """Inverse of :func:`map_png16` (up to quantisation)."""
    img = Image.open(io.BytesIO(data))
    return np.asarray(img, dtype=np.float64) * float(img.text.get("uqcore:scale", 1.0))


def npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values), allow_pickle=False)
    return buffer.getvalue()


def _jsonable(value):
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def metrics_json(metrics: Mapping, settings: Mapping) -> str:
    """Metrics and the settings that produced them; NaN/inf become null."""
    return json.dumps({"settings": _jsonable(settings), "metrics": _jsonable(metrics)}, indent=2)


def html_report(title: str, settings: Mapping, metrics: Mapping, figures: Sequence, notes: Sequence[str] = (),
                sections: Sequence[str] = ()) -> str:
    """One self-contained HTML file (plotly.js inlined once): settings, metrics and figures, then
    ``sections`` (HTML the caller built and escaped, e.g. a gallery) as they are."""
    parts = []
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False}))
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in settings.items()
    )
    mrows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in metrics.items()
    )
    note_html = "".join(f"<p>{html.escape(n)}</p>" for n in notes if n)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{note_html}<h2>Settings</h2><table>{rows}</table>"
        f"<h2>Metrics</h2><table>{mrows}</table>{''.join(parts)}{''.join(sections)}</body></html>"
    )


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "n/a" if not math.isfinite(float(value)) else f"{float(value):.5g}"
    return str(value)
