"""Explore: one image, one method — input, prediction, ground truth, variance, error and the
sparsification curve side by side, drawn live while the samples come in."""

from __future__ import annotations

import numpy as np
import streamlit as st

import uqcore
from ui import glue, session, state
from ui.inputs import display_arrays, is_bundled, pick_input
from uqcore import export, methods, plots
from uqcore.analysis import analyse
from uqcore.sampler import sample_cap

NOISE_STRENGTHS = [float(f"{v:.2g}") for v in np.logspace(-4, 0, 25)]
DROPOUT_RATES = [round(v, 2) for v in np.arange(0.01, 0.91, 0.01)]
UNINFORMATIVE_CORR = 0.05  # at or below this pixel correlation the map does not track the error
DISPLAY = state.page_store("explore_display", dict(colormap="viridis", log_variance=False, shared_scale=False))

setting = session.page_setup()
model_name, method = setting["model"], setting["method"]
model = glue.model_for(model_name)
st.title("Explore")

# -- input --------------------------------------------------------------------------------------
try:
    prepared, input_label = pick_input(model)
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()
st.caption(prepared.note)

# -- controls (bound to the shared setting) ---------------------------------------------------------
c1, c2, c3, c4, c5 = st.columns([1.1, 2.6, 1.6, 1.1, 0.8])
state.bound(c1.selectbox, "Method", "method", options=model.methods,
            help="\n\n".join(f"**{m}**: {methods.HELP[m]}" for m in model.methods))
spec = methods.spec(method)
uses_layer = spec.needs_layer
if uses_layer:
    layer_rows = glue.layers_for(model_name)
    labels = {r["name"]: f"{r['name']} · {r['kind']} · {r['shape']}" for r in layer_rows}
    state.bound(c2.selectbox, "Layer", "layer", options=list(labels), format_func=labels.get,
                help="Injection point: name · layer type · output shape for a probe input")
    log_scale = spec.feature == methods.FEATURE_GAUSSIAN
    grid = NOISE_STRENGTHS if log_scale else DROPOUT_RATES
    state.bound(c3.select_slider, spec.strength_name.capitalize() + (" (log scale)" if log_scale else ""), "strength",
                options=sorted(set(grid) | {setting["strength"]}))
else:
    c2.selectbox("Layer", ["not used by this method"], disabled=True, key="layer_off")
    c3.select_slider("Strength", ["not used"], disabled=True, key="strength_off")
cap = sample_cap(model, method)
drawn = session.samples_to_draw(model, setting)
if cap == 0:
    c4.metric("Samples", "1 pass", help="The likelihood head predicts its variance in one forward pass")
else:
    state.bound(c4.slider, "Samples", "samples", min_value=1, max_value=min(cap, state.MAX_SAMPLES), shown=drawn)
state.bound(c5.number_input, "Seed", "seed", min_value=0, max_value=2**31 - 1, step=1)
note = session.cap_note(model, method)
if note:
    st.caption(note)

with st.expander("Display options (no recomputation)"):
    d1, d2, d3 = st.columns(3)
    state.bound(d1.selectbox, "Colour map", "colormap", store=DISPLAY, options=plots.COLORMAPS)
    state.bound(d2.checkbox, "Log colour scale for variance", "log_variance", store=DISPLAY)
    state.bound(d3.checkbox, "Shared colour scale for variance and error (relative units)", "shared_scale",
                store=DISPLAY)
display = st.session_state[DISPLAY]
depth = setting["task"] == "depth"

# -- compute: cached per setting, drawn live, stoppable -----------------------------------------------
settings = dict(model=model_name, input=input_label, method=method, layer=setting["layer"] if uses_layer else None,
                strength=setting["strength"] if uses_layer else None, samples=drawn, seed=setting["seed"])
key = glue.digest("explore", settings, prepared.x, prepared.target)
shared = is_bundled(model_name)


def compute(report, progress):
    live = st.empty()

    def on_update(so_far, total):
        report(so_far)
        if so_far.samples < total:
            live.plotly_chart(plots.variance_figure(so_far.variance.numpy(), f"variance so far: {so_far.samples} of "
                                                    f"{total} samples", colormap=display["colormap"], depth=depth),
                              width="stretch")

    est = uqcore.estimate(model, prepared.x, method=method, layer=settings["layer"], strength=settings["strength"],
                          samples=max(drawn, 1), seed=settings["seed"], progress=progress, on_update=on_update)
    live.empty()
    return est, analyse(model, est, prepared.target)


