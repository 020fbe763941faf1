"""Dataset evaluation: score uncertainty methods on (input, target) pairs -- the paper's Tables 1/2.

``evaluate(model, pairs, methods, samples)`` runs ``uqcore.estimate`` for every method, sample
count and image and returns one row (dict) per (method, sample count, level) with:

* ``ause``, ``aurg``, ``corr`` (Pearson), ``spearman`` at the level: ``pixel`` / ``patch`` /
  ``block`` are computed per image and averaged over the images (NaN values -- e.g. a constant
  variance map has no correlation -- are left out of the average); ``mean`` is computed across
  the images, one point per image (per-image mean error vs mean variance). See
  :mod:`uqcore.metrics` for the definitions. The error is the channel-averaged absolute error
  of the method's prediction.
* ``nll``: Gaussian NLL of (prediction, variance), the mean over all images of the per-image
  NLL (eps 1e-6). ``nll_scaled``: the NLL after sigma-scaling -- the variance scale
  (``variance_scale``) is fitted on a calibration split of the pairs (``calibration_fraction``,
  a seeded random subset) and the NLL is averaged over the other images; ``nll_heldout`` is the
  raw NLL on those same held-out images, for a like-for-like comparison. With a single image the
  scale is fitted and applied on it (``calibration`` = "in-sample"). ``calibration_error`` /
  ``calibration_error_scaled``: Kuleshov's error on the held-out images before / after scaling.
* prediction quality, averaged over images: ``psnr`` / ``ssim`` for SR (Y channel, BT.601,
  ``scale``-pixel border, 8-bit rounding; :func:`uqcore.metrics.psnr`), on RGB without border for
  the generic image task; ``abs_rel``, ``rmse``, ``log10``, ``delta1`` for depth (valid pixels).
* ``seconds_per_image``: mean wall time of ``estimate`` per image (metrics not included).
* the settings: ``method``, ``samples`` (requested: a count or "auto"), ``samples_drawn`` (the
  mean over images, rounded; the engine caps transforms at the transform set's size and
  ensembles at the member count, and "auto" stops per image), ``samples_drawn_min`` /
  ``samples_drawn_max`` over the images, ``reliability`` (the variance maps' split-half
  reliability, :attr:`uqcore.engine.estimate.Estimate.reliability`, averaged over the images that have
  one; None below 4 samples), ``layer``, ``strength``, ``seed``, ``n_images``,
  ``n_calibration``, ``task``, ``model``.

Method names: the variants of :data:`uqcore.engine.methods.VARIANTS` -- the engine's methods plus
MC-drop1 (the unperturbed output is the prediction) and MC-drop2 (the sample mean is the
prediction, as for plain MC-dropout). Variants of one engine method share one set of samples.
The training-free methods score the unperturbed output. Every image is sampled with the same
``seed``. Scoring (per image and the summary) is :mod:`uqcore.scoring.scorer`'s.

Datasets from a folder: :func:`uqcore.datasets.folders.load_pairs` (re-exported here), which
documents the folder layouts. A depth output is resized to the ground truth (with its variance)
and, for a relative-depth model, aligned to it before scoring: rows carry ``aligned`` (scoring).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import distributed as _distributed
from uqcore.engine import methods as _methods
from uqcore.errors import InputError
# the dataset helpers moved to uqcore.datasets.folders; re-exported here for existing callers
from uqcore.calibration.intervals import load_calibration
from uqcore.datasets.folders import IMAGE_SUFFIXES, list_pair_files, load_pairs, make_lr  # noqa: F401
from uqcore.engine.layers import default_layer, method_setting  # noqa: F401  (default_layer re-exported: pages use it)
from uqcore.engine.model import as_model, model_identity
from uqcore.engine.estimate import AUTO, DEFAULT_MAX_SAMPLES, DEFAULT_TARGET, estimate
from uqcore.scoring.scorer import EPS, LEVELS, Scorer, prepare_target, split_images  # noqa: F401  (EPS re-exported)
from uqcore.scoring.scorer import DEPTH_QUALITY, INTERVAL_COLUMNS, ImageScore

DEFAULT_STRENGTH = _methods.DEFAULT_STRENGTH
LAYER_METHODS = _methods.LAYER_METHODS
# method name -> (engine method, which output of the estimate is the prediction)
METHOD_VARIANTS = {n: (v.engine, v.prediction) for n, v in _methods.VARIANTS.items()}
# What evaluate scores when no methods are given: the training-free methods.
DEFAULT_METHODS = _methods.TRAINING_FREE

Progress = Callable[[int, int], None]


# -- evaluation ----------------------------------------------------------------------------------
def _per_method(value: Any, method: str, default: Any) -> Any:
    if isinstance(value, dict):
        return value.get(method, default)
    return default if value is None else value


def method_plan(model: Any, methods: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(engine method, [(variant name, prediction source), ...])] in first-appearance order:
    variants of one engine method (e.g. mc_dropout1 / mc_dropout2) share its samples."""
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise InputError("give at least one method")
    plan: dict[str, list[tuple[str, str]]] = {}
    for name in methods:
        var = _methods.variant(name)
        if var.engine not in model.methods:
            raise InputError(f"method {name!r} does not apply to model {model.name!r}; it supports "
                             f"{', '.join(model.methods)}")
        variants = plan.setdefault(var.engine, [])
        if name not in [v[0] for v in variants]:
            variants.append((name, var.prediction))
    return list(plan.items())


