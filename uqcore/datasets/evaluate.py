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
  (``variance_scale``) is fitted on the σ-scaling split of the pairs (``sigma_split``: the share of
  images it is fitted on, a seeded random subset; ``n_sigma_fit`` of them) and the NLL is averaged
  over the other images; ``nll_heldout`` is the raw NLL on those same held-out images, for a
  like-for-like comparison. With a single image the scale is fitted and applied on it (row field
  ``sigma_split`` = "in-sample", else "held-out"). ("Calibration" in this module means only a
  fitted interval calibration, the ``calibration`` argument.) ``calibration_error`` /
  ``calibration_error_scaled``: Kuleshov's error on the held-out images before / after scaling.
* prediction quality, averaged over images: ``psnr`` / ``ssim`` for SR (Y channel, BT.601,
  ``scale``-pixel border, 8-bit rounding; :func:`uqcore.metrics.psnr`), on RGB without border for
  the generic image task; ``abs_rel``, ``rmse``, ``log10``, ``delta1`` for depth (valid pixels).
* ``seconds_per_image``: mean wall time of ``estimate`` per image (metrics not included).
* the settings: ``method``, ``samples`` (requested: a count or "auto"), ``samples_drawn`` (the
  mean over images, rounded; the engine caps transforms at the transform set's size and
  ensembles at the member count, and "auto" stops per image), ``samples_drawn_min`` /
  ``samples_drawn_max`` over the images, ``reliability`` (the variance maps' split-half
  reliability, :attr:`uqcore.engine.request.Estimate.reliability`, averaged over the images that have
  one; None below 4 samples), ``layer``, ``strength``, ``seed``, ``n_images``,
  ``n_sigma_fit``, ``sigma_split``, ``task``, ``model``.

Method names: the variants of :data:`uqcore.engine.methods.VARIANTS` -- the engine's methods plus
MC-drop1 (the unperturbed output is the prediction) and MC-drop2 (the sample mean is the
prediction, as for plain MC-dropout). Variants of one engine method share one set of samples.
The training-free methods score the unperturbed output. Every image is sampled with the same
``seed``. Scoring (per image and the summary) is :mod:`uqcore.scoring`'s.

Datasets from a folder: :func:`uqcore.datasets.folders.load_pairs`, which
documents the folder layouts. A depth output is resized to the ground truth (with its variance)
and, for a relative-depth model, aligned to it before scoring: rows carry ``aligned`` (scoring).
"""

from __future__ import annotations

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
from uqcore.progress import Progress
from uqcore.calibration.intervals import load_calibration
from uqcore.engine.layers import method_setting
from uqcore.engine.model import as_model, model_identity
from uqcore.engine.estimate import AUTO, DEFAULT_MAX_SAMPLES, DEFAULT_TARGET, estimate
from uqcore.scoring.scorer import LEVELS, Scorer, prepare_target, split_images
from uqcore.scoring.scorer import DEPTH_QUALITY, INTERVAL_COLUMNS, ImageScore, score_image
from uqcore.scoring.results import DatasetSummary

DEFAULT_STRENGTH = _methods.DEFAULT_STRENGTH
LAYER_METHODS = _methods.LAYER_METHODS
# method name -> (engine method, which output of the estimate is the prediction)
METHOD_VARIANTS = {n: (v.engine, v.prediction) for n, v in _methods.VARIANTS.items()}
# What evaluate scores when no methods are given: the training-free methods.
DEFAULT_METHODS = _methods.TRAINING_FREE



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


def _set_up(model: Any, pairs: Any, methods: Any, samples: Any, layer: Any, strength: Any, seed: int,
            patch: int, steps: int, reliability_target: float, max_samples: int, calibration: Any,
            tile: int | None = None) -> tuple:
    """(model, the job of :func:`evaluate`): the pairs checked and named, the method plan, the
    sample counts, each engine's (layer, strength), the calibration loaded and matched."""
    model = as_model(model)
    names = _pair_names(pairs)
    pairs = _check_pairs(pairs)
    plan = method_plan(model, methods)
    sample_counts = [samples] if isinstance(samples, (int, np.integer, str)) else list(samples)
    if not sample_counts:
        raise InputError("give at least one sample count")
    targets = [None if isinstance(x, InputError) else prepare_target(model.task, t) for x, t in pairs]
    settings = {engine: _setting(model, engine, layer, strength) for engine, _ in plan}
    if isinstance(calibration, (str, Path)):
        calibration = load_calibration(calibration)
    calibrated = set() if calibration is None else _calibrated_runs(calibration, model, plan, settings, sample_counts)
    return model, EvaluateJob(model, names, pairs, targets, plan, settings, sample_counts, seed, patch, steps,
                              reliability_target=reliability_target, max_samples=max_samples,
                              calibration=calibration, calibrated=calibrated, tile=tile)


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


