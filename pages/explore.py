"""Explore: one image, one method — prediction, variance, error and sparsification side by side."""

from __future__ import annotations

import numpy as np
import streamlit as st

import uqcore
from pages import glue
from uqcore import export, plots
from pages.inputs import pick_input
from uqcore.analysis import analyse

NOISE_STRENGTHS = [float(f"{v:.2g}") for v in np.logspace(-4, 0, 25)]
METHOD_HELP = {
    "transform": "infer-transformation: rotations/flips of the input, inverted on the output (black box)",
    "noise": "infer-noise: Gaussian noise added to one layer's output",
    "dropout": "infer-dropout: dropout applied to one layer's output at inference",
    "mc_dropout": "MC-dropout: the model's own dropout layers switched on (baseline, needs training)",
    "ensemble": "deep ensemble: one output per member (baseline, needs training)",
    "llm": "likelihood head: the model predicts its own variance (baseline, needs training)",
}
LAYER_METHODS = ("noise", "dropout")

task, model_name = glue.sidebar()
st.title("Explore")
try:
    model = glue.model_for(model_name)
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()

# -- a setting carried over from the Tolerability page ----------------------------------------
carry = st.session_state.get("explore_carry")
if carry and carry.get("model") == model_name:
    st.session_state["method"] = carry["method"]
    st.session_state[f"layer_{model_name}"] = carry["layer"]
    st.session_state[f"strength_{carry['method']}"] = carry["strength"]
    st.session_state["explore_carry"] = None
    st.toast(f"Using {carry['method']} at {carry['layer']}, strength {carry['strength']:g} from the Tolerability page")

# -- input --------------------------------------------------------------------------------------
try:
    prepared, input_label = pick_input(task, model, "explore")
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()
st.caption(prepared.note)

# -- controls -----------------------------------------------------------------------------------
methods = model.methods
if st.session_state.get("method") not in methods:
    st.session_state["method"] = methods[0]
c1, c2, c3, c4, c5 = st.columns([1.2, 2.2, 1.6, 1.2, 0.8])
method = c1.selectbox("Method", methods, key="method", help="\n\n".join(f"**{m}**: {METHOD_HELP[m]}" for m in methods))
layer_rows = glue.layers_for(model_name)
layer_names = [r["name"] for r in layer_rows]
labels = {r["name"]: f"{r['name']} · {r['kind']} · {r['shape']}" for r in layer_rows}
layer_key = f"layer_{model_name}"
if st.session_state.get(layer_key) not in layer_names and layer_names:
    st.session_state[layer_key] = layer_names[len(layer_names) // 2]
layer = c2.selectbox("Layer", layer_names, key=layer_key, format_func=labels.get,
                     disabled=method not in LAYER_METHODS, help="Injection point (output shape for a probe input)")
strength = None
if method == "noise":
    st.session_state.setdefault("strength_noise", 0.01)
    if st.session_state["strength_noise"] not in NOISE_STRENGTHS:
        st.session_state["strength_noise"] = min(NOISE_STRENGTHS, key=lambda v: abs(np.log(v) - np.log(max(st.session_state["strength_noise"], 1e-6))))
    strength = c3.select_slider("Noise std (log scale)", NOISE_STRENGTHS, key="strength_noise")
elif method == "dropout":
    st.session_state.setdefault("strength_dropout", 0.1)
    strength = c3.slider("Dropout rate", 0.01, 0.9, step=0.01, key="strength_dropout")
else:
    c3.slider("Strength", 0.0, 1.0, 0.0, disabled=True, help="Not used by this method", key="strength_off")
samples = c4.slider("Samples", 1, 64, 8, key="samples")
seed = int(c5.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="seed"))

with st.expander("Display options (no recomputation)"):
    d1, d2, d3 = st.columns(3)
    colormap = d1.selectbox("Colour map", plots.COLORMAPS, key="colormap")
    log_variance = d2.checkbox("Log colour scale for variance", key="log_variance")
    shared_scale = d3.checkbox("Shared colour scale (variance and error, relative units)", key="shared_scale")

