"""Explore: one image, one method — input, prediction, ground truth, variance, error and the
sparsification curve side by side, drawn live while the samples come in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import streamlit as st

import uqcore
from ui import calibration as current_cal
from ui import keys, model_cache, region, result_cache, run_control, session, state
from ui.inputs import current_input, display_arrays, input_widgets, is_bundled
from ui.metric_row import metric_row
from uqcore.plots import export
from uqcore.engine import methods
from uqcore import plots
from uqcore.plots import maps as plots_maps
from uqcore.datasets.analysis import analyse
from uqcore.engine.moments import block_reliability
from uqcore.engine.estimate import DEFAULT_MAX_SAMPLES, DEFAULT_TARGET, sample_cap

NOISE_STRENGTHS = [float(f"{v:.2g}") for v in np.logspace(-4, 0, 25)]
DROPOUT_RATES = [round(v, 2) for v in np.arange(0.01, 0.91, 0.01)]
METRIC_WIDTH = 140  # pixels per metrics cell
UNINFORMATIVE_CORR = 0.05  # at or below this pixel correlation the map does not track the error
DISPLAY = state.page_store("explore_display", dict(colormap="viridis", log_variance=False, shared_scale=False))



@dataclass(frozen=True)
class Page:
    """What the parts of the page draw from: the setting, its model and method, the layout's boxes,
    and (once known) the input, the estimate's settings and its result key."""

    setting: dict
    model_name: str
    method: str
    model: Any
    spec: Any
    drawn: int
    display: dict
    depth: bool
    boxes: tuple  # (input, controls, output): the layout, top to bottom
    prepared: Any = None
    input_label: str | None = None
    settings: dict | None = None  # of the estimate: model, input, method, layer, strength, samples, seed
    key: str | None = None  # the whole-image result's
    shared: bool = False  # a bundled model on a bundled sample: results shared between sessions
    shape: tuple | None = None  # the output's (height, width)


def draw_controls(page: Page) -> None:
    model, spec, setting, drawn = page.model, page.spec, page.setting, page.drawn
    c1, c2, c3, c4, c5 = st.columns([1.1, 2.6, 1.6, 1.1, 0.8])
    choices, method_help = session.method_options(model)
    state.bound(c1.selectbox, "Method", "method", options=choices, help=method_help)
    if spec.needs_layer:
        labels = {r["name"]: f"{r['name']} · {r['kind']} · {r['shape']}" for r in model_cache.layers_for(page.model_name)}
        state.bound(c2.selectbox, "Layer", "layer", options=list(labels), format_func=labels.get,
                    help="Injection point: name · layer type · output shape for a probe input")
        log_scale = spec.feature == methods.FEATURE_GAUSSIAN
        grid = NOISE_STRENGTHS if log_scale else DROPOUT_RATES
        state.bound(c3.select_slider, spec.strength_name.capitalize() + (" (log scale)" if log_scale else ""),
                    "strength", options=sorted(set(grid) | {setting["strength"]}))
    else:
        c2.selectbox("Layer", ["not used by this method"], disabled=True, key="layer_off")
        c3.select_slider("Strength", ["not used"], disabled=True, key="strength_off")
    cap = sample_cap(model, page.method)
    if cap == 0:
        c4.metric("Samples", "1 pass", help=f"{spec.label}: the variance comes from the same forward pass as the "
                  "prediction (no samples)")
    else:
        state.bound(c4.slider, "Samples", "samples", min_value=1, max_value=min(cap, state.MAX_SAMPLES), shown=drawn,
                    disabled=setting["auto"])
        state.bound(c4.toggle, "Auto", "auto", help=f"Draw in rounds until the variance map's split-half reliability "
                    f"reaches {DEFAULT_TARGET:g} (at most {DEFAULT_MAX_SAMPLES} samples)")
    state.bound(c5.number_input, "Seed", "seed", min_value=0, max_value=2**31 - 1, step=1)
    note = session.cap_note(model, page.method) or session.student_note(model, page.method)
    if note:
        st.caption(note)
    # in a popover, drawn when it is opened: three widgets fewer to draw on every first view
    with st.popover("Display options", icon=":material/palette:", help="Colour map and scales of the maps; changing "
                    "them redraws the panels without recomputing the estimate"):
        state.bound(st.selectbox, "Colour map", "colormap", store=DISPLAY, options=plots.COLORMAPS)
        state.bound(st.checkbox, "Log colour scale for variance", "log_variance", store=DISPLAY)
        state.bound(st.checkbox, "Shared colour scale for variance and error (relative units)", "shared_scale",
                    store=DISPLAY)