def _check_pairs(pairs: Any) -> list[tuple[Any, Any]]:
    out = []
    for i, p in enumerate(pairs):
        if not isinstance(p, (tuple, list)) or len(p) not in (2, 3):
            raise InputError(f"pairs[{i}] must be an (input, target) tuple")
        out.append((p[-2], p[-1]))
    if not out:
        raise InputError("no (input, target) pairs to evaluate")
    return out


def _pair_names(pairs: Sequence[Any]) -> list[str]:
    return [str(p[0]) if isinstance(p, (tuple, list)) and len(p) == 3 else f"pair {i}" for i, p in enumerate(pairs)]


def _set_up(model: Any, pairs: Any, methods: Any, samples: Any, calibration_fraction: float, seed: int) -> tuple:
    """What the serial and the unit paths of :func:`evaluate` both start from: (model, pair names,
    checked pairs, method plan, sample counts, (calibration images, test images, split kind))."""
    model = as_model(model)
    names = _pair_names(pairs)
    pairs = _check_pairs(pairs)
    plan = method_plan(model, methods)
    sample_counts = [samples] if isinstance(samples, (int, np.integer, str)) else list(samples)
    if not sample_counts:
        raise InputError("give at least one sample count")
    return model, names, pairs, plan, sample_counts, split_images(len(pairs), calibration_fraction, seed)


def _calibrated_runs(calibration: Any, model: Any, plan: list, settings: dict, sample_counts: list) -> set:
    """{(variant, samples)} that ``calibration`` applies to; an InputError if it belongs to another
    model or matches none of the evaluated settings."""
    calibration.check(model)
    runs, reasons = set(), []
    for engine, variants in plan:
        lay, st = settings[engine]
        for label, _ in variants:
            for n in sample_counts:
                reason = calibration.mismatch(method=label, layer=lay, strength=st, samples=_count(n))
                if reason is None:
                    runs.add((label, _count(n)))
                else:
                    reasons.append(reason)
    if not runs:
        raise InputError(reasons[0] if reasons else "the calibration matches none of the evaluated methods")
    return runs


def _image_row(label: str, n: int, name: str, index: int, s: Any) -> dict[str, Any]:
    return {"method": label, "samples": n, "image": name, "index": index, "nll": s.nll, **s.stats,
            "mean_error": s.mean_error, "mean_variance": s.mean_variance, **s.quality, **s.interval}


