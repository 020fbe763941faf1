"""Compare: methods × sample counts on a set of images — the paper's Tables 1 and 2."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import uqcore
from ui import glue, session, state
from uqcore import evaluation, methods, plots

CMP = state.page_store("compare", dict(source="Bundled evaluation set", counts=[8], limit=4, seed=0, metric="ause",
                                       **{f"strength_{m}": methods.DEFAULT_STRENGTH[m] for m in methods.LAYER_METHODS}))


def _keep_files() -> None:
    """Keep the uploaded set beyond the uploader's life (a page change must not lose it)."""
    files = st.session_state.get("cmp_upload") or []
    st.session_state[CMP]["files"] = [(f.name, f.getvalue()) for f in files]


setting = session.page_setup()
task, model_name = setting["task"], setting["model"]
st.title("Compare")
st.caption("AUSE and correlation at mean / patch / block / pixel level and NLL for each method and "
           "sample count, on the bundled evaluation set or your own images.")
try:
    model = glue.model_for(model_name)
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()

options = st.session_state[CMP]
source = state.bound(st.radio, "Images", "source", store=CMP, options=["Bundled evaluation set", "Upload"],
                     horizontal=True)
if source == "Bundled evaluation set":
    folder = glue.SAMPLES_DIR / task
    upload_key = None
else:
    hint = ("HR images (the LR inputs are made by bicubic downscaling)" if task == "sr"
            else "RGB images `name.png` with depth maps `name_depth.png` (16-bit mm) or `name_depth.npy` (m)")
    st.file_uploader(f"Upload {hint}", accept_multiple_files=True, key="cmp_upload", on_change=_keep_files,
                     type=["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "npy"])
    files = options.get("files") or []
    if files and not st.session_state.get("cmp_upload"):
        st.caption(f"Using the {len(files)} files uploaded earlier; upload again to replace them.")
    if not files:
        st.info(f"Upload {hint}.")
        st.stop()
    upload_key = glue.digest(*[name.encode() + data for name, data in files])
    folder = Path(tempfile.gettempdir()) / f"uqcore_upload_{upload_key[:16]}"
    folder.mkdir(exist_ok=True)
    for name, data in files:
        (folder / Path(name).name).write_bytes(data)

choices = []
for m in model.methods:
    choices += [v for v in methods.variants_of(m) if v != m] or [m]  # e.g. mc_dropout1 / mc_dropout2
options.setdefault(f"methods_{model_name}", [m for m in methods.TRAINING_FREE if m in choices])
method_help = "\n\n".join(f"**{m}**: {methods.variant(m).help}" for m in choices)  # only what this model offers
c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
chosen = state.bound(c1.multiselect, "Methods", f"methods_{model_name}", store=CMP, options=choices, help=method_help)
counts = state.bound(c2.multiselect, "Sample counts", "counts", store=CMP, options=[2, 4, 8, 16, 32])
limit = state.bound(c3.number_input, "Max images", "limit", store=CMP, min_value=1, max_value=100)
seed = int(state.bound(c4.number_input, "Seed", "seed", store=CMP, min_value=0, max_value=2**31 - 1))
st.caption("The layer methods start from the setting chosen on Explore or Tolerability (or the model's "
           "recommended one); change them here or tune them on the Tolerability page.")
layer_rows = glue.layers_for(model_name)
labels = {r["name"]: f"{r['name']} · {r['kind']} · {r['shape']}" for r in layer_rows}
if options.get(f"layer_{model_name}") not in labels:
    # start from the current setting when it perturbs a layer, as every page shares one setting
    if methods.spec(setting["method"]).needs_layer and setting["layer"] in labels:
        options[f"layer_{model_name}"] = setting["layer"]
        options[f"strength_{setting['method']}"] = setting["strength"]
    else:
        default_layer = evaluation.default_layer(model)
        options[f"layer_{model_name}"] = default_layer if default_layer in labels else next(iter(labels))
l1, l2, l3 = st.columns([2, 1, 1])
layer = state.bound(l1.selectbox, "Layer (noise / dropout)", f"layer_{model_name}", store=CMP, options=list(labels),
                    format_func=labels.get)
strengths = {m: state.bound(col.number_input, methods.spec(m).strength_name.capitalize(), f"strength_{m}", store=CMP,
                            min_value=0.0, max_value=0.95 if methods.spec(m).feature == methods.FEATURE_DROPOUT else 10.0,
                            format="%.4f")
             for col, m in zip((l2, l3), methods.LAYER_METHODS)}

settings = dict(model=model_name, folder=str(folder), upload=upload_key, methods=tuple(chosen), counts=tuple(counts),
                limit=int(limit), seed=seed, layer=layer, strengths=tuple(strengths.items()))
key = glue.digest("compare", settings)


def compute(report, progress):
    _, pairs = evaluation.load_pairs(folder, model, limit=int(limit))
    return evaluation.evaluate(model, pairs, methods=chosen, samples=sorted(counts), layer=layer,
                               strength=strengths, seed=seed, progress=progress)


rows, _ = glue.run_on_click("Run comparison", "cmp", key, compute, disabled=not chosen or not counts,
                            progress_text="Images × settings done…")
st.subheader("Table (shaped like the paper's Table 1)")
table = evaluation.table_frame(rows)
st.dataframe(table.style.format("{:.4f}", na_rep="–"), width="stretch", height=36 * (len(table) + 1) + 3,
             column_config={"_index": st.column_config.TextColumn("metric", width="medium")})  # full labels, all rows
frame = pd.DataFrame(rows)
metric = state.bound(st.radio, "Bar chart", "metric", store=CMP, options=["ause", "corr", "nll", "nll_scaled"],
                     horizontal=True)
st.plotly_chart(plots.metric_bars(frame, metric), width="stretch", key="cmp_bars")
st.download_button("Rows (CSV)", frame.to_csv(index=False), f"compare_{model_name}.csv", "text/csv", on_click="ignore")
