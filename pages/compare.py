"""Compare: methods × sample counts on a set of images — the paper's Tables 1 and 2 — and, in a
second tab, calibrated error bars: fit a calibration on the set, check it, keep it for
Explore."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import uqcore
from ui import calibration as current_cal
from ui import gallery, model_cache, result_cache, run_control, session, state
from uqcore import limits
from uqcore.datasets.evaluate import evaluate
from uqcore.datasets.folders import list_pair_files, load_pairs
from uqcore.engine.layers import default_layer
from uqcore.engine import methods
from uqcore import plots
from uqcore.plots import maps as plots_maps
from uqcore.scoring import summary_ci
from uqcore.datasets.analysis import method_maps
from uqcore.calibration.intervals import KINDS
from uqcore.calibration.check import IN_SAMPLE, fit_and_check

VIEWS = ("Methods", "Calibrated error bars")
KIND_LABELS = {"conformal": "conformal", "isotonic": "isotonic", "sigma": "σ-scaling", "risk": "risk control"}
KIND_HELP = ("**conformal**: split-conformal, interval ŷ ± q·σ; coverage ≥ the level if the calibration and new "
             "values are exchangeable (pixels of one image are not: approximate). **isotonic**: Kuleshov "
             "recalibration of the predictive CDF; asymptotic calibration, no finite-sample bound. **σ-scaling**: "
             "one variance scale, Gaussian interval; no guarantee. **risk control**: λ·σ with E[fraction of a new "
             "image outside] ≤ 1 − level over exchangeable images; needs ≥ 1/(1 − level) − 1 fitting images.")
CMP = state.page_store("compare", dict(source="Bundled evaluation set", counts=[8], limit=4, seed=0, metric="ause",
                                       view=VIEWS[0], map_image=None, map_shared=False, kind="conformal", level=0.9, cal_limit=12, fit=6,
                                       **{f"strength_{m}": methods.DEFAULT_STRENGTH[m] for m in methods.LAYER_METHODS}))


def _view_changed() -> None:
    st.session_state[CMP]["view"] = st.session_state["compare_view"]


def _keep_files() -> None:
    """Keep the uploaded set beyond the uploader's life (a page change must not lose it)."""
    files = st.session_state.get("cmp_upload") or []
    big = [f.name for f in files if f.size > limits.IMAGE_UPLOAD_MB * 2**20]  # left out, and said so
    st.session_state[CMP]["refused"] = big
    st.session_state[CMP]["files"] = [(f.name, f.getvalue()) for f in files if f.name not in big]


setting = session.page_setup()
task, model_name = setting["task"], setting["model"]
st.title("Compare")
st.caption("AUSE and correlation at mean / patch / block / pixel level and NLL for each method and "
           "sample count, on the bundled evaluation set or your own images; calibrated error bars in the second tab.")
try:
    model = model_cache.model_for(model_name)
except uqcore.InputError as exc:
    run_control.show_error(exc)
    st.stop()

options = st.session_state[CMP]
source = state.bound(st.radio, "Images", "source", store=CMP, options=["Bundled evaluation set", "Upload"],
                     horizontal=True)
if source == "Bundled evaluation set":
    folder = gallery.SAMPLES_DIR / task
    upload_key = None