def evaluate(
    model: Any,
    pairs: Sequence[tuple[Any, Any]],
    methods: Sequence[str] = DEFAULT_METHODS,
    samples: Sequence[int | str] | int | str = (8,),
    layer: str | dict[str, str] | None = None,
    strength: float | dict[str, float] | None = None,
    seed: int = 0,
    calibration_fraction: float = 0.5,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
    *,
    patch: int = 16,
    steps: int = 50,
    reliability_target: float = DEFAULT_TARGET,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    calibration: Any = None,
    on_image: Callable[[dict[str, Any]], None] | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    store: Any = None,
    resume: bool = False,
    tile: int | None = None,
) -> list[dict[str, Any]]:
    """Score ``methods`` x ``samples`` on (input [1, C, h, w], target) ``pairs``; one row per
    (method, sample count, level), levels in the order mean, patch, block, pixel.

    samples: counts, or "auto" (``uqcore.estimate(samples="auto", target=reliability_target,
    max_samples=max_samples)``: each image draws until its map is reliable).

    layer / strength: for "noise" and "dropout"; one value for both, a dict {method: value}, or
    None for the defaults (:func:`uqcore.engine.layers.default_layer`, a middle block; the strength is
    the method's ``default_strength`` in :mod:`uqcore.engine.methods`: noise std 0.05, dropout rate 0.1). ``progress(done, total)`` is called after each estimate. Pairs may also be
    (name, input, target) triples. See the module docstring for every field.

    calibration: a fitted :class:`uqcore.calibration.intervals.Calibration` (or the path of its JSON) for
    ``model`` and one of the evaluated settings; the rows of that method and sample count get
    ``coverage``, ``interval_width``, ``ence`` and ``ence_calibrated`` over all the images (other
    rows keep the raw ``ence`` only). An InputError if it belongs to another model or matches no
    evaluated setting. ``on_image(row)`` is called with one row per (method, sample count, image):
    method, samples, image, index, nll, each level's stats, mean_error / _variance, quality and --
    where calibrated -- the calibration columns (:func:`uqcore.scoring.summary_ci.add_intervals` uses them).

    ``workers`` / ``ray_address`` / ``store`` / ``resume``: the same rows through Ray actors or a
    resumable store (:func:`_evaluate_units`, docs/SCALING.md); failed images are reported there.
    ``tile``: each estimate in tiles of about ``tile`` output pixels (the same maps as untiled,
    :mod:`uqcore.engine.tiling`; large images in bounded memory)."""
    if _distributed.uses_units(workers, ray_address, store, resume):
        return _evaluate_units(model, pairs, methods, samples, layer, strength, seed, calibration_fraction, device,
                               progress, patch=patch, steps=steps, workers=workers, ray_address=ray_address,
                               store=store, resume=resume, reliability_target=reliability_target,
                               max_samples=max_samples, calibration=calibration, on_image=on_image, tile=tile)
    model, names, pairs, plan, sample_counts, (cal, test, cal_kind) = _set_up(model, pairs, methods, samples,
                                                                             calibration_fraction, seed)
    targets = [prepare_target(model.task, t) for _, t in pairs]
    settings = {engine: _setting(model, engine, layer, strength) for engine, _ in plan}
    if isinstance(calibration, (str, Path)):
        calibration = load_calibration(calibration)
    calibrated = set() if calibration is None else _calibrated_runs(calibration, model, plan, settings, sample_counts)

    total = len(plan) * len(sample_counts) * len(pairs)
    done = 0
    segment_cache: dict = {}
    rows: list[dict[str, Any]] = []
    for engine, variants in plan:
        lay, st = settings[engine]
        for n in sample_counts:
            scorers = {label: Scorer(model, patch=patch, steps=steps, segment_cache=segment_cache,
                                     calibration=calibration if (label, _count(n)) in calibrated else None)
                       for label, _ in variants}
            drawn: list[int] = []
            reliability: list[float] = []
            for i, (x, _) in enumerate(pairs):
                est = estimate(model, x, method=engine, layer=lay, strength=st, samples=_count(n), seed=seed,
                               device=device, target=reliability_target, max_samples=max_samples, tile=tile)
                drawn.append(est.samples)
                if est.reliability is not None:
                    reliability.append(est.reliability)
                for label, source in variants:
                    score = scorers[label].update(getattr(est, source), est.variance, targets[i], seconds=est.seconds,
                                                  drawn=est.samples, key=i)
                    if on_image is not None:
                        on_image(_image_row(label, _count(n), names[i], i, score))
                done += 1
                if progress is not None:
                    progress(done, total)
            for label, _ in variants:
                summary = scorers[label].compute(calibration=cal, test=test)
                rows += [dict(row, samples_drawn_min=min(drawn), samples_drawn_max=max(drawn),
                              reliability=float(np.mean(reliability)) if reliability else None)
                         for row in _summary_rows(model, label, n, summary, lay, st, seed, len(pairs), len(cal),
                                                  cal_kind)]
    return rows


def _count(n: Any) -> int | str:
    """A sample count as ``estimate`` takes it: an int, or "auto" as it is."""
    return AUTO if isinstance(n, str) and n.strip().lower() == AUTO else int(n)


def _summary_rows(model: Any, label: str, n: int, summary: dict, lay: Any, st: Any, seed: int, n_images: int,
                  n_calibration: int, cal_kind: str) -> list[dict[str, Any]]:
    """The rows of one (method, sample count): one per level of :data:`LEVELS`."""
    return [{"method": label, "samples": _count(n), "level": level, **summary[level], **summary["common"],
             "layer": lay, "strength": st, "seed": int(seed), "n_images": n_images, "n_calibration": n_calibration,
             "calibration": cal_kind, "task": model.task, "model": model.name}
            for level in LEVELS]


