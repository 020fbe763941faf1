"""The input picker shared by the Explore and Tolerability pages: bundled gallery or uploads."""

from __future__ import annotations

import streamlit as st

import uqcore
from pages import glue
from uqcore.analysis import PreparedInput, prepare_depth, prepare_sr

IMAGE_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp"]


def pick_input(task: str, model: uqcore.UQModel, prefix: str) -> tuple[PreparedInput, str]:
    """Widgets for one input image (+ ground truth). Stops the page with a message if there is
    no usable input yet; raises ``InputError`` for a bad one."""
    source = st.radio("Input", ["Bundled sample", "Upload"], horizontal=True, key=f"{prefix}_source")
    if source == "Bundled sample":
        files = glue.sample_files(task)
        if not files:
            st.warning("No bundled samples for this task; upload an image instead.")
            st.stop()
        names = [p.stem for p in files]
        with st.container(horizontal=True):
            for path in files[:10]:
                st.image(glue.thumbnail(str(path)), caption=path.stem, width=72)
        choice = st.selectbox("Sample", names, key=f"{prefix}_sample_{task}")
        path = files[names.index(choice)]
        if task == "sr":
            return prepare_sr(model, hr=uqcore.read_image(path)), path.name
        depth_path = glue.depth_file_for(path)
        depth = uqcore.read_depth(depth_path) if depth_path else None
        return prepare_depth(uqcore.read_image(path), depth), path.name

    left, right = st.columns(2)
    if task == "sr":
        lr_file = left.file_uploader("Low-resolution image (model input)", type=IMAGE_TYPES, key=f"{prefix}_up_lr")
        hr_file = right.file_uploader("High-resolution image (ground truth)", type=IMAGE_TYPES, key=f"{prefix}_up_hr",
                                      help=f"Alone, the app makes the LR input by bicubic ×{model.scale} downscaling.")
        if lr_file is None and hr_file is None:
            st.info(f"Upload an LR image, an HR image (the app makes the LR input by bicubic ×{model.scale} "
                    "downscaling and uses the HR as ground truth), or both.")
            st.stop()
        lr = uqcore.read_image(lr_file.getvalue()) if lr_file else None
        hr = uqcore.read_image(hr_file.getvalue()) if hr_file else None
        return prepare_sr(model, lr=lr, hr=hr), (lr_file or hr_file).name
    rgb_file = left.file_uploader("RGB image", type=IMAGE_TYPES, key=f"{prefix}_up_rgb")
    depth_file = right.file_uploader("Depth map (optional): 16-bit PNG in millimetres or .npy in metres",
                                     type=["png", "npy"], key=f"{prefix}_up_depth")
    if rgb_file is None:
        st.info("Upload an RGB image and, optionally, its depth map.")
        st.stop()
    depth = uqcore.read_depth(depth_file.getvalue(), name=depth_file.name) if depth_file else None
    return prepare_depth(uqcore.read_image(rgb_file.getvalue()), depth), rgb_file.name
