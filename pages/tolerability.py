"""Tolerability: sweep layers × strengths; loss after perturbation against correlation (Fig. 4),
filled in point by point as the settings finish."""

from __future__ import annotations

import numpy as np
import streamlit as st

import uqcore
import uqcore.datasets.sweep as sweeps
from ui import model_cache, result_cache, run_control, session, state
from ui.inputs import pick_input
from uqcore.engine import methods
from uqcore import plots

NOISE_RANGE = [float(f"{v:.2g}") for v in np.logspace(-4, 0, 25)]
DROPOUT_RANGE = [round(v, 2) for v in np.arange(0.01, 0.91, 0.01)]
TOL = state.page_store("tolerability", dict(method=methods.SWEEP_METHODS[0], noise_range=(0.01, 1.0), drop_range=(0.05, 0.5), count=5,
                                            samples=8, seed=0, tolerance=0.05))

setting = session.page_setup()
model_name = setting["model"]
model = model_cache.model_for(model_name)
st.title("Tolerability")
st.caption("Which perturbation is tolerable? For each layer and strength: the loss after perturbation "
           "against how well the variance tracks the error (the paper's Fig. 4). Pick the highest "
           "correlation whose loss increase stays within your tolerance.")
try:
    prepared, input_label = pick_input(model)
except uqcore.InputError as exc:
    run_control.show_error(exc)
    st.stop()
st.caption(prepared.note)

options = st.session_state[TOL]
layer_rows = model_cache.layers_for(model_name)
layer_names = [r["name"] for r in layer_rows]
labels = {r["name"]: f"{r['name']} · {r['kind']} · {r['shape']}" for r in layer_rows}
layers_field = f"layers_{model_name}"
if not isinstance(options.get(layers_field), list):
    options[layers_field] = [n for n in sweeps.default_layers(model) if n in layer_names]
c1, c2 = st.columns([1, 3])
method = state.bound(c1.radio, "Method", "method", store=TOL, options=list(methods.SWEEP_METHODS), horizontal=True)
layers = state.bound(c2.multiselect, "Layers", layers_field, store=TOL, options=layer_names, format_func=labels.get)
c3, c4, c5, c6 = st.columns([2, 1, 1, 1])
if methods.spec(method).feature == methods.FEATURE_GAUSSIAN:
    low, high = state.bound(c3.select_slider, "Noise std range (log scale)", "noise_range", store=TOL,
                            options=NOISE_RANGE)
    strengths = [float(f"{v:.3g}") for v in np.geomspace(low, high, options["count"])] if low < high else [low]
else:
    low, high = state.bound(c3.select_slider, "Dropout rate range", "drop_range", store=TOL, options=DROPOUT_RANGE)
    strengths = [float(f"{v:.3g}") for v in np.linspace(low, high, options["count"])] if low < high else [low]
state.bound(c4.slider, "Strengths", "count", store=TOL, min_value=2, max_value=8)
samples = state.bound(c5.slider, "Samples", "samples", store=TOL, min_value=2, max_value=32)
seed = int(state.bound(c6.number_input, "Seed", "seed", store=TOL, min_value=0, max_value=2**31 - 1))
st.caption(f"{len(layers)} layers × {len(strengths)} strengths ({', '.join(f'{s:g}' for s in strengths)}) × "
           f"{samples} samples")

settings = dict(model=model_name, input=input_label, method=method, layers=tuple(layers),
                strengths=tuple(strengths), samples=samples, seed=seed)
key = result_cache.digest("sweep", settings, prepared.x, prepared.target)
live = st.empty()


def compute(report, progress):
    done: list[dict] = []

    def on_row(row: dict) -> None:
        done.append(row)
        report(list(done))
        field = "corr_pixel" if row["corr_pixel"] is not None else "variance_mean"
        live.plotly_chart(plots.tolerability_figure(done, y=field, x="loss_increase"), width="stretch")

    rows = sweeps.sweep(model, prepared.x, prepared.target, method=method, layers=layers, strengths=strengths,
                        samples=samples, seed=seed, progress=progress, on_row=on_row)
    live.empty()
    return rows


rows, complete = run_control.run_on_click("Run sweep", "tol", key, compute, disabled=not layers,
                                   progress_text="Settings done…", partial_note="settings finished")
has_truth = rows[0]["corr_pixel"] is not None
y_field = "corr_pixel" if has_truth else "variance_mean"
if not has_truth:
    st.info("No ground truth: the loss is measured against the unperturbed output and the correlation "
            "axis is replaced by the variance magnitude (mean variance), since the error is unknown.")

tolerance = state.bound(st.slider, "Tolerance: maximum relative loss increase", "tolerance", store=TOL,
                        min_value=0.0, max_value=0.5, step=0.01, format="%.2f")
best = sweeps.recommend(rows, tolerance=tolerance)
left, right = st.columns(2)
left.plotly_chart(plots.tolerability_figure(rows, y=y_field, x="loss", highlight=best), width="stretch",
                  key="tol_fig_loss")
right.plotly_chart(plots.tolerability_figure(rows, y=y_field, x="loss_increase", highlight=best, tolerance=tolerance),
                   width="stretch", key="tol_fig_increase")
st.plotly_chart(plots.heatmap_figure(rows, value=y_field), width="stretch", key="tol_heatmap")

if best is None:
    st.warning(f"No setting keeps the loss increase within {tolerance:.0%}; raise the tolerance or use weaker strengths.")
else:
    value = best[y_field]
    st.success(f"Recommended: **{method}** at **{best['layer']}**, strength **{best['strength']:g}** — "
               f"{y_field.replace('_', ' ')} {value:.3f}, loss increase {best['loss_increase']:.1%}.")
    if st.button("Use this setting on the Explore page", key="tol_carry", type="primary"):
        state.update(method=method, layer=best["layer"], strength=float(best["strength"]), samples=samples, seed=seed)
        st.switch_page("pages/explore.py")
with st.expander("All rows"):
    st.dataframe(rows, width="stretch")