def draw_inputs_and_controls(page: Page, chosen) -> None:
    """The sidebar, the input widgets and the controls: every run draws them once, after a stored
    result or before a computation."""
    input_box, controls_box, _ = page.boxes
    with input_box:
        input_widgets(page.model)
        if chosen is not None:
            st.caption(chosen[0].note)
    with controls_box:
        draw_controls(page)


def with_input(page: Page, prepared, input_label: str) -> Page:
    """``page`` with its input, the estimate's settings and the whole-image result key."""
    setting, uses_layer, drawn = page.setting, page.spec.needs_layer, page.drawn
    settings = dict(model=page.model_name, input=input_label, method=page.method,
                    layer=setting["layer"] if uses_layer else None, strength=setting["strength"] if uses_layer else None,
                    samples="auto" if setting["auto"] and drawn > 0 else drawn, seed=setting["seed"])
    key = result_cache.digest("explore", settings, prepared.x, prepared.target, model_cache.head_token(page.model_name))
    return replace(page, prepared=prepared, input_label=input_label, settings=settings, key=key,
                   shared=is_bundled(page.model_name), shape=region.output_shape(page.model, prepared.x))


def compute(page: Page, report, progress, **where):
    """The estimate and its analysis; ``where``: ``region=`` (the inspected box) or ``tile=`` (the
    whole image in tiles), passed to ``uqcore.estimate``."""
    model, prepared, settings, display, depth = page.model, page.prepared, page.settings, page.display, page.depth
    live = st.empty()

    def on_update(so_far, total):
        report(so_far)
        if "tile" in where:  # the whole image filling in: the tiles done so far, NaN elsewhere
            live.plotly_chart(plots.variance_figure(so_far.variance.numpy(), f"whole image so far: "
                                                    f"{getattr(so_far, 'tiles', '?')} tiles done", colormap=display[
                                                        "colormap"], depth=depth, max_side=128), width="stretch")
        elif so_far.samples < total:
            live.plotly_chart(plots.variance_figure(so_far.variance.numpy(), f"variance so far: {so_far.samples} of "
                                                    f"{total} samples", colormap=display["colormap"], depth=depth),
                              width="stretch")

    est = uqcore.estimate(model, prepared.x, method=page.method, layer=settings["layer"], strength=settings["strength"],
                          samples=settings["samples"] if settings["samples"] == "auto" else max(page.drawn, 1),
                          seed=settings["seed"], progress=progress, on_update=on_update, **where)
    live.empty()
    target = prepared.target
    if "region" in where and target is not None:
        target = region.crop(target, where["region"])
    return est, analyse(model, est, target)


def draw_result(page: Page, est, result, final: bool = True, box=None, result_key: str | None = None) -> None:
    """Warning (if the map does not track the error), panels with the curve, metrics, downloads.
    ``final``: the stored result for ``result_key`` (not a stopped run's partial one), so its
    panels figure is kept with it for the next run or visitor. ``box``: the estimate covers
    this region of a large output (shown at full resolution, its input and ground truth cut to it)."""
    model, prepared, display, shape = page.model, page.prepared, page.display, page.shape
    v = result.values
    corr, aurg = v.get("corr_pixel"), v.get("aurg_pixel")
    if result.curve is not None and (corr <= UNINFORMATIVE_CORR or aurg < 0):
        with st.container(border=True):
            st.warning(f"This setting's map does not track the error here (pixel correlation {corr:.3f}, AURG "
                       f"{aurg:.3f}: no better than random at ranking pixels by error) — try the Tolerability page.",
                       icon="⚠️")
            st.page_link("pages/tolerability.py", label="Tune the perturbation on the Tolerability page",
                         icon=":material/show_chart:")
    model_input, truth = display_arrays(prepared)
    target = prepared.target
    if box is not None:
        model_input, truth = region.crop(model_input, box, model.scale), truth if truth is None else region.crop(truth, box)
        target = target if target is None else region.crop(target, box)
        st.markdown(f"**Inspecting {region.describe(box, shape)} at full resolution (1:1)**")
    try:
        view, refused = current_cal.interval_view(model, est, target, page.input_label)
    except uqcore.InputError as exc:
        view, refused = None, str(exc)
    if refused:
        draw_refusal(refused)

    def build_panels():
        return plots.panels_figure(result.prediction, result.variance, result.error, model_input=model_input,
                                   truth=truth, colormap=display["colormap"], log_variance=display["log_variance"],
                                   shared_scale=display["shared_scale"], depth=page.depth,
                                   interval_width=None if view is None else view.width,
                                   outside=None if view is None else view.outside,
                                   level=None if view is None else view.calibration.level, curve=result.curve)

    if final and view is None:  # encoding the pictures is most of a later run's server time
        panels = result_cache.cached_result(result_cache.digest("panels", result_key or page.key, sorted(display.items())),
                                            build_panels, shared=page.shared, store_name=keys.FIGURES)
    else:
        panels = build_panels()
    st.plotly_chart(panels, width="stretch", key="panels")
    if result.alignment:  # a relative-depth model: every map and number is of the aligned prediction
        st.info(f"Aligned: {result.alignment}.", icon=":material/straighten:")
    elif getattr(model, "depth_kind", "metric") != "metric":
        st.caption(f"{model.depth_kind} depth, shown as the model gives it (up to scale and shift); with ground "
                   "truth it is aligned before the error and metrics.")
    if view is not None:
        draw_interval_note(view)
    if result.curve is None:
        st.info(prepared.note)
    draw_metrics(page, est, result, view, scope=None if box is None else f"{region.describe(box, shape)} (1:1)")
    draw_reliability(est)
    draw_downloads(page, est, result, [panels], view, suffix="" if box is None else "_region")


def fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def draw_refusal(reason: str) -> None:
    """A calibration is in use but not for this model or setting: say so, never apply it."""
    with st.container(border=True):
        st.warning(f"The calibration in use is not applied here: {reason}", icon=":material/block:")
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.page_link("pages/compare.py", label="Fit one for this setting on the Compare page (Calibrated error bars)",
                       icon=":material/table_chart:")
        right.button("Stop using it", key="cal_forget_explore", on_click=current_cal.forget)


def draw_interval_note(view) -> None:
    cal = view.calibration
    text = f"Calibrated error bars: {current_cal.describe(cal)}."
    if view.outside is not None:
        text += " Outside the interval: the fraction of the pixel's values (channels) outside it."
    if view.in_sample:
        text += " This image is one of the calibration images, so its coverage here is in-sample."
    st.caption(text)


def interval_cells(view, depth: bool) -> list[tuple[str, ...]]:
    """The calibration's cells of the metrics row (label, value, help): coverage and ENCE (with
    ground truth), mean interval width."""
    level, unit = f"{view.calibration.level * 100:g}%", "m" if depth else "intensity"
    v = view.values
    cells = []
    if "coverage" in v:
        cells.append((f"Coverage ({level})", f"{v['coverage']:.1%}",
                      f"Fraction of the image's values inside the calibrated {level} interval"))
    cells.append(("Interval width", f"{v['interval_width']:.4g}", f"Mean width (upper − lower) in {unit}"))
    if "ence_calibrated" in v:
        cells += [("ENCE raw", f"{v['ence']:.3f}", "ENCE of the raw variance (10 equal-count bins)"),
                  ("ENCE calibrated", f"{v['ence_calibrated']:.3f}", "ENCE of the calibrated variance")]
    return cells


def draw_metrics(page: Page, est, result, view=None, scope: str | None = None) -> None:
    """The metrics row; ``scope``: what it describes (a region, or the whole image) where the page
    shows both."""
    depth, drawn = page.depth, page.drawn
    v = result.values
    if scope:
        st.caption(f"Metrics of the {scope}")
    if result.curve is not None:
        cells = [(f"AUSE {lv}", fmt(v.get(f"ause_{lv}"))) for lv in ("pixel", "patch", "block")]
        cells += [(f"Corr {lv}", fmt(v.get(f"corr_{lv}"), 3)) for lv in ("pixel", "patch", "block")]
        cells += [("NLL", fmt(v.get("nll"), 3)), ("NLL σ-scaled", fmt(v.get("nll_scaled"), 3))]
        cells += [("abs-rel", fmt(v.get("abs_rel"), 3)), ("δ<1.25", fmt(v.get("delta1"), 3))] if depth else \
            [("PSNR (Y) dB", fmt(v.get("psnr"), 2)), ("SSIM (Y)", fmt(v.get("ssim"), 3))]
    else:
        cells = [("mean variance", f"{v['variance_mean']:.3g}")]
    if view is not None:
        cells += interval_cells(view, depth)
    cells += [("time", f"{est.seconds:.2f} s"),
              ("samples", f"{est.samples} (auto)" if page.settings["samples"] == "auto" else
               f"{est.samples} of {drawn}" if est.samples < drawn else str(est.samples) if est.samples else "0 (one pass)")]
    metric_row(cells, width=METRIC_WIDTH)
    notes = ["NLL σ-scaled: variance scale fitted on half the 16×16 tiles (checkerboard), NLL on the other half."]
    if not depth and result.curve is not None:
        notes.append("PSNR/SSIM on the Y channel with a border of the scale factor cropped.")
    st.caption(" ".join(notes))


