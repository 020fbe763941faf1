"""The bundled sample images the pages offer (checkout or installed wheel), as small thumbnails."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from uqcore.models.registry import SAMPLES_DIR


def sample_files(task: str) -> list[Path]:
    folder = SAMPLES_DIR / task
    if task == "depth":
        return sorted(p for p in folder.glob("*.png") if not p.stem.endswith("_depth"))
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")) if folder.exists() else []


@st.cache_data(show_spinner=False, max_entries=256)
def thumbnail(path: str, side: int = 132) -> bytes:
    """A small JPEG of a gallery image (shown 66 pixels wide: twice that for sharp high-DPI
    screens): the browser gets a few kilobytes, not the full-size sample (JPEG: a fifth of a
    PNG's bytes for photos)."""
    from io import BytesIO

    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        buffer = BytesIO()
        img.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def show_strip(files: list[Path], width: int = 66) -> None:
    """The thumbnails of ``files`` with their names, in one HTML element (the pictures travel
    inside the page's message, not as one download and one element each)."""
    from base64 import b64encode
    from html import escape

    cells = "".join(
        f'<figure style="margin:0;width:{width}px;text-align:center">'
        f'<img alt="{escape(p.stem)}" decoding="async" src="data:image/jpeg;base64,{b64encode(thumbnail(str(p))).decode()}" '
        f'style="width:{width}px;height:auto;display:block">'
        f'<figcaption style="font-size:0.8rem;opacity:0.7;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">'
        f"{escape(p.stem)}</figcaption></figure>"
        for p in files)
    st.html(f'<div class="uq-gallery" style="display:flex;flex-wrap:wrap;gap:0.5rem;align-items:flex-end">{cells}</div>')


def depth_file_for(rgb: Path) -> Path | None:
    for suffix in ("_depth.png", "_depth.npy"):
        candidate = rgb.with_name(rgb.stem + suffix)
        if candidate.exists():
            return candidate
    return None
