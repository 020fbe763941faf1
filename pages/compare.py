"""Compare: methods × sample counts on a set of images — the paper's Tables 1 and 2."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import uqcore
from pages import glue
from uqcore import evaluation, plots

task, model_name = glue.sidebar()
st.title("Compare")
st.caption("AUSE and correlation at mean / patch / block / pixel level and NLL for each method and "
           "sample count, on the bundled evaluation set or your own images.")
try:
    model = glue.model_for(model_name)
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()

source = st.radio("Images", ["Bundled evaluation set", "Upload"], horizontal=True, key="cmp_source")
if source == "Bundled evaluation set":
    folder = glue.SAMPLES_DIR / task
    upload_key = None
else:
    hint = ("HR images (the LR inputs are made by bicubic downscaling)" if task == "sr"
            else "RGB images `name.png` with depth maps `name_depth.png` (16-bit mm) or `name_depth.npy` (m)")
    files = st.file_uploader(f"Upload {hint}", accept_multiple_files=True, key="cmp_upload",
                             type=["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "npy"])
    if not files:
        st.info(f"Upload {hint}.")
        st.stop()
    upload_key = glue.digest(*[f.name.encode() + f.getvalue() for f in files])
    folder = Path(tempfile.gettempdir()) / f"uqcore_upload_{upload_key[:16]}"
    folder.mkdir(exist_ok=True)
    for f in files:
        (folder / Path(f.name).name).write_bytes(f.getvalue())

choices = []
for m in model.methods:
    choices += ["mc_dropout1", "mc_dropout2"] if m == "mc_dropout" else [m]
default = [m for m in ("transform", "noise", "dropout") if m in choices]
c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
methods = c1.multiselect("Methods", choices, default=default, key=f"cmp_methods_{model_name}",
                         help="mc_dropout1: original output as prediction; mc_dropout2: sample mean")
counts = c2.multiselect("Sample counts", [2, 4, 8, 16, 32], default=[8], key="cmp_counts")
limit = c3.number_input("Max images", 1, 100, 4, key="cmp_limit")
seed = int(c4.number_input("Seed", 0, 2**31 - 1, 0, key="cmp_seed"))
st.caption("Noise and dropout use a middle layer (noise std 0.05, dropout rate 0.1) unless set here; tune them "
           "on the Tolerability page.")
layer_names = [r["name"] for r in glue.layers_for(model_name)]
l1, l2, l3 = st.columns([2, 1, 1])
default_layer = evaluation.default_layer(model)
layer = l1.selectbox("Layer (noise / dropout)", layer_names,
                     index=layer_names.index(default_layer) if default_layer in layer_names else 0, key=f"cmp_layer_{model_name}")
noise_std = l2.number_input("Noise std", 0.0, 10.0, 0.05, format="%.4f", key="cmp_noise")
drop_rate = l3.number_input("Dropout rate", 0.0, 0.95, 0.1, key="cmp_drop")

settings = dict(model=model_name, folder=str(folder), upload=upload_key, methods=tuple(methods), counts=tuple(counts),
                limit=int(limit), seed=seed, layer=layer, noise=noise_std, dropout=drop_rate)
key = glue.digest("compare", settings)


def compute(progress):
    _, pairs = evaluation.load_pairs(folder, model, limit=int(limit))
    return evaluation.evaluate(model, pairs, methods=methods, samples=sorted(counts), layer=layer,
                               strength={"noise": noise_std, "dropout": drop_rate}, seed=seed, progress=progress)


rows = glue.run_on_click("Run comparison", "cmp", key, compute, disabled=not methods or not counts,
                         progress_text="Images × settings done…")
st.subheader("Table (shaped like the paper's Table 1)")
st.dataframe(evaluation.table_frame(rows).style.format("{:.4f}", na_rep="–"), width="stretch")
frame = pd.DataFrame(rows)
metric = st.radio("Bar chart", ["ause", "corr", "nll", "nll_scaled"], horizontal=True, key="cmp_metric")
st.plotly_chart(plots.metric_bars(frame, metric), width="stretch", key="cmp_bars")
st.download_button("Rows (CSV)", frame.to_csv(index=False), f"compare_{model_name}.csv", "text/csv")