def draw_reliability(est, block: int = 1) -> None:
    """How steady the map is: its split-half reliability, and the trace over the samples drawn.
    ``block`` > 1: the map is shown as block×block means (an overview), and the figure is that of
    the block-mean map (uqcore.engine.moments.block_reliability), with the pixel map's beside it."""
    shown = est.reliability
    if block > 1 and est.halves is not None:
        shown = block_reliability(*est.halves, block)
    if shown is None:
        return
    what = "Map reliability" if block == 1 else f"Overview reliability ({block}×{block} block means)"
    if est.reliability_target is not None:
        text = f"{what} {shown:.2f} after {est.samples} samples (Auto, target {est.reliability_target:g})."
    else:
        text = f"{what} {shown:.2f} at {est.samples} samples."
        if shown < DEFAULT_TARGET:
            text += f" Below {DEFAULT_TARGET:g}: more samples (or Auto) would give a steadier map."
    if block > 1 and est.reliability is not None:
        text += f" At full resolution (every pixel): {est.reliability:.2f}."
    st.caption(text + " Reliability: the rank correlation expected between this map and one drawn again with as many "
               "samples (split-half, Spearman–Brown).")
    if est.reliability_target is not None and len(est.trace) > 1:  # Auto: how it got there
        st.plotly_chart(plots.reliability_figure(est.trace, est.reliability_target), width="stretch", key="trace")


def draw_downloads(page: Page, est, result, figures, view=None, suffix: str = "") -> None:
    """Maps, metrics (with a matching calibration's coverage, width, ENCE) and a self-contained
    report; a click does not rerun the page."""
    stem = f"{page.model_name}_{page.method}_{page.input_label.rsplit('.', 1)[0]}{suffix}"
    record = dict(page.settings, samples_drawn=est.samples)
    values = dict(result.values)
    if view is not None:
        values.update(view.values)
        record["calibration"] = view.calibration.summary()
    # In a popover, drawn when it is opened: five buttons fewer for the browser to draw on every view.
    # Each file is made when its button is clicked (a callable), not on every rerun: the report alone
    # is megabytes, and eager files are fetched by the browser while the page is still drawing.
    row = st.popover("Downloads", icon=":material/download:")
    variance, error = result.variance, result.error
    row.download_button("Variance (16-bit PNG)", lambda: export.map_png16(variance), f"{stem}_variance.png",
                        "image/png", on_click="ignore")
    row.download_button("Variance (.npy)", lambda: export.npy_bytes(variance.astype(np.float32)),
                        f"{stem}_variance.npy", on_click="ignore")
    if error is not None:
        row.download_button("Error map (.npy)", lambda: export.npy_bytes(error.astype(np.float32)),
                            f"{stem}_error.npy", on_click="ignore")
    row.download_button("Metrics (JSON)", lambda: export.metrics_json(values, record), f"{stem}_metrics.json",
                        "application/json", on_click="ignore")
    row.download_button("HTML report", lambda: export.html_report(f"uqcore — {stem}", record, values, figures,
                                                                  [page.prepared.note, result.alignment]),
                        f"{stem}_report.html", "text/html", on_click="ignore")


def show_or_run(page: Page, result_key: str, label: str, *, box=None, **where) -> tuple | None:
    """The stored result for ``result_key``, a stopped run's partial one (with the button to run
    it to the end), or a run of it under a Stop button; drawn (the region's panels, or the whole
    image's overview when ``where`` has ``tile``). None after an InputError (shown)."""
    prepared, shared = page.prepared, page.shared
    try:
        found = result_cache.lookup(result_key, shared=shared)
        final = found is not None
        if found is None:
            stopped = run_control.stopped_partial(result_key)
            if stopped is None and "tile" in where and run_control.stopped_early(result_key):
                run_control.resume_button(result_key, "Stopped before the first tile was done: nothing of the whole image "
                                   "yet.")
                return None
            if stopped is not None:
                tiles = getattr(stopped, "tiles", None)
                run_control.resume_button(result_key, f"Stopped after {tiles} tile{'s' * (tiles != 1)}: the rest of the image "
                                   "is empty, and the error metrics wait for the whole image." if "tile" in where else
                                   f"Stopped after {stopped.samples} of at most {page.drawn} samples: the maps and "
                                   "numbers below use those.")
                target = None if "tile" in where or prepared.target is None else \
                    prepared.target if box is None else region.crop(prepared.target, box)
                found = stopped, analyse(page.model, stopped, target)
            else:
                found = run_control.run_stoppable(result_key, lambda r, p: compute(page, r, p, **where), shared=shared,
                                                  label=label)
                final = True
    except uqcore.InputError as exc:
        run_control.show_error(exc)
        return None
    if "tile" in where:
        draw_overview(page, *found, box=box)
    else:
        draw_result(page, *found, final=final, box=box, result_key=result_key)
    return found