def image_row(label: str, n: int | str, name: str, index: int, values: dict[str, Any]) -> dict[str, Any]:
    """One (method, sample count, image) row of :func:`evaluate`'s ``on_image`` from the image's
    :meth:`ImageScore.values <uqcore.scoring.ImageScore.values>`."""
    return {"method": label, "samples": n, "image": name, "index": index, "nll": values["nll"], **values["stats"],
            "mean_error": values["mean_error"], "mean_variance": values["mean_variance"], **values["quality"],
            **(values.get("interval") or {})}


def evaluate(
    model: Any,
    pairs: Sequence[tuple[Any, Any]],
    methods: Sequence[str] = DEFAULT_METHODS,
    samples: Sequence[int | str] | int | str = (8,),
    layer: str | dict[str, str] | None = None,
    strength: float | dict[str, float] | None = None,
    seed: int = 0,
    sigma_split: float = 0.5,
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

    calibration: a fitted :class:`uqcore.calibration.kinds.Calibration` (or the path of its JSON) for
    ``model`` and one of the evaluated settings; the rows of that method and sample count get
    ``coverage``, ``interval_width``, ``ence`` and ``ence_calibrated`` over all the images (other
    rows keep the raw ``ence`` only). An InputError if it belongs to another model or matches no
    evaluated setting. ``on_image(row)`` is called with one row per (method, sample count, image):
    method, samples, image, index, nll, each level's stats, mean_error / _variance, quality and --
    where calibrated -- the calibration columns (:func:`uqcore.scoring.summary_ci.add_intervals` uses them).

    Set-up, job, summary: the (method, sample count, image) units of :class:`EvaluateJob` run
    through :func:`uqcore.distributed.run_job` -- here, in order, by default (a bad input raises);
    with ``workers`` / ``ray_address`` / ``store`` / ``resume`` on Ray actors or kept in a
    resumable store (docs/SCALING.md), where a failed image is reported in the rows (``n_failed``)
    and left out of the summary. :class:`EvaluateSummary` turns the units, in key order, into the
    ``on_image`` rows and the summary rows; the rows are the same either way.
    ``tile``: each estimate in tiles of about ``tile`` output pixels (the same maps as untiled,
    :mod:`uqcore.engine.tiling`; large images in bounded memory)."""
    units = _distributed.uses_units(workers, ray_address, store, resume)
    model, job = _set_up(model, pairs, methods, samples, layer, strength, seed, patch, steps, reliability_target,
                         max_samples, calibration, tile)
    summary = EvaluateSummary(model, job, split_images(len(job.names), sigma_split, seed), sigma_split, on_image)
    _distributed.run_job(job, model, workers=workers, ray_address=ray_address, device=device, store=store,
                         resume=resume, progress=progress, on_result=_distributed.in_order(job.keys(), summary.add),
                         raise_errors=not units, keep_values=False)
    return summary.rows


def _count(n: Any) -> int | str:
    """A sample count as ``estimate`` takes it: an int, or "auto" as it is."""
    return AUTO if isinstance(n, str) and n.strip().lower() == AUTO else int(n)


def summary_rows(model: Any, label: str, n: int | str, summary: DatasetSummary | None, setting: dict[str, Any], *,
                 per_level: Sequence[dict[str, Any]] = (), extra: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of one column (method, sample count): one per level of :data:`LEVELS` with the
    method, samples, level, the level's numbers of ``summary`` (:meth:`Scorer.compute
    <uqcore.scoring.scorer.Scorer.compute>`; None for a column whose images all failed) and
    ``per_level``'s (e.g. bootstrap intervals, one dict per level), the common numbers and
    ``extra``, the ``setting`` (layer, strength, seed, image counts, ...), task and model, then
    ``after``. Every dataset table is built here: :func:`evaluate` and the paper run."""
    common = {} if summary is None else summary.common()
    return [{"method": label, "samples": n, "level": level, **({} if summary is None else summary.level(level)),
             **(per_level[k] if per_level else {}), **common, **(extra or {}), **setting,
             "task": model.task, "model": model.name, **(after or {})}
            for k, level in enumerate(LEVELS)]


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


class EvaluateJob(_distributed.UnitData):
    """One unit of :func:`evaluate` = one engine method, sample count and image: the estimate and
    each variant's :class:`~uqcore.scoring.scorer.ImageScore`, run here or on a Ray worker.

    Unit key: method (engine), layer, strength, samples, image (name) and digest (of the input
    and target), and for ``samples="auto"`` its stop rule (target, max_samples); data: the image's
    (input, target). Readable rows (``IMAGE_COLUMNS``): one per variant with the per-image scores
    (and the interval columns where ``calibration`` applies: the (variant, samples) in
    ``calibrated``). The run info names the calibration by a hash."""

    kind = "evaluate"
    columns = IMAGE_COLUMNS

    def __init__(self, model: Any, names: Sequence[str], pairs: Sequence[tuple[Any, Any]], targets: Sequence[Any],
                 plan: list, settings: dict, sample_counts: Sequence[int | str], seed: int, patch: int, steps: int,
                 *, reliability_target: float = DEFAULT_TARGET, max_samples: int = DEFAULT_MAX_SAMPLES,
                 calibration: Any = None, calibrated: set | None = None, tile: int | None = None) -> None:
        self.tile = None if tile is None else int(tile)
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

    def run(self, model: Any, key: dict[str, Any], data: tuple[Any, Any], cache: dict, device: Any) -> dict[str, Any]:
        x, target = data
        if isinstance(x, InputError):  # the pair could not be read (load_pairs keep_errors)
            raise x
        est = estimate(model, x, method=key["method"], layer=key["layer"], strength=key["strength"],
                       samples=key["samples"], seed=self.seed, device=device,
                       target=key.get("target", DEFAULT_TARGET), max_samples=key.get("max_samples", DEFAULT_MAX_SAMPLES),
                       tile=self.tile)
        return {label: self.score(model, key, est, label, getattr(est, source), target, cache)
                for label, source in self.variants[key["method"]]}

    def score(self, model: Any, key: dict[str, Any], est: Any, label: str, prediction: Any, target: Any,
              cache: dict) -> dict[str, Any]:
        """One variant's values: its :class:`~uqcore.scoring.scorer.ImageScore` (:func:`~uqcore.scoring.scorer.score_image`,
        with the interval columns where ``calibration`` applies) and the estimate's reliability."""
        s = score_image(model, prediction, est.variance, target, seconds=est.seconds, drawn=est.samples,
                        segment_cache=cache.setdefault("segments", {}), key=self.data_id(key), patch=self.patch,
                        steps=self.steps,
                        calibration=self.calibration if (label, key["samples"]) in self.calibrated else None)
        return {**s.values(), "reliability": est.reliability}

    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]:
        i = self.data_id(key)
        base = {"layer": key["layer"], "strength": key["strength"], "seed": self.seed}
        if values is None:
            return [{"method": label, "samples": key["samples"], "image": key["image"], "index": i, **base,
                     "error": error} for label, _ in self.variants[key["method"]]]
        return [{**image_row(label, key["samples"], key["image"], i, v), **base, "seconds": v["seconds"],
                 "samples_drawn": v["drawn"]} for label, v in values.items()]