else:
    hint = ("HR images (the LR inputs are made by bicubic downscaling)" if task == "sr"
            else "RGB images `name.png` with depth maps `name_depth.png` (16-bit mm) or `name_depth.npy` (m)")
    st.file_uploader(f"Upload {hint}", accept_multiple_files=True, key="cmp_upload", on_change=_keep_files,
                     type=["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "npy"],
                     max_upload_size=limits.IMAGE_UPLOAD_MB)
    if options.get("refused"):
        st.error(f"Left out, above the {limits.IMAGE_UPLOAD_MB} MB limit for images: {', '.join(options['refused'])}")
    files = options.get("files") or []
    if files and not st.session_state.get("cmp_upload"):
        st.caption(f"Using the {len(files)} files uploaded earlier; upload again to replace them.")
    if not files:
        st.info(f"Upload {hint}.")
        st.stop()
    upload_key = result_cache.digest(*[name.encode() + data for name, data in files])
    folder = Path(tempfile.gettempdir()) / f"uqcore_upload_{upload_key[:16]}"
    folder.mkdir(exist_ok=True)
    for name, data in files:
        (folder / Path(name).name).write_bytes(data)


def methods_view() -> None:
    """The methods × sample counts table and bar chart (the paper's Tables 1 and 2)."""
    choices, method_help = session.variant_options(model)  # e.g. mc_dropout1 / mc_dropout2; only what it offers
    options.setdefault(f"methods_{model_name}", [m for m in methods.TRAINING_FREE if m in choices])
    c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
    chosen = state.bound(c1.multiselect, "Methods", f"methods_{model_name}", store=CMP, options=choices,
                         help=method_help)
    counts = state.bound(c2.multiselect, "Sample counts", "counts", store=CMP, options=[2, 4, 8, 16, 32])
    limit = state.bound(c3.number_input, "Max images", "limit", store=CMP, min_value=1, max_value=100)
    seed = int(state.bound(c4.number_input, "Seed", "seed", store=CMP, min_value=0, max_value=2**31 - 1))
    layer_rows = model_cache.layers_for(model_name)
    labels = {r["name"]: f"{r['name']} · {r['kind']} · {r['shape']}" for r in layer_rows}
    layer, strengths = None, {}  # no layer the hooks reach (TorchScript): no layer method to set
    if labels:
        st.caption("The layer methods start from the setting chosen on Explore or Tolerability (or the model's "
                   "recommended one); change them here or tune them on the Tolerability page.")
        if options.get(f"layer_{model_name}") not in labels:
            # start from the current setting when it perturbs a layer, as every page shares one setting
            if methods.spec(setting["method"]).needs_layer and setting["layer"] in labels:
                options[f"layer_{model_name}"] = setting["layer"]
                options[f"strength_{setting['method']}"] = setting["strength"]
            else:
                first = default_layer(model)
                options[f"layer_{model_name}"] = first if first in labels else next(iter(labels))
        l1, l2, l3 = st.columns([2, 1, 1])
        layer = state.bound(l1.selectbox, "Layer (noise / dropout)", f"layer_{model_name}", store=CMP,
                            options=list(labels), format_func=labels.get)
        strengths = {m: state.bound(col.number_input, methods.spec(m).strength_name.capitalize(), f"strength_{m}",
                                    store=CMP, min_value=0.0, format="%.4f",
                                    max_value=0.95 if methods.spec(m).feature == methods.FEATURE_DROPOUT else 10.0)
                     for col, m in zip((l2, l3), methods.LAYER_METHODS)}

    settings = dict(model=model_name, folder=str(folder), upload=upload_key, methods=tuple(chosen),
                    counts=tuple(counts), limit=int(limit), seed=seed, layer=layer, strengths=tuple(strengths.items()))
    key = result_cache.digest("compare", settings, model_cache.head_token(model_name))

    def compute(report, progress):
        _, pairs = load_pairs(folder, model, limit=int(limit))
        images: list = []
        rows = evaluate(model, pairs, methods=chosen, samples=sorted(counts), layer=layer,
                                   strength=strengths, seed=seed, progress=progress, on_image=images.append)
        return summary_ci.add_intervals(rows, images)

    rows, _ = run_control.run_on_click("Run comparison", "cmp", key, compute, disabled=not chosen or not counts,
                                progress_text="Images × settings done…")
    st.subheader("Table (shaped like the paper's Table 1)")
    table = summary_ci.interval_frame(rows)
    st.dataframe(table, width="stretch", height=36 * (len(table) + 1) + 3,
                 column_config={"_index": st.column_config.TextColumn("metric", width="medium")})  # all rows
    notes = sorted({f"{r['level']} level: {r['level_note']}" for r in rows if r.get("level_note")})
    st.caption(f"Cells: value [95% bootstrap interval over the {rows[0]['n_images']} images] (percentile, 2,000 "
               "seeded resamples)." + ("".join(f" **n/a** — {n}." for n in notes)))
    frame = pd.DataFrame(rows)
    metric = state.bound(st.radio, "Bar chart", "metric", store=CMP,
                         options=["ause", "corr", "nll", "nll_scaled"], horizontal=True)
    st.plotly_chart(plots.metric_bars(frame, metric), width="stretch", key="cmp_bars")
    st.download_button("Rows (CSV)", frame.to_csv(index=False), f"compare_{model_name}.csv", "text/csv",
                       on_click="ignore")
    maps_view(settings, chosen, strengths)


def maps_view(settings: dict, chosen: list, strengths: dict) -> None:
    """One image of the set: the error map next to each method's variance map (the paper's Fig. 3)."""
    st.subheader("Maps of one image (as the paper's Fig. 3)")
    names = [name for name, _, _ in list_pair_files(folder, task)][:settings["limit"]]
    if options["map_image"] not in names:
        options["map_image"] = names[0] if names else None
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    image = state.bound(c1.selectbox, "Image", "map_image", store=CMP, options=names)
    shared = state.bound(c2.toggle, "Shared colour scale for the variance maps", "map_shared", store=CMP,
                         help="On: one range for every variance map (magnitudes compare). Off: each map on its own "
                              "range (patterns compare)")
    samples = max(counts_int) if (counts_int := [n for n in settings["counts"] if isinstance(n, int)]) else 8
    key = result_cache.digest("compare_maps", settings, image, samples)

    def compute(report, progress):
        names_, pairs = load_pairs(folder, model, limit=settings["limit"])
        x, target = pairs[names_.index(image)]
        return method_maps(model, x, target, chosen, samples=samples, layer=settings["layer"], strength=strengths,
                           seed=settings["seed"], progress=progress)

    found, _ = run_control.run_on_click("Draw the maps", "cmpmaps", key, compute, disabled=not chosen or image is None,
                                 progress_text="Methods done…")
    st.caption(f"{samples} samples per method; the error map measures {found.error_of}'s prediction."
               + (f" {found.alignment[:1].upper()}{found.alignment[1:]}." if found.alignment else ""))
    st.plotly_chart(plots_maps.method_maps_figure(found.prediction, found.error, found.variances, shared_scale=shared,
                                                  depth=task == "depth",
                                                  labels={m: methods.label(m) for m in found.variances}),
                    width="stretch", key="cmp_maps")


def _load_calibration_file() -> None:
    """Uploader callback: the uploaded JSON becomes the current calibration (or its error is kept to show)."""
    file = st.session_state.get("cal_upload")
    st.session_state["cal_upload_error"] = None
    if file is None:
        return
    try:
        run_control.check_upload(file, limits.IMAGE_UPLOAD_MB, "calibration files")
        current_cal.keep(current_cal.load_upload(file.name, file.getvalue()), f"loaded from {file.name}")
    except uqcore.InputError as exc:
        st.session_state["cal_upload_error"] = str(exc)


def current_calibration_box(args: dict) -> None:
    """The calibration Explore uses now (if any), whether it fits the current setting, and the file loader."""
    kept = current_cal.current()
    with st.container(border=True):
        if kept is None:
            st.markdown("**No calibration in use.** Fit one below, or load a calibration JSON file.")
        else:
            cal, origin = kept
            left, right = st.columns([6, 1], vertical_alignment="center")
            left.markdown(f"**In use on Explore** ({origin}): {current_cal.describe(cal)}.")
            right.button("Stop using it", key="cal_forget", on_click=current_cal.forget)
            reason = cal.mismatch(model, method=args["method"], layer=args["layer"], strength=args["strength"],
                                  samples=args["samples"] if isinstance(args["samples"], int) else None)
            if reason:
                st.warning(f"Explore will refuse it for the current setting: {reason}", icon=":material/block:")
        with st.expander("Load a calibration JSON file"):
            st.file_uploader("Calibration JSON (from `python -m uqcore calibrate --out` or downloaded here)",
                             type=["json"], key="cal_upload", on_change=_load_calibration_file,
                             max_upload_size=limits.IMAGE_UPLOAD_MB)
            if st.session_state.get("cal_upload_error"):
                run_control.show_error(uqcore.InputError(st.session_state["cal_upload_error"]))


def calibration_view() -> None:
    """Fit a calibration for the current setting on the first images of the set, check it on the
    rest, show the reliability diagram and the coverage per image, keep it for Explore."""
    args = current_cal.estimate_args(model, setting)
    current_calibration_box(args)
    st.subheader("Fit a calibration")
    count = len(list_pair_files(folder, task))
    if count == 0:
        st.info("The image set is empty.")
        st.stop()
    c1, c2, c3, c4, c5 = st.columns([1.3, 2.2, 1.4, 1, 1])
    choices, method_help = session.method_options(model)
    state.bound(c1.selectbox, "Method", "method", options=choices, help=method_help)
    kind = state.bound(c2.radio, "Kind", "kind", store=CMP, options=list(KINDS), format_func=KIND_LABELS.get,
                       horizontal=True, help=KIND_HELP)
    level = state.bound(c3.slider, "Level", "level", store=CMP, min_value=0.5, max_value=0.99, step=0.01,
                        help="The intended coverage: the fraction of values inside the interval")
    options["cal_limit"] = min(max(1, int(options["cal_limit"])), count)  # an uploaded set may be smaller
    limit = int(state.bound(c4.number_input, "Images to use", "cal_limit", store=CMP, min_value=1,
                            max_value=count, help=f"How many images of the set to use ({count} there)"))
    options["fit"] = min(max(1, int(options["fit"])), limit)
    fit = int(state.bound(c5.number_input, "Fit on the first", "fit", store=CMP, min_value=1, max_value=limit,
                          help="The first images fit the calibration; the others check it (held out)"))
    layer_text = f", layer {args['layer']}, strength {args['strength']:g}" if args["layer"] is not None else ""
    st.caption(f"For the current setting: **{args['method']}**{layer_text}, {args['samples']} samples, seed "
               f"{args['seed']} (change the layer, strength and samples on Explore or Tolerability). Fitted on "
               f"{fit} image(s), checked on {limit - fit or fit} " + ("held-out image(s)." if limit > fit else
                                                                     "image(s): the same ones (in-sample)."))
    key = result_cache.digest("calibration", model_name, str(folder), upload_key, limit, fit, kind, level, args,
                      model_cache.head_token(model_name))

    def compute(report, progress):
        names, pairs = load_pairs(folder, model, limit=limit)
        return fit_and_check(model, pairs, names, fit, kind=kind, level=level, progress=progress, **args)

    check, _ = run_control.run_on_click("Fit calibration", "calfit", key, compute,
                                 progress_text="Images done (fitting, then checking)…")
    calibration_result(check)


def calibration_result(check) -> None:
    """The fitted calibration: summary numbers, reliability diagram, coverage per image, keep / download."""
    cal = check.calibration
    unit = "m" if task == "depth" else "intensity"
    st.markdown(f"Fitted: {current_cal.describe(cal)}.")
    where = "the calibration images themselves (in-sample)" if check.checked_on == IN_SAMPLE else \
        f"{len(check.rows)} held-out image(s)"
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(f"Coverage ({cal.level * 100:g}% nominal)", f"{check.mean('coverage'):.1%}",
              help="Mean over the checked images of the fraction of their values inside the interval")
    m2.metric(f"Mean width ({unit})", f"{check.mean('interval_width'):.4g}",
              help="Mean over the checked images of the interval's width (upper − lower), in output units")
    m3.metric("ENCE raw", f"{check.raw.ence:.3f}", help="ENCE of the raw variance over the checked pixels, pooled")
    m4.metric("ENCE calibrated", f"{check.calibrated.ence:.3f}")
    st.caption(f"Checked on {where}." + (" In-sample coverage is not evidence of the guarantee; keep some images "
                                         "out of the fit." if check.checked_on == IN_SAMPLE else ""))
    left, right = st.columns(2)
    left.plotly_chart(plots.interval_reliability_figure(check.raw, check.calibrated, unit=unit), width="stretch",
                      key="cal_reliability")
    right.plotly_chart(plots.coverage_figure(check.rows, cal.level), width="stretch", key="cal_coverage")
    frame = pd.DataFrame(check.rows).set_index("image")
    st.dataframe(frame.style.format({"coverage": "{:.1%}", "interval_width": "{:.4g}", "ence": "{:.3f}",
                                     "ence_calibrated": "{:.3f}"}), width="stretch",
                 column_config={"interval_width": st.column_config.NumberColumn(f"interval width ({unit})"),
                                "ence": "ENCE raw", "ence_calibrated": "ENCE calibrated"})
    kept = current_cal.current()
    b1, b2, b3 = st.columns([1.2, 1.2, 3], vertical_alignment="center")
    if kept is not None and kept[0] is cal:
        b1.success("In use on Explore", icon=":material/check:")
        b3.page_link("pages/explore.py", label="See the interval maps on Explore", icon=":material/search:")
    else:
        b1.button("Use on Explore", type="primary", key="cal_keep", on_click=current_cal.keep,
                  args=(cal, "fitted on Compare"))
    b2.download_button("Calibration (JSON)", current_cal.json_text(cal),
                       f"calibration_{model_name}_{cal.setting.get('method')}_{cal.kind}.json", "application/json",
                       on_click="ignore")


methods_tab, calibration_tab = st.tabs(VIEWS, key="compare_view", default=options["view"], on_change=_view_changed)
if methods_tab.open:
    with methods_tab:
        methods_view()
if calibration_tab.open:
    with calibration_tab:
        calibration_view()