# -- compute (cached per session) ---------------------------------------------------------------
settings = dict(model=model_name, input=input_label, method=method,
                layer=layer if method in LAYER_METHODS else None, strength=strength, samples=samples, seed=seed)
key = glue.digest("explore", settings, prepared.x, prepared.target)


def compute():
    bar = st.progress(0.0, text="Sampling…")
    try:
        est = uqcore.estimate(model, prepared.x, method=method, layer=settings["layer"], strength=strength,
                              samples=samples, seed=seed, progress=glue.progress_callback(bar, "Sampling"))
        bar.progress(1.0, text="Scoring…")
        return est, analyse(model, est, prepared.target)
    finally:
        bar.empty()


try:
    est, result = glue.cached_result(key, compute, shared=glue.is_bundled(model_name, "explore"))
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()

# -- output row -----------------------------------------------------------------------------------
panel_col, curve_col = st.columns([3, 1]) if result.curve is not None else (st.container(), None)
panels = plots.panels_figure(result.prediction, result.variance, result.error, colormap=colormap,
                             log_variance=log_variance, shared_scale=shared_scale, depth=task == "depth")
panel_col.plotly_chart(panels, width="stretch", key="panels")
curve_fig = None
if curve_col is not None:
    curve_fig = plots.sparsification_figure(result.curve)
    curve_col.plotly_chart(curve_fig, width="stretch", key="curve")
else:
    st.info(prepared.note)

# -- metrics row ----------------------------------------------------------------------------------
v = result.values


def fmt(name, digits=4):
    value = v.get(name)
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


cells = []
if result.curve is not None:
    cells += [("AUSE pixel", fmt("ause_pixel")), ("AUSE patch", fmt("ause_patch")), ("AUSE block", fmt("ause_block")),
              ("Corr pixel", fmt("corr_pixel", 3)), ("Corr patch", fmt("corr_patch", 3)), ("Corr block", fmt("corr_block", 3)),
              ("NLL", fmt("nll", 3)), ("NLL σ-scaled", fmt("nll_scaled", 3))]
    if task == "sr":
        cells += [("PSNR (Y) dB", fmt("psnr", 2)), ("SSIM (Y)", fmt("ssim", 3))]
    else:
        cells += [("abs-rel", fmt("abs_rel", 3)), ("δ<1.25", fmt("delta1", 3))]
else:
    cells += [("mean variance", f"{v['variance_mean']:.3g}")]
cells += [("time", f"{est.seconds:.2f} s"), ("samples", str(est.samples))]
per_row = 6
for start in range(0, len(cells), per_row):
    for col, (label, value) in zip(st.columns(per_row), cells[start : start + per_row]):
        col.metric(label, value)
st.caption("NLL σ-scaled: variance scale fitted on half the 16×16 tiles (checkerboard), NLL on the other half. "
           "PSNR/SSIM on the Y channel with a border of the scale factor cropped.")

# -- downloads ------------------------------------------------------------------------------------
stem = f"{model_name}_{method}_{input_label.rsplit('.', 1)[0]}"
d1, d2, d3, d4, d5 = st.columns(5)
d1.download_button("Variance (16-bit PNG)", export.map_png16(result.variance), f"{stem}_variance.png", "image/png")
d2.download_button("Variance (.npy)", export.npy_bytes(result.variance.astype(np.float32)), f"{stem}_variance.npy")
if result.error is not None:
    d3.download_button("Error map (.npy)", export.npy_bytes(result.error.astype(np.float32)), f"{stem}_error.npy")
d4.download_button("Metrics (JSON)", export.metrics_json(v, settings), f"{stem}_metrics.json", "application/json")
report = export.html_report(f"uqcore — {stem}", settings, v, [panels] + ([curve_fig] if curve_fig else []), [prepared.note])
d5.download_button("HTML report", report, f"{stem}_report.html", "text/html")
