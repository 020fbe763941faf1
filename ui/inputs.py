"""The input picker shared by the Explore and Tolerability pages: bundled gallery or uploads.

The choice lives in the shared setting (``source``, ``sample``), and uploaded files are kept in
the session, so an input chosen on one page is the input on the other, and nothing uploaded is
lost by a page change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import streamlit as st

import uqcore
from ui import gallery, keys, model_cache, run_control, state
from uqcore.limits import IMAGE_UPLOAD_MB
from uqcore.datasets.analysis import PreparedInput, prepare_depth, prepare_sr
from uqcore.datasets.folders import explore_region

IMAGE_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp"]
SOURCE_LABELS = {"sample": "Bundled sample", "upload": "Upload"}
UPLOADS = "uploads"


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def _keep_upload(slot: str, key: str) -> None:
    """Uploader callback: remember the file (or its removal) beyond the widget's life."""
    file = st.session_state.get(key)
    store = st.session_state.setdefault(UPLOADS, {})
    st.session_state[f"{key}_error"] = None
    try:
        run_control.check_upload(file, IMAGE_UPLOAD_MB, "images and depth maps")
    except uqcore.InputError as exc:
        st.session_state[f"{key}_error"], file = str(exc), None
    if file is None:
        store.pop(slot, None)
    else:
        store[slot] = Upload(file.name, file.getvalue())


def _uploader(target, label: str, slot: str, types: list[str], **kwargs) -> Upload | None:
    key = f"up_{slot}"
    target.file_uploader(label, type=types, key=key, on_change=_keep_upload, args=(slot, key),
                         max_upload_size=IMAGE_UPLOAD_MB, **kwargs)
    if st.session_state.get(f"{key}_error"):
        target.error(st.session_state[f"{key}_error"], icon="⚠️")
    kept = st.session_state.get(UPLOADS, {}).get(slot)
    if kept is not None and st.session_state.get(key) is None:
        target.caption(f"Using **{kept.name}** (uploaded earlier); upload another file to replace it.")
    return kept


def pick_input(model: uqcore.UQModel) -> tuple[PreparedInput, str]:
    """Widgets for one input image (+ ground truth), then that input. Stops the page with a
    message if there is no usable input yet; raises ``InputError`` for a bad one."""
    input_widgets(model)
    chosen = current_input(model)
    if chosen is None:
        st.stop()
    return chosen


def input_widgets(model: uqcore.UQModel) -> None:
    """The input controls: bundled gallery and sample, or the uploaders (kept in the session)."""
    setting = state.current()
    task = setting["task"]
    state.bound(st.radio, "Input", "source", options=list(SOURCE_LABELS), format_func=SOURCE_LABELS.get,
                horizontal=True)
    if setting["source"] == "sample":
        files = gallery.sample_files(task)
        if not files:
            st.warning("No bundled samples for this task; upload an image instead.")
            return
        state.bound(st.selectbox, "Sample", "sample", options=[p.stem for p in files])
        # the thumbnails on request: drawn on every first view they were a large part of the
        # page's load time (benchmarks/bench_page.py); a popover draws them when opened
        with st.popover("Browse the samples", icon=":material/photo_library:"):
            gallery.show_strip(files)
        return
    left, right = st.columns(2)
    if task == "sr":
        lr = _uploader(left, "Low-resolution image (model input)", "lr", IMAGE_TYPES)
        hr = _uploader(right, "High-resolution image (ground truth)", "hr", IMAGE_TYPES,
                       help=f"Alone, the app makes the LR input by bicubic ×{model.scale} downscaling.")
        if lr is None and hr is None:
            st.info(f"Upload an LR image, an HR image (the app makes the LR input by bicubic ×{model.scale} "
                    "downscaling and uses the HR as ground truth), or both.")
        return
    rgb = _uploader(left, "RGB image", "rgb", IMAGE_TYPES)
    _uploader(right, "Depth map (optional): 16-bit PNG in millimetres or .npy in metres", "depth", ["png", "npy"])
    if rgb is None:
        st.info("Upload an RGB image and, optionally, its depth map.")


def current_input(model: uqcore.UQModel) -> tuple[PreparedInput, str] | None:
    """The input the setting names (a bundled sample, or the files uploaded in this session),
    prepared for ``model``; None while nothing is uploaded. Draws nothing, so a page can show a
    stored result before its controls. Raises ``InputError`` for a bad input."""
    setting = state.current()
    task = setting["task"]
    if setting["source"] == "sample":
        files = {p.stem: p for p in gallery.sample_files(task)}
        path = files.get(setting["sample"])
        if path is None:
            return None
        if task == "sr":
            hr, side = explore_region(model, uqcore.read_image(path))
            return prepare_sr(model, hr=hr), path.name + (f" (centre {side}×{side} px)" if side else "")
        depth_path = gallery.depth_file_for(path)
        depth = uqcore.read_depth(depth_path) if depth_path else None
        return prepare_depth(uqcore.read_image(path), depth), path.name
    uploads = st.session_state.get(UPLOADS, {})
    if task == "sr":
        lr, hr = uploads.get("lr"), uploads.get("hr")
        if lr is None and hr is None:
            return None
        prepared = prepare_sr(model, lr=uqcore.read_image(lr.data) if lr else None,
                              hr=uqcore.read_image(hr.data) if hr else None)
        return prepared, (lr or hr).name
    rgb, depth_file = uploads.get("rgb"), uploads.get("depth")
    if rgb is None:
        return None
    depth = uqcore.read_depth(depth_file.data, name=depth_file.name) if depth_file else None
    return prepare_depth(uqcore.read_image(rgb.data), depth), rgb.name


def display_arrays(prepared: PreparedInput) -> tuple[np.ndarray, np.ndarray | None]:
    """The model input [C, h, w] and the ground truth [C, H, W] (or None) as numpy, for the
    Explore panels."""
    truth = None if prepared.target is None else prepared.target.reshape(-1, *prepared.target.shape[-2:]).numpy()
    return prepared.x[0].numpy(), truth


def is_bundled(model_name: str) -> bool:
    """True when the input is a bundled sample and the model a bundled one without a student head
    of this session's own (results may then be shared between sessions)."""
    return (state.current()["source"] == "sample"
            and model_name not in st.session_state.get(keys.CUSTOM_MODELS, {})
            and not model_cache.head_token(model_name))
