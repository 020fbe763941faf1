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
def thumbnail(path: str, side: int = 144) -> bytes:
    """A small PNG of a gallery image: the browser gets kilobytes, not the full-size sample."""
    from io import BytesIO

    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        buffer = BytesIO()
        img.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def depth_file_for(rgb: Path) -> Path | None:
    for suffix in ("_depth.png", "_depth.npy"):
        candidate = rgb.with_name(rgb.stem + suffix)
        if candidate.exists():
            return candidate
    return None