def _setting(model: Any, engine: str, layer: Any, strength: Any) -> tuple[str | None, float | None]:
    """(layer, strength) of ``engine``: the given ones or the defaults; (None, None) where the
    method takes no layer."""
    return method_setting(model, engine, _per_method(layer, engine, None), _per_method(strength, engine, None))


# -- tables --------------------------------------------------------------------------------------
def _column(row: dict[str, Any]) -> str:
    return f"{row['method']} ({row['samples']})"


def table_frame(rows: Sequence[dict[str, Any]]):
    """pandas DataFrame shaped like the paper's Table 1: rows "AUSE mean", "AUSE patch",
    "AUSE block", "AUSE pixel", "Corr mean", ..., "Corr pixel", "NLL", "NLL (σ-scaled)",
    "s / image"; columns "method (samples)" in the order the rows list them."""
    import pandas as pd  # lazy: pandas is slow to import and only the tables need it

    columns: list[str] = []
    for r in rows:
        if _column(r) not in columns:
            columns.append(_column(r))
    index = [f"AUSE {lv}" for lv in LEVELS] + [f"Corr {lv}" for lv in LEVELS] + ["NLL", "NLL (σ-scaled)", "s / image"]
    frame = pd.DataFrame(np.nan, index=index, columns=columns, dtype=float)
    for r in rows:
        c = _column(r)
        frame.loc[f"AUSE {r['level']}", c] = r.get("ause", np.nan)
        frame.loc[f"Corr {r['level']}", c] = r.get("corr", np.nan)
        frame.loc["NLL", c] = r.get("nll", np.nan)
        frame.loc["NLL (σ-scaled)", c] = r.get("nll_scaled", np.nan)
        frame.loc["s / image", c] = r.get("seconds_per_image", np.nan)
    return frame


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The Table-1-shaped summary of :func:`table_frame` as plain text (4 significant digits)."""
    if not rows:
        return "(no rows)"
    frame = table_frame(rows)
    return frame.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-")


def write_rows(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Write rows as JSON (``.json``) or CSV (anything else); columns in first-seen order."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows]
        path.write_text(json.dumps(clean, indent=1))
        return
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})


def report_units(rows: Sequence[dict[str, Any]], store: Any) -> None:
    """Where the per-image rows of a unit run are, and how many images failed."""
    failed = max((int(r.get("n_failed") or 0) for r in rows), default=0)
    where = f"; see {store.rows_path}" if store is not None else ""
    if failed:
        print(f"{failed} image(s) failed and are left out of the summary{where}", file=sys.stderr)
    if store is not None:
        print(f"per-image rows in {store.rows_path} (run kept in {store.folder}; --resume continues it)",
              file=sys.stderr)


# -- units: workers and resume (uqcore.distributed runs them) ------------------------------------
IMAGE_COLUMNS = ("method", "samples", "image", "index", "layer", "strength", "seed", "nll",
                 *(f"{k}_{lv}" for lv in ("pixel", "patch", "block") for k in ("ause", "aurg", "corr", "spearman")),
                 "mean_error", "mean_variance", "psnr", "ssim", *DEPTH_QUALITY, "seconds", "samples_drawn",
                 *INTERVAL_COLUMNS, "error")


class EvaluateJob:
    """One unit of :func:`evaluate` = one engine method, sample count and image: the estimate and
    each variant's :class:`~uqcore.scoring.scorer.ImageScore` -- the serial loop's body, run anywhere.

    Unit key: method (engine), layer, strength, samples, image (name) and digest (of the input
    and target), and for ``samples="auto"`` its stop rule (target, max_samples); data: the image's
    (input, target). Readable rows (``IMAGE_COLUMNS``): one per variant with the per-image scores
    (and the interval columns where ``calibration`` applies: the (variant, samples) in
    ``calibrated``, as in the serial loop). The run info names the calibration by a hash."""

    kind = "evaluate"
    columns = IMAGE_COLUMNS

    def __init__(self, model: Any, names: Sequence[str], pairs: Sequence[tuple[Any, Any]], targets: Sequence[Any],
                 plan: list, settings: dict, sample_counts: Sequence[int | str], seed: int, patch: int, steps: int,
                 *, reliability_target: float = DEFAULT_TARGET, max_samples: int = DEFAULT_MAX_SAMPLES,
                 calibration: Any = None, calibrated: set | None = None, tile: int | None = None) -> None:
        self.names = list(names)
        self._data = [(x, t) for (x, _), t in zip(pairs, targets)]
        self.digests = [_distributed.digest(None if isinstance(x, InputError) else x, t) for x, t in self._data]
        self.index = {(n, d): i for i, (n, d) in reversed(list(enumerate(zip(self.names, self.digests))))}
        self.variants = dict(plan)
        self.plan, self.settings, self.sample_counts = plan, settings, [_count(n) for n in sample_counts]
        self.seed, self.patch, self.steps = int(seed), patch, steps
        self.auto = {"target": float(reliability_target), "max_samples": int(max_samples)}
        self.calibration, self.calibrated = calibration, set(calibrated or ())
        self.identity = model_identity(model)
        self.tile = None if tile is None else int(tile)

    def key(self, engine: str, n: int | str, i: int) -> dict[str, Any]:
        lay, st = self.settings[engine]
        auto = self.auto if _count(n) == AUTO else {}  # the stop rule decides an auto unit's draws
        return {"method": engine, "layer": lay, "strength": st, "samples": _count(n), **auto,
                "image": self.names[i], "digest": self.digests[i]}

    def keys(self) -> list[dict[str, Any]]:
        return [self.key(engine, n, i) for engine, _ in self.plan for n in self.sample_counts
                for i in range(len(self.names))]

    def run_info(self) -> dict[str, Any]:
        info = {"model": self.identity, "seed": self.seed, "patch": self.patch, "steps": self.steps}
        if self.calibration is not None:  # the interval columns depend on it
            info["calibration"] = _distributed.unit_id({**self.calibration.to_dict(), "created": None})
        if self.tile is not None:  # tiled maps equal untiled ones to float rounding, not bit for bit
            info["tile"] = self.tile
        return info

    def data_id(self, key: dict[str, Any]) -> int:
        return self.index[(key["image"], key["digest"])]

    def data(self, i: int) -> tuple[Any, Any]:
        return self._data[i]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_data": None}  # the images travel per unit (see uqcore.distributed)

    def run(self, model: Any, key: dict[str, Any], data: tuple[Any, Any], cache: dict, device: Any) -> dict[str, Any]:
        i = self.data_id(key)
        x, target = data
        if isinstance(x, InputError):  # the pair could not be read (load_pairs keep_errors)
            raise x
        est = estimate(model, x, method=key["method"], layer=key["layer"], strength=key["strength"],
                       samples=key["samples"], seed=self.seed, device=device,
                       target=key.get("target", DEFAULT_TARGET), max_samples=key.get("max_samples", DEFAULT_MAX_SAMPLES),
                       tile=self.tile)
        out = {}
        for label, source in self.variants[key["method"]]:
            calibration = self.calibration if (label, key["samples"]) in self.calibrated else None
            scorer = Scorer(model, patch=self.patch, steps=self.steps, segment_cache=cache.setdefault("segments", {}),
                            calibration=calibration)
            s = scorer.update(getattr(est, source), est.variance, target, seconds=est.seconds,
                              drawn=est.samples, key=i)
            out[label] = {slot: getattr(s, slot) for slot in ImageScore.__slots__}
            out[label]["reliability"] = est.reliability  # for the summary rows, as in the serial loop
        return out

    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]:
        i = self.index[(key["image"], key["digest"])]
        base = {"samples": key["samples"], "image": key["image"], "index": i, "layer": key["layer"],
                "strength": key["strength"], "seed": self.seed}
        if values is None:
            return [{"method": label, **base, "error": error} for label, _ in self.variants[key["method"]]]
        return [{"method": label, **base, "nll": v["nll"], **v["stats"], "mean_error": v["mean_error"],
                 "mean_variance": v["mean_variance"], **v["quality"], "seconds": v["seconds"],
                 "samples_drawn": v["drawn"], **(v.get("interval") or {})} for label, v in values.items()]


def _image_score(values: dict[str, Any]) -> ImageScore:
    s = ImageScore()
    for slot in ImageScore.__slots__:
        setattr(s, slot, values[slot])
    return s


def _evaluate_units(model: Any, pairs: Any, methods: Any, samples: Any, layer: Any, strength: Any, seed: int,
                    calibration_fraction: float, device: Any, progress: Progress | None, *, patch: int, steps: int,
                    workers: int | None, ray_address: str | None, store: Any, resume: bool,
                    reliability_target: float, max_samples: int, calibration: Any,
                    on_image: Callable[[dict[str, Any]], None] | None, tile: int | None = None) -> list[dict[str, Any]]:
    """:func:`evaluate` through :func:`uqcore.distributed.run_job`: the same set-up, the units
    run here or on Ray workers, then the same summary (and ``on_image`` rows, in the serial
    loop's order) from the per-image scores in image order."""
    model, names, pairs, plan, sample_counts, (cal, test, cal_kind) = _set_up(model, pairs, methods, samples,
                                                                             calibration_fraction, seed)
    targets = [None if isinstance(x, InputError) else prepare_target(model.task, t) for x, t in pairs]
    settings = {engine: _setting(model, engine, layer, strength) for engine, _ in plan}
    if isinstance(calibration, (str, Path)):
        calibration = load_calibration(calibration)
    calibrated = set() if calibration is None else _calibrated_runs(calibration, model, plan, settings, sample_counts)
    job = EvaluateJob(model, names, pairs, targets, plan, settings, sample_counts, seed, patch, steps,
                      reliability_target=reliability_target, max_samples=max_samples, calibration=calibration,
                      calibrated=calibrated, tile=tile)
    results = _distributed.run_job(job, model, workers=workers, ray_address=ray_address, device=device, store=store,
                                   resume=resume, progress=progress)
    found = {_distributed.unit_id(r.key): r for r in results}
    rows: list[dict[str, Any]] = []
    for engine, variants in plan:
        lay, st = settings[engine]
        for n in sample_counts:
            units = [found[_distributed.unit_id(job.key(engine, n, i))] for i in range(len(pairs))]
            ok = [i for i, u in enumerate(units) if u.ok]
            failed = len(units) - len(ok)
            if not ok:
                for label, _ in variants:
                    rows += [{"method": label, "samples": _count(n), "level": level, "layer": lay, "strength": st,
                              "seed": int(seed), "n_images": 0, "n_failed": failed, "error": units[0].error,
                              "task": model.task, "model": model.name} for level in LEVELS]
                continue
            # the serial run's split of the images that were scored (all of them unless some failed)
            c, t, kind = split_images(len(ok), calibration_fraction, seed) if failed else (cal, test, cal_kind)
            if on_image is not None:
                for i in ok:
                    for label, _ in variants:
                        on_image(_image_row(label, _count(n), names[i], i, _image_score(units[i].values[label])))
            for label, _ in variants:
                scorer = Scorer(model, patch=patch, steps=steps,
                                calibration=calibration if (label, _count(n)) in calibrated else None)
                scorer.scores = [_image_score(units[i].values[label]) for i in ok]
                summary = scorer.compute(calibration=c, test=t)
                values = [units[i].values[label] for i in ok]
                reliability = [v["reliability"] for v in values if v.get("reliability") is not None]
                extra = {"samples_drawn_min": min(v["drawn"] for v in values),
                         "samples_drawn_max": max(v["drawn"] for v in values),
                         "reliability": float(np.mean(reliability)) if reliability else None}
                extra.update({"n_failed": failed} if failed else {})
                rows += [{**r, **extra} for r in _summary_rows(model, label, n, summary, lay, st, seed, len(ok),
                                                               len(c), kind)]
    return rows


def parse_per_method(text: str | None, convert: Callable[[str], Any], flag: str) -> Any:
    """"VALUE" or "method:VALUE,method:VALUE" -> value or {method: value}."""
    if text is None:
        return None
    try:
        if ":" not in text:
            return convert(text)
        out = {}
        for part in text.split(","):
            name, _, value = part.partition(":")
            out[name.strip()] = convert(value.strip())
        return out
    except ValueError as exc:
        raise InputError(f"{flag} must be VALUE or method:VALUE,method:VALUE, got {text!r}") from exc


def parse_samples(text: str, flag: str) -> int | str:
    """A sample count or "auto" from the command line."""
    text = text.strip()
    if text.lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError as exc:
        raise InputError(f"{flag} takes sample counts (integers) or auto, got {text!r}") from exc


def add_auto_options(parser: argparse.ArgumentParser) -> None:
    """--reliability / --max-samples: the stop rule of ``--samples auto`` (evaluate and sweep)."""
    parser.add_argument("--reliability", type=float, default=DEFAULT_TARGET,
                        help=f"with --samples auto: the split-half reliability to reach (default {DEFAULT_TARGET})")
    parser.add_argument("--max-samples", type=int, default=DEFAULT_MAX_SAMPLES,
                        help=f"with --samples auto: the most samples per image (default {DEFAULT_MAX_SAMPLES})")
