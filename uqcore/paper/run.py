"""The paper run: splits, tolerability sweeps on the calibration split, tables on the test split."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import distributed
from uqcore.calibration.kinds import Calibration
from uqcore.calibration.fit import Vectors
from uqcore.errors import InputError
from uqcore.hardware import hardware_info
from uqcore.progress import Progress, ProgressBar
from uqcore.datasets.evaluate import method_plan, summary_rows
from uqcore.datasets.folders import centre_crop, list_pair_files, load_pairs, make_lr
from uqcore.io import read_image
from uqcore.engine import methods as _methods
from uqcore.engine.layers import default_layers
from uqcore.engine.model import fingerprint, wrap
from uqcore.models.registry import load_model, model_card
from uqcore.paper.baselines import owns
from uqcore.paper.decision import decision_values
from uqcore.paper.figures import write_figures
from uqcore.paper.heldout import DEPTH_TEST_SEED, depth_heldout, sr_heldout
from uqcore.paper.intervals import COVERAGE_TOLERANCE
from uqcore.paper.markdown import write_outputs
from uqcore.paper.per_image import column_rows, name_rows
from uqcore.paper.report import Report, Settings, check_data, check_models, required_models
from uqcore.paper.table_units import table_scorers
from uqcore.paper.values import (DEPTH_METHODS, MC_DROPOUT, SR_BASELINES, SR_TRAINING_FREE, STUDENT, SWEPT)
from uqcore.engine.estimate import resolve_device
from uqcore.scoring.scorer import EPS, Scorer
from uqcore.datasets.sweep import recommend, sweep


# -- data --------------------------------------------------------------------------------------------
def split_indices(n: int, n_calibration: int, seed: int) -> tuple[list[int], list[int]]:
    """(calibration, test) indices: the first ``n_calibration`` of a seeded permutation, the rest."""
    if n < 2:
        raise InputError(f"the eval set needs at least 2 images for a calibration and a test split, got {n}")
    k = min(max(1, int(n_calibration)), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[:k].tolist()), sorted(perm[k:].tolist())


@dataclass
class Split:
    names: list[str]
    pairs: list[tuple[torch.Tensor, Any]]
    cal: list[int]
    test: list[int]
    heldout_names: list[str] = field(default_factory=list)   # extra calibration images of the error bars
    heldout: list[tuple[torch.Tensor, Any]] = field(default_factory=list)

    def part(self, which: str) -> tuple[list[str], list[tuple[torch.Tensor, Any]]]:
        idx = self.cal if which == "cal" else self.test
        return [self.names[i] for i in idx], [self.pairs[i] for i in idx]


def load_sr_split(folder: str, scale: int, crop: int, limit: int | None, n_cal: int, seed: int,
                  n_heldout: int = 0) -> Split:
    entries = list_pair_files(folder, "sr")[: limit or None]
    names, pairs = [], []
    for name, src, _ in entries:
        lr, hr = make_lr(centre_crop(read_image(src), crop), scale)
        names.append(name)
        pairs.append((lr, hr[0]))
    cal, test = split_indices(len(pairs), n_cal, seed)
    h_names, images = sr_heldout(n_heldout)
    held = [(lr, hr[0]) for lr, hr in (make_lr(centre_crop(img, crop), scale) for img in images)]
    return Split(names=names, pairs=pairs, cal=cal, test=test, heldout_names=h_names, heldout=held)


def load_depth_split(folder: str, model: Any, limit: int | None, n_cal: int, seed: int,
                     n_heldout: int = 0, n_test: int = 0) -> Split:
    """The bundled set split as for SR, plus ``n_test`` rendered scenes (seeds
    :data:`~uqcore.paper.heldout.DEPTH_TEST_SEED`, ...) appended to the test split."""
    names, pairs = load_pairs(folder, model, limit=limit)
    cal, test = split_indices(len(pairs), n_cal, seed)
    extra_names, extra = depth_heldout(n_test, model, seed=DEPTH_TEST_SEED)
    test += range(len(pairs), len(pairs) + len(extra))
    heldout_names, heldout = depth_heldout(n_heldout, model)
    return Split(names=[*names, *extra_names], pairs=[*pairs, *extra], cal=cal, test=test,
                 heldout_names=heldout_names, heldout=heldout)


# -- scoring -----------------------------------------------------------------------------------------
INTERVAL_KINDS = ("conformal", "isotonic", "sigma")
MAX_SPLITS = 500  # re-splits of the images for the conformal spread (all of them when there are fewer)


def _kth_smallest_per_subset(arrays: Sequence[np.ndarray], members: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """For every subset s of the sorted ``arrays`` (``members`` [S, n] bool), the ``ranks[s]``-th
    smallest value (1-based) of the union of its arrays: a bisection on the index into all values
    sorted, every subset at once, each step counting with one ``searchsorted`` per array (exact:
    the smallest value with at least k of the subset's values at or below it)."""
    pooled = np.sort(np.concatenate(arrays))
    lo = np.full(len(members), -1)               # count at pooled[lo] < rank (-1: below every value)
    hi = np.full(len(members), pooled.size - 1)  # count at pooled[hi] >= rank
    while (open_ := hi - lo > 1).any():
        mid = np.where(open_, (lo + hi) // 2, hi)
        enough = _counts_at(arrays, pooled[mid], members) >= ranks
        hi, lo = np.where(enough, mid, hi), np.where(enough, lo, mid)
    return pooled[hi]


def _counts_at(arrays: Sequence[np.ndarray], values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """[S]: how many values of subset s's arrays are <= values[s]."""
    at_or_below = np.stack([np.searchsorted(a, values, side="right") for a in arrays], axis=1)  # [S, n]
    return np.where(members, at_or_below, 0).sum(axis=1)


def conformal_over_splits(scorer: Scorer, level: float, seed: int = 0, extra: Sequence[Vectors] = ()) -> np.ndarray:
    """Test coverage of the conformal interval for every way (at most :data:`MAX_SPLITS`, a seeded
    sample beyond) of choosing as many calibration images as the run has (calibration split +
    ``extra`` held-out ones) from all its images (those + test): how much the one split's
    coverage owes to which images calibrate."""
    eps = EPS
    images = [np.asarray(r, dtype=np.float64) / np.sqrt(np.asarray(v, dtype=np.float64) + eps)[None]
              for r, v in [*scorer.fit_residuals, *extra]]
    images += [s.res.astype(np.float64) / np.sqrt(s.var.astype(np.float64) + eps)[None] for s in scorer.scores]
    scores = [np.sort(np.abs(z).ravel()) for z in images]
    n, k = len(scores), len(scorer.fit_residuals) + len(extra)
    if k < 1 or n - k < 1:
        return np.array([])
    if math.comb(n, k) <= MAX_SPLITS:
        splits = list(itertools.combinations(range(n), k))
    else:
        rng = np.random.default_rng(seed)
        splits = [tuple(sorted(rng.choice(n, size=k, replace=False))) for _ in range(MAX_SPLITS)]
    members = np.zeros((len(splits), n), dtype=bool)
    for s, cal in enumerate(splits):
        members[s, list(cal)] = True
    sizes = np.array([a.size for a in scores])
    totals = np.where(members, sizes, 0).sum(axis=1)
    ranks = np.ceil((totals + 1) * level - 1e-9).astype(np.int64)
    members, ranks = members[ranks <= totals], ranks[ranks <= totals]  # a level the split cannot reach
    if not len(members):
        return np.array([])
    q = _kth_smallest_per_subset(scores, members, ranks)
    return _counts_at(scores, q, ~members) / np.where(~members, sizes, 0).sum(axis=1)


def error_bar_columns(scorer: Scorer, level: float, extra: Sequence[Vectors] = ()) -> dict[str, float]:
    """Calibrated error bars of one column: a split-conformal, an isotonic and a σ-scaling
    calibration at ``level`` fitted on the scorer's calibration images
    (:meth:`Scorer.add_fit_image`) plus the held-out ``extra`` ones and measured on its scored
    (test) images -- ``{kind}_coverage`` (pooled values), ``{kind}_width``,
    ``{kind}_coverage_min`` / ``_max`` (over the test images), ``conformal_q``, ``isotonic_lo`` /
    ``isotonic_hi`` (the recalibrated quantiles, in σ̃) and ``ence_isotonic`` / ``ence_conformal``
    / ``ence_sigma`` (the calibrated variance's ENCE, bins of the raw variance), ``n_interval_calibration``
    (images fitted on), and ``conformal_splits`` / ``_splits_mean`` /
    ``_splits_within`` (:func:`conformal_over_splits`: the number of re-splits, their mean test
    coverage and the share within the bar's tolerance). NaN where a calibration cannot be fitted."""
    data = [*scorer.fit_residuals, *extra]
    out: dict[str, float] = {"n_interval_calibration": len(data)}
    for kind in INTERVAL_KINDS:
        try:
            cal = Calibration.from_residuals(kind, data, level)
        except InputError:
            for k in ("coverage", "width", "coverage_min", "coverage_max"):
                out[f"{kind}_{k}"] = float("nan")
            out[f"ence_{kind}"] = float("nan")
            continue
        pooled = scorer.interval_summary(cal)
        per_image = scorer.image_coverages(cal)
        out.update({f"{kind}_coverage": pooled.coverage, f"{kind}_width": pooled.interval_width,
                    f"{kind}_coverage_min": min(per_image), f"{kind}_coverage_max": max(per_image),
                    f"ence_{kind}": pooled.ence_calibrated})
        if kind == "conformal":
            out["conformal_q"] = cal.fitted["q"]
            spread = conformal_over_splits(scorer, level, extra=extra)
            if spread.size:
                out["conformal_splits"] = int(spread.size)
                out["conformal_splits_mean"] = float(spread.mean())
                out["conformal_splits_within"] = float(np.mean(np.abs(spread - level) <= COVERAGE_TOLERANCE + 1e-12))
        elif kind == "isotonic":
            lo, hi = np.interp([(1.0 - level) / 2.0, (1.0 + level) / 2.0], cal.fitted["cdf"], cal.fitted["z"])
            out["isotonic_lo"], out["isotonic_hi"] = float(lo), float(hi)
    return out


def score_columns(model: Any, cal_pairs: Sequence[tuple[Any, Any]], test_pairs: Sequence[tuple[Any, Any]],
                  methods: Sequence[str], samples: dict[str, tuple[int, ...]], layer: dict[str, str],
                  strength: dict[str, float], seed: int, device: str | None, progress: Progress | None,
                  patch: int = 16, steps: int = 50, interval_level: float | None = None,
                  interval_pairs: Sequence[tuple[Any, Any]] = (), *, workers: int | None = None,
                  ray_address: str | None = None, per_image: list[dict[str, Any]] | None = None,
                  store: Path | None = None) -> list[dict[str, Any]]:
    """Rows like :func:`uqcore.datasets.evaluate.evaluate` (one per method, sample count and level) with
    the metrics computed on ``test_pairs`` and the sigma-scaling fitted on ``cal_pairs`` (an
    explicit calibration list of :class:`uqcore.scoring.scorer.Scorer`): ``variance_scale``,
    ``nll_scaled``, ``calibration_error_scaled`` and ``ence_scaled`` (on the test split with that
    scale), ``nll``, ``calibration_error`` and ``ence`` (on the test split, raw); with
    ``interval_level`` also the calibrated error bars of :func:`error_bar_columns`, fitted on
    ``cal_pairs`` plus ``interval_pairs`` (held-out calibration images used for nothing else), and the
    columns' decision values on the same images (:mod:`uqcore.paper.decision`). Every
    level row carries its 95 % bootstrap interval over the test images; ``per_image`` (a list, if
    given) gets each column's per-image rows (:func:`uqcore.paper.per_image.column_rows`).

    The per-image estimates are the units of :class:`uqcore.paper.table_units.TableJob`, run in
    this process or, with ``workers`` / ``ray_address``, on Ray workers (docs/SCALING.md): the
    same rows but the wall times. ``progress(done, total)`` counts the estimates."""
    held_pairs = interval_pairs if interval_level is not None else ()
    settings = {engine: (layer.get(engine), strength.get(engine)) for engine, _ in method_plan(model, list(methods))}
    rows: list[dict[str, Any]] = []
    for engine, n, label, scorer, held in table_scorers(model, cal_pairs, test_pairs, held_pairs, methods, samples,
                                                        settings, seed, device, progress, patch=patch,
                                                        steps=steps, workers=workers, ray_address=ray_address,
                                                        store=store):
        summary = scorer.compute()
        bars = {} if interval_level is None else error_bar_columns(scorer, interval_level, held)
        bars.update(decision_values([*scorer.fit_residuals, *held], steps))
        cis = column_rows(scorer, label, n, steps, per_image)
        lay, st = settings[engine]
        rows += summary_rows(model, label, n, summary,
                             {"layer": lay, "strength": st, "seed": int(seed), "n_images": len(test_pairs),
                              "n_sigma_fit": len(cal_pairs), "sigma_split": "calibration split"},
                             per_level=cis, extra=bars)
    return rows


def _sweep_model(report: Report, model: Any, split: Split, strengths: dict[str, tuple[float, ...]],
                 scale_out: dict[str, Any]) -> None:
    s = report.settings
    _, cal = split.part("cal")
    if model.task in s.sweep_heldout_tasks:
        cal = [*cal, *split.heldout]
    xs, ts = [p[0] for p in cal], [p[1] for p in cal]
    layers = default_layers(model, s.sweep_layers)
    for method in SWEPT:
        t0 = time.perf_counter()
        fresh = _fresh(_kept(report, f"sweep-{method}", model))
        grid = tuple(strengths[method])

        def run(grid_part: tuple[float, ...], desc: str) -> list[dict[str, Any]]:
            with ProgressBar(len(layers) * len(grid_part) * len(xs), desc) as bar:
                return sweep(model, xs, ts, method=method, layers=layers, strengths=grid_part,
                             samples=s.sweep_samples, seed=s.seed, device=s.device, progress=bar,
                             **scale_out, **_resumed(_kept(report, f"sweep-{method}", model)))

        rows = run(grid, f"sweep {model.name} {method}")
        best = recommend(rows, s.tolerance)
        # the grid grows while its largest strength is the choice: neither the tolerance nor a
        # falling correlation has bounded it yet
        for _ in range(s.grid_growth):
            grown = grown_strength(method, grid[-1]) if best is not None and best["strength"] == grid[-1] else None
            if grown is None:
                break
            grid = (*grid, grown)
            rows += run((grown,), f"sweep {model.name} {method} {grown:g}")
            best = recommend(rows, s.tolerance)
        for r in rows:
            r["model"] = model.name
        fallback = best is None
        if fallback:
            finite = [r for r in rows if r.get("loss_increase") is not None and math.isfinite(r["loss_increase"])]
            best = min(finite or rows, key=lambda r: r.get("loss_increase") or 0.0)
        report.sweeps[(model.name, method)] = rows
        report.chosen[(model.name, method)] = best
        report.fallback[(model.name, method)] = fallback
        where = "calibration split + held-out" if model.task in s.sweep_heldout_tasks else "calibration split"
        _timing(report, _kept(report, f"sweep-{method}", model), f"sweep {model.name} infer-{method} ({where})",
                time.perf_counter() - t0, f"{len(layers)} layers x {len(grid)} strengths x {len(xs)} images, "
                                          f"{s.sweep_samples} samples", fresh)


def _table(report: Report, key: str, model: Any, split: Split, methods: Sequence[str],
           samples: dict[str, tuple[int, ...]], desc: str, scale_out: dict[str, Any]) -> list[dict[str, Any]]:
    s = report.settings
    layer = {m: report.chosen[(model.name, m)]["layer"] for m in SWEPT
             if (model.name, m) in report.chosen}
    strength = {m: float(report.chosen[(model.name, m)]["strength"]) for m in SWEPT
                if (model.name, m) in report.chosen}
    engines = [engine for engine, _ in method_plan(model, methods)]
    n_est = sum(len(samples[e]) for e in engines) * (len(split.cal) + len(split.test) + len(split.heldout))
    t0 = time.perf_counter()
    store = _kept(report, f"table-{key}", model)
    fresh = _fresh(store)
    _, cal = split.part("cal")
    names, test = split.part("test")
    images: list[dict[str, Any]] = []
    with ProgressBar(n_est, desc) as bar:
        rows = score_columns(model, cal, test, methods, samples, layer, strength, s.seed, s.device, bar,
                             interval_level=s.interval_level, interval_pairs=split.heldout,
                             per_image=images, store=store, **scale_out)
    for r in rows:
        r["table"] = key
    report.per_image.setdefault(key, []).extend(name_rows(images, names, model.name, key, model.task))
    _timing(report, store, desc, time.perf_counter() - t0,
            f"{n_est} estimates ({len(cal)} calibration + {len(test)} test + {len(split.heldout)} held-out "
            "calibration images per column)", fresh)
    return rows


def _student(model: Any) -> list[str]:
    """The Student column where ``model`` has a student head (a bundled one is attached on load)."""
    return [STUDENT] if STUDENT in model.methods else []


def run_reproduction(s: Settings, command: str = "", out: Path | None = None, figures: Path | None = None,
                     render: bool = True, *, workers: int | None = None, ray_address: str | None = None,
                     cache: Path | None = None) -> Report:
    """Run everything and return the report (written to ``out`` if given).

    ``workers`` / ``ray_address``: the sweeps' settings and the tables' per-image estimates run
    on Ray workers (:func:`uqcore.distributed.run_job`; one Ray session for the whole run, a local
    one started and shut down here unless ``ray_address`` names a cluster or ``ray.init`` was
    already called); the numbers are the serial run's, only the wall times differ. ``RAY_ADDRESS``
    is honoured when ``workers`` is given. Neither: everything runs in this process, serially.
    ``cache``: a folder that keeps every sweep and table unit as it finishes; a later run with the
    same folder reuses the units of unchanged models, settings and images (an interrupted run
    continues where it stopped; new weights recompute only their own columns)."""
    check_models(s)
    check_data(s)
    t_start = time.perf_counter()
    report = Report(settings=s, command=command, started=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    hardware=hardware_info(resolve_device(s.device)), cache=None if cache is None else Path(cache))
    for name in required_models(s):
        report.cards[name] = model_card(name)
    torch.manual_seed(s.seed)
    workers = distributed.check_workers(workers)
    ray_address = distributed.resolve_address(workers, ray_address)
    scale_out = {} if workers is None and ray_address is None else {"workers": workers, "ray_address": ray_address}
    with distributed.session(workers, ray_address):
        _sr_tables(report, scale_out)
        _depth_table(report, scale_out)

    # -- figures ---------------------------------------------------------------------------------
    if render and figures is not None:
        t0 = time.perf_counter()
        write_figures(report, figures)
        report.timings.append(("Fig. 4 PNGs", time.perf_counter() - t0, report.figure_note or "plotly + kaleido"))
    report.total_seconds = time.perf_counter() - t_start
    if out is not None:
        write_outputs(report, out, figures)
    return report


def _kept(report: Report, part: str, model: Any) -> Path | None:
    """The run folder of one sweep or table when the run keeps its units (``cache``): one per
    part, model weights (and student head) and seed, so a rerun reuses exactly the units whose
    model, settings and images are unchanged and recomputes the rest."""
    if report.cache is None:
        return None
    ident = fingerprint(model)
    if getattr(model, "student", None) is not None:  # the Student column depends on the head too
        ident += "-" + fingerprint(wrap(model.student, task=model.task, name="student"))
    return report.cache / f"{part}-{model.name}-{ident}-seed{report.settings.seed}"


TIMING_FILE = "seconds.json"  # in a kept part's folder: the wall time of the run that computed it


def _fresh(store: Path | None) -> bool:
    """Whether a kept part starts from nothing in this run (its seconds are then the computation's)."""
    return store is not None and not store.exists()


def _timing(report: Report, store: Path | None, part: str, seconds: float, what: str, fresh: bool) -> None:
    """One row of the timings. With a cache, a part computed from nothing records its seconds in
    its folder, and a later run that reuses the part reports those, saying so: the wall time of
    reading kept units is no measure of the work."""
    if store is not None and fresh:
        store.mkdir(parents=True, exist_ok=True)
        (store / TIMING_FILE).write_text(json.dumps({"seconds": seconds, "run": report.started}))
    elif store is not None and (store / TIMING_FILE).is_file():
        kept = json.loads((store / TIMING_FILE).read_text())
        seconds, what = float(kept["seconds"]), f"{what}; kept from the run of {kept['run']} (reproduce --cache)"
    elif store is not None:
        what += "; partly from kept units (reproduce --cache): this run's wall time"
    report.timings.append((part, seconds, what))


def _resumed(store: Path | None) -> dict[str, Any]:
    return {} if store is None else {"store": store, "resume": True}


def grown_strength(method: str, largest: float) -> float | None:
    """The next strength past a sweep grid's largest: twice it for an unbounded strength (noise
    std), halfway to the bound for a bounded one (a dropout rate, below 1); None once that is
    within 5 % of the bound."""
    bound = _methods.spec(method).strength_max
    if bound is None:
        return 2 * largest
    nxt = (largest + bound) / 2
    return nxt if nxt < 0.95 * bound else None


def _strengths(s: Settings) -> dict[str, tuple[float, ...]]:
    return dict(zip(SWEPT, (tuple(s.noise_strengths), tuple(s.dropout_strengths))))


def _sr_tables(report: Report, scale_out: dict[str, Any]) -> None:
    """Super-resolution: the split, the sweeps of each SR model, Table 1 per SR model, the baselines."""
    s = report.settings
    sr_models = [load_model(n) for n in s.sr_models]
    base = {field: load_model(getattr(s, field)) for field, _, _ in SR_BASELINES}
    for m in [*sr_models, *base.values()]:
        if m.task != "sr":
            raise InputError(f"model {m.name!r} is a {m.task} model; the SR tables need super-resolution models")
    scale = sr_models[0].scale
    if any(m.scale != scale for m in [*sr_models, *base.values()]):
        raise InputError("all SR models of the reproduction must have the same scale")
    sr_split = load_sr_split(s.sr_data, scale, s.sr_crop, s.sr_limit, s.sr_calibration, s.seed, s.sr_heldout)
    report.splits["sr"] = {"calibration": sr_split.part("cal")[0], "test": sr_split.part("test")[0],
                           "heldout": sr_split.heldout_names}
    for m in sr_models:
        _sweep_model(report, m, sr_split, _strengths(s), scale_out)
    sr_tf = list(SR_TRAINING_FREE)
    for m in sr_models:
        rows = _table(report, m.name, m, sr_split, sr_tf + _student(m), s.sr_samples, f"table {m.name} (training-free)",
                      scale_out)
        report.tables.setdefault(m.name, []).extend(rows)
    # The training-required baselines are separate models (fine-tuned / trained from an SR model):
    # scored once and shown only in the table of the model they were made from (baselines.owns).
    # Two likelihood models share the engine method "llm": each gets its own column name.
    baseline_rows: list[dict[str, Any]] = []
    for key, methods, columns in SR_BASELINES:
        model = base[key]
        rename = dict(zip(methods, columns))
        before = len(report.per_image.get("baselines", []))
        rows = _table(report, "baselines", model, sr_split, methods, s.sr_samples, f"table {model.name}", scale_out)
        baseline_rows.extend(dict(r, method=rename.get(r["method"], r["method"])) for r in rows)
        images = report.per_image.get("baselines", [])
        images[before:] = [dict(r, method=rename.get(r["method"], r["method"])) for r in images[before:]]
        for column in columns:
            report.baselines[column] = model.name
    for m in sr_models:
        report.tables[m.name].extend(dict(r, table=m.name) for r in baseline_rows if owns(report, m.name, r["model"]))
        report.per_image[m.name].extend(dict(r, table=m.name) for r in report.per_image.get("baselines", [])
                                        if owns(report, m.name, r["model"]))
    report.per_image.pop("baselines", None)


def _depth_table(report: Report, scale_out: dict[str, Any]) -> None:
    """Depth: the split, the sweeps and Table 2 of the depth model."""
    s = report.settings
    depth = load_model(s.depth_model)
    if depth.task != "depth":
        raise InputError(f"model {depth.name!r} is a {depth.task} model; Table 2 needs a depth model")
    if MC_DROPOUT not in depth.methods:
        raise InputError(f"model {depth.name!r} has no dropout layer of its own; Table 2's MC-dropout needs one")
    d_split = load_depth_split(s.depth_data, depth, s.depth_limit, s.depth_calibration, s.seed, s.depth_heldout,
                               s.depth_test)
    report.splits["depth"] = {"calibration": d_split.part("cal")[0], "test": d_split.part("test")[0],
                              "heldout": d_split.heldout_names}
    _sweep_model(report, depth, d_split, _strengths(s), scale_out)
    report.tables[depth.name] = _table(report, depth.name, depth, d_split,
                                       [*DEPTH_METHODS, *_student(depth)],
                                       s.depth_samples, f"table {depth.name}", scale_out)