class EvaluateSummary:
    """:func:`evaluate`'s rows from the units of its :class:`EvaluateJob`, taken in key order
    (:func:`uqcore.distributed.in_order`): each image's ``on_image`` rows as it comes in, each
    (method, sample count)'s summary rows once its last image is in. The images of a column that
    failed (a bad input on the unit path) are left out: the σ-scaling split is then redrawn over
    the images scored (``n_failed`` says how many are missing)."""

    def __init__(self, model: Any, job: EvaluateJob, split: tuple[list[int], list[int], str], fraction: float,
                 on_image: Callable[[dict[str, Any]], None] | None) -> None:
        self.model, self.job, self.split, self.fraction, self.on_image = model, job, split, fraction, on_image
        self.rows: list[dict[str, Any]] = []
        self._column: list[Any] = []  # the units of the current (method, sample count), in image order

    def add(self, unit: Any) -> None:
        i = len(self._column)
        self._column.append(unit)
        if unit.ok and self.on_image is not None:
            for label, values in unit.values.items():
                self.on_image(image_row(label, unit.key["samples"], self.job.names[i], i, values))
        if len(self._column) == len(self.job.names):
            self.rows += self._summarise(self._column)
            self._column = []

    def _summarise(self, units: list[Any]) -> list[dict[str, Any]]:
        job, key = self.job, units[0].key
        n, setting = key["samples"], {"layer": key["layer"], "strength": key["strength"], "seed": job.seed}
        ok = [i for i, u in enumerate(units) if u.ok]
        failed = len(units) - len(ok)
        rows: list[dict[str, Any]] = []
        for label, _ in job.variants[key["method"]]:
            if not ok:
                rows += summary_rows(self.model, label, n, None,
                                     {**setting, "n_images": 0, "n_failed": failed, "error": units[0].error})
                continue
            c, t, kind = split_images(len(ok), self.fraction, job.seed) if failed else self.split
            values = [units[i].values[label] for i in ok]
            calibration = job.calibration if (label, n) in job.calibrated else None
            scorer = Scorer(self.model, patch=job.patch, steps=job.steps, calibration=calibration, fit_images=c,
                            test_images=t)
            summary = scorer.merge(ImageScore.from_values(v) for v in values).compute()
            reliability = [v["reliability"] for v in values if v.get("reliability") is not None]
            after = {"samples_drawn_min": min(v["drawn"] for v in values),
                     "samples_drawn_max": max(v["drawn"] for v in values),
                     "reliability": float(np.mean(reliability)) if reliability else None,
                     **({"n_failed": failed} if failed else {})}
            rows += summary_rows(self.model, label, n, summary, {**setting, "n_images": len(ok), "n_sigma_fit": len(c),
                                                                 "sigma_split": kind}, after=after)
        return rows