try:
    done = glue.lookup(key, shared=shared)
    partial = None if done else glue.stopped_partial(key)
    if done:
        est, result = done
    elif partial is not None:
        est, result = partial, analyse(model, partial, prepared.target)
        glue.resume_button(key, f"Stopped after {est.samples} of {drawn} samples: the maps and numbers below use those.")
    else:
        est, result = glue.run_stoppable(key, compute, shared=shared, label="Sampling…")
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()
v = result.values

# -- a map that does not track the error says so -------------------------------------------------------
corr, aurg = v.get("corr_pixel"), v.get("aurg_pixel")
if result.curve is not None and ((corr is not None and corr <= UNINFORMATIVE_CORR) or (aurg is not None and aurg < 0)):
    with st.container(border=True):
        st.warning(f"This setting's map does not track the error here (pixel correlation {corr:.3f}, AURG {aurg:.3f}: "
                   "no better than random at ranking pixels by error) — try the Tolerability page.", icon="⚠️")
        st.page_link("pages/tolerability.py", label="Tune the perturbation on the Tolerability page",
                     icon=":material/show_chart:")

# -- panels -------------------------------------------------------------------------------------------
model_input, truth = display_arrays(prepared)
panels = plots.panels_figure(result.prediction, result.variance, result.error, model_input=model_input, truth=truth,
                             colormap=display["colormap"], log_variance=display["log_variance"],
                             shared_scale=display["shared_scale"], depth=depth)
st.plotly_chart(panels, width="stretch", key="panels")
curve_col, metrics_col = st.columns([1, 2.2], vertical_alignment="center")
curve_fig = None
if result.curve is not None:
    curve_fig = plots.sparsification_figure(result.curve)
    curve_col.plotly_chart(curve_fig, width="stretch", key="curve")
else:
    curve_col.info(prepared.note)


# -- metrics row ----------------------------------------------------------------------------------
def fmt(name, digits=4):
    value = v.get(name)
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


cells = []
if result.curve is not None:
    cells += [("AUSE pixel", fmt("ause_pixel")), ("AUSE patch", fmt("ause_patch")), ("AUSE block", fmt("ause_block")),
              ("Corr pixel", fmt("corr_pixel", 3)), ("Corr patch", fmt("corr_patch", 3)), ("Corr block", fmt("corr_block", 3)),
              ("NLL", fmt("nll", 3)), ("NLL σ-scaled", fmt("nll_scaled", 3))]
    cells += [("PSNR (Y) dB", fmt("psnr", 2)), ("SSIM (Y)", fmt("ssim", 3))] if not depth else \
        [("abs-rel", fmt("abs_rel", 3)), ("δ<1.25", fmt("delta1", 3))]
else:
    cells += [("mean variance", f"{v['variance_mean']:.3g}")]
cells += [("time", f"{est.seconds:.2f} s"), ("samples", f"{est.samples} of {drawn}" if est.samples < drawn else str(est.samples))]
per_row = 4
with metrics_col:
    for start in range(0, len(cells), per_row):
        for col, (label, value) in zip(st.columns(per_row), cells[start : start + per_row]):
            col.metric(label, value)
notes = ["NLL σ-scaled: variance scale fitted on half the 16×16 tiles (checkerboard), NLL on the other half."]
if not depth and result.curve is not None:
    notes.append("PSNR/SSIM on the Y channel with a border of the scale factor cropped.")
metrics_col.caption(" ".join(notes))

# -- downloads (a click does not rerun the page) ---------------------------------------------------------
stem = f"{model_name}_{method}_{input_label.rsplit('.', 1)[0]}"
record = dict(settings, samples_drawn=est.samples)
d1, d2, d3, d4, d5 = st.columns(5)
d1.download_button("Variance (16-bit PNG)", export.map_png16(result.variance), f"{stem}_variance.png", "image/png",
                   on_click="ignore")
d2.download_button("Variance (.npy)", export.npy_bytes(result.variance.astype(np.float32)), f"{stem}_variance.npy",
                   on_click="ignore")
if result.error is not None:
    d3.download_button("Error map (.npy)", export.npy_bytes(result.error.astype(np.float32)), f"{stem}_error.npy",
                       on_click="ignore")
d4.download_button("Metrics (JSON)", export.metrics_json(v, record), f"{stem}_metrics.json", "application/json",
                   on_click="ignore")
report = export.html_report(f"uqcore — {stem}", record, v, [panels] + ([curve_fig] if curve_fig else []), [prepared.note])
d5.download_button("HTML report", report, f"{stem}_report.html", "text/html", on_click="ignore")