def draw_overview(page: Page, est, result, box) -> None:
    """The whole image as block means with the inspected region ``box`` outlined; a box drawn on it
    picks the next region. Its metrics row and reliability describe the whole image."""
    shape, model = page.shape, page.model
    st.markdown(f"**Overview of the whole {shape[1]}×{shape[0]} output**")
    fig = plots_maps.overview_figure(result.prediction, result.variance, result.error, region=box,
                                     colormap=page.display["colormap"], depth=page.depth)
    st.plotly_chart(fig, width="stretch", key=region.OVERVIEW_KEY, on_select=lambda: region.on_select(shape, model.scale),
                    selection_mode="box")
    if st.session_state[state.SETTING].get("region") is not None:
        st.button("Back to the centre view", key="region_reset", on_click=state.update, kwargs=dict(region=None))
    draw_metrics(page, est, result, scope=f"whole {shape[1]}×{shape[0]} image (every pixel; the overview shows block means)")
    draw_reliability(est, block=int((fig.layout.meta or {}).get("display_factor", 1)))
    draw_downloads(page, est, result, [fig])


def draw_large(page: Page, chosen) -> None:
    """Region first: the region shown at 1:1 is computed (and drawn) before the whole image, which
    then fills in tile by tile under its own Stop button."""
    output_box = page.boxes[2]
    box = region.current(page.shape, page.model.scale)
    region_key = result_cache.digest("explore_region", page.key, box)
    if result_cache.lookup(region_key, shared=page.shared) is not None:
        with output_box:
            show_or_run(page, region_key, "Region…", box=box, region=box)
        draw_inputs_and_controls(page, chosen)
    else:
        draw_inputs_and_controls(page, chosen)
        with output_box:
            show_or_run(page, region_key, "Sampling the region shown…", box=box, region=box)
    with output_box:
        show_or_run(page, page.key, "Whole image, tile by tile…", box=box, tile=region.TILE)


def draw_whole(page: Page, chosen) -> None:
    """An output that fits the view: a stored result is sent before the controls; otherwise the
    controls, then the run (or a stopped run's partial result)."""
    output_box = page.boxes[2]
    done = result_cache.lookup(page.key, shared=page.shared)
    if done:
        with output_box:
            draw_result(page, *done)
        draw_inputs_and_controls(page, chosen)
        return
    draw_inputs_and_controls(page, chosen)
    with output_box:
        try:
            stopped = run_control.stopped_partial(page.key)
            if stopped is not None:
                run_control.resume_button(page.key, f"Stopped after {stopped.samples} of at most {page.drawn} samples: "
                                          "the maps and numbers below use those.")
                draw_result(page, stopped, analyse(page.model, stopped, page.prepared.target), final=False)
            else:
                draw_result(page, *run_control.run_stoppable(page.key, lambda r, p: compute(page, r, p), shared=page.shared,
                                                             label="Sampling…"))
        except uqcore.InputError as exc:
            run_control.show_error(exc)


# -- the page, top to bottom -----------------------------------------------------------------------
setting = session.page_setup()
model = model_cache.model_for(setting["model"])
st.title("Explore")
# The layout, top to bottom; what fills it comes from the setting, so a stored result can be sent
# before the controls (the browser then starts loading the chart code first).
page = Page(setting=setting, model_name=setting["model"], method=setting["method"], model=model,
            spec=methods.spec(setting["method"]), drawn=session.samples_to_draw(model, setting),
            display=st.session_state[DISPLAY], depth=setting["task"] == "depth",
            boxes=(st.container(), st.container(), st.container()))
try:
    chosen = current_input(model)
except uqcore.InputError as exc:
    draw_inputs_and_controls(page, None)
    run_control.show_error(exc)
    st.stop()
if chosen is None:  # nothing uploaded yet: the uploaders say what to do
    draw_inputs_and_controls(page, None)
    st.stop()
page = with_input(page, *chosen)
if region.is_large(page.shape) and region.supports_regions(model):
    draw_large(page, chosen)
else:
    draw_whole(page, chosen)
