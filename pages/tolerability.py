"""Tolerability: sweep layers × strengths; loss after perturbation against correlation (Fig. 4)."""

from __future__ import annotations

import numpy as np
import streamlit as st

import uqcore
import uqcore.tolerability as sweeps
from pages import glue
from pages.inputs import pick_input
from uqcore import plots

NOISE_RANGE = [float(f"{v:.2g}") for v in np.logspace(-4, 0, 25)]

task, model_name = glue.sidebar()
st.title("Tolerability")
st.caption("Which perturbation is tolerable? For each layer and strength: the loss after perturbation "
           "against how well the variance tracks the error (the paper's Fig. 4). Pick the highest "
           "correlation whose loss increase stays within your tolerance.")
try:
    model = glue.model_for(model_name)
    prepared, input_label = pick_input(task, model, "tol")
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()
st.caption(prepared.note)

layer_rows = glue.layers_for(model_name)
layer_names = [r["name"] for r in layer_rows]
labels = {r["name"]: f"{r['name']} · {r['kind']} · {r['shape']}" for r in layer_rows}
c1, c2 = st.columns([1, 3])
method = c1.radio("Method", ["noise", "dropout"], horizontal=True, key="tol_method")
layers_key = f"tol_layers_{model_name}"
if layers_key not in st.session_state:
    st.session_state[layers_key] = [n for n in sweeps.default_layers(model) if n in layer_names]
layers = c2.multiselect("Layers", layer_names, key=layers_key, format_func=labels.get)
c3, c4, c5, c6 = st.columns([2, 1, 1, 1])
if method == "noise":
    low, high = c3.select_slider("Noise std range (log scale)", NOISE_RANGE, value=(0.01, 1.0), key="tol_noise_range")
    count = c4.slider("Strengths", 2, 8, 5, key="tol_count")
    strengths = [float(f"{v:.3g}") for v in np.geomspace(low, high, count)] if low < high else [low]
else:
    low, high = c3.slider("Dropout rate range", 0.01, 0.9, (0.05, 0.5), step=0.01, key="tol_drop_range")
    count = c4.slider("Strengths", 2, 8, 5, key="tol_count")
    strengths = [float(f"{v:.3g}") for v in np.linspace(low, high, count)] if low < high else [low]
samples = c5.slider("Samples", 2, 32, 8, key="tol_samples")
seed = int(c6.number_input("Seed", 0, 2**31 - 1, 0, key="tol_seed"))
st.caption(f"{len(layers)} layers × {len(strengths)} strengths ({', '.join(f'{s:g}' for s in strengths)}) × "
           f"{samples} samples")

settings = dict(model=model_name, input=input_label, method=method, layers=tuple(layers),
                strengths=tuple(strengths), samples=samples, seed=seed)
key = glue.digest("sweep", settings, prepared.x, prepared.target)


def compute(progress):
    return sweeps.sweep(model, prepared.x, prepared.target, method=method, layers=layers, strengths=strengths,
                        samples=samples, seed=seed, progress=progress)


rows = glue.run_on_click("Run sweep", "tol", key, compute, disabled=not layers, progress_text="Settings done…")
has_truth = rows[0]["corr_pixel"] is not None
y_field = "corr_pixel" if has_truth else "variance_mean"
if not has_truth:
    st.info("No ground truth: the loss is measured against the unperturbed output and the correlation "
            "axis is replaced by the variance magnitude (mean variance), since the error is unknown.")

tolerance = st.slider("Tolerance: maximum relative loss increase", 0.0, 0.5, 0.05, step=0.01, format="%.2f",
                      key="tol_tolerance")
best = sweeps.recommend(rows, tolerance=tolerance)
left, right = st.columns(2)
left.plotly_chart(plots.tolerability_figure(rows, y=y_field, x="loss", highlight=best), width="stretch",
                  key="tol_fig_loss")
right.plotly_chart(plots.tolerability_figure(rows, y=y_field, x="loss_increase", highlight=best), width="stretch",
                   key="tol_fig_increase")
st.plotly_chart(plots.heatmap_figure(rows, value=y_field), width="stretch", key="tol_heatmap")

if best is None:
    st.warning(f"No setting keeps the loss increase within {tolerance:.0%}; raise the tolerance or use weaker strengths.")
else:
    value = best[y_field]
    st.success(f"Recommended: **{method}** at **{best['layer']}**, strength **{best['strength']:g}** — "
               f"{y_field.replace('_', ' ')} {value:.3f}, loss increase {best['loss_increase']:.1%}.")
    if st.button("Use this setting on the Explore page", key="tol_carry"):
        st.session_state["explore_carry"] = dict(model=model_name, method=method, layer=best["layer"],
                                                 strength=float(best["strength"]))
        st.switch_page("pages/explore.py")
with st.expander("All rows"):
    st.dataframe(rows, width="stretch")
