"""``python -m uqcore reproduce``: the paper's Tables 1-2 and Fig. 4 on the bundled models.

Mi et al., "Training-Free Uncertainty Estimation for Dense Regression: Sensitivity as a
Surrogate", AAAI 2022. One command runs, on the bundled models and eval sets, and writes
``docs/RESULTS.md`` (plus ``docs/results_rows.csv`` / ``docs/results_sweeps.csv`` and the
``docs/figures/fig4_*.png`` tolerability plots):

1. **Split.** Each eval set (``assets/samples/sr``: HR images; ``assets/samples/depth``:
   RGB + 16-bit depth scenes) is split into a *calibration* split and a *test* split by a
   seeded permutation (``numpy.random.default_rng(seed).permutation``; the first
   ``--sr-calibration`` / ``--depth-calibration`` images of the permutation are the
   calibration split). SR images are first centre-cropped to at most ``--sr-crop`` pixels
   per side (then to a multiple of the scale) and bicubic-downscaled to make the input
   (:func:`uqcore.evaluation.make_lr`).
2. **Tolerability sweeps** (Fig. 4 analog) on the calibration split, for each SR model
   (``srresnet``, ``srgan``) and the depth model (``fcrn``), for infer-noise and
   infer-dropout: :func:`uqcore.sweep.sweep` over ~4 layers spread from early to late
   (:func:`uqcore.sweep.default_layers`) x a few strengths. The setting used on the test
   split is :func:`uqcore.sweep.recommend` with ``--tolerance`` (default 5 % relative loss
   increase): the highest pixel correlation among settings whose loss after perturbation is
   at most 5 % above the unperturbed loss. If no setting qualifies, the setting with the
   smallest loss increase is used (and the report says so).
3. **Tables** on the test split: Table 1 analog for each SR model (infer-transformation 4 / 8,
   infer-dropout and infer-noise 8 / 32 at the chosen settings, MC-drop1 / MC-drop2 8 / 32 with
   ``srresnet-mcdrop``, the ensemble ``srresnet-ens`` (4 members), the likelihood head
   ``srresnet-llm``) and Table 2 analog for ``fcrn`` (transformation 2 = identity + flip,
   dropout / noise 2 / 8, MC-drop1 / MC-drop2 2 / 8 with FCRN's own dropout layer). Rows: AUSE
   and Pearson correlation at the mean / patch / block / pixel levels, NLL, and -- beyond the
   paper -- the NLL after sigma-scaling, whose variance scale is fitted on the calibration
   split (:func:`uqcore.metrics.fit_scale_vectors`) and applied to the test split. Metric
   definitions: :mod:`uqcore.metrics` and :mod:`uqcore.evaluation`.
4. **Discussion** generated from the numbers: each of the paper's claims is tested with a
   stated rule (see :func:`discussion`) on our numbers and, where the rule applies, on the
   paper's published numbers (:data:`PAPER_TABLES`), so the report says where they agree.

``--quick`` runs the same pipeline on fewer and smaller images with fewer settings and sample
counts (about a minute on a 2-core CPU); CI runs it to keep the command working.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import metrics as M
from uqcore.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SR_DATA = ROOT / "assets" / "samples" / "sr"
DEPTH_DATA = ROOT / "assets" / "samples" / "depth"
DEFAULT_OUT = ROOT / "docs" / "RESULTS.md"

LEVELS = ("mean", "patch", "block", "pixel")
METRIC_ROWS = tuple(f"AUSE {lv}" for lv in LEVELS) + tuple(f"Corr {lv}" for lv in LEVELS) + ("NLL",)
TRAINING_FREE = ("transform", "dropout", "noise")
TRAINING_REQUIRED = ("mc_dropout1", "mc_dropout2", "ensemble", "llm")
METHOD_LABELS = {
    "transform": "Infer-trans", "dropout": "Infer-drop", "noise": "Infer-noise", "mc_dropout1": "MC-drop1",
    "mc_dropout2": "MC-drop2", "ensemble": "Ensemble", "llm": "LLM",
}
# A training-free method is "within reach" of the training-required ones at a level when its best
# correlation is at most this much (absolute) below theirs.
REACH_MARGIN = 0.05

# -- the paper's published numbers ------------------------------------------------------------------
# Table 1 (SRGAN, SRresnet) and Table 2 (FCRN) of the paper, transcribed verbatim. Columns are
# (method, samples); the likelihood head (LLM) is sampling-free ("0" samples in the paper), keyed
# here by the 1 sample we request from the engine.
PAPER_SR_COLUMNS: tuple[tuple[str, int], ...] = (
    ("transform", 4), ("transform", 8), ("dropout", 8), ("dropout", 32), ("noise", 8), ("noise", 32),
    ("mc_dropout1", 8), ("mc_dropout1", 32), ("mc_dropout2", 8), ("mc_dropout2", 32),
    ("ensemble", 4), ("ensemble", 8), ("llm", 1),
)
PAPER_DEPTH_COLUMNS: tuple[tuple[str, int], ...] = (
    ("transform", 2), ("dropout", 2), ("dropout", 8), ("noise", 2), ("noise", 8),
    ("mc_dropout1", 2), ("mc_dropout1", 8), ("mc_dropout2", 2), ("mc_dropout2", 8),
)
_PAPER_VALUES: dict[str, dict[str, tuple[float, ...]]] = {
    "srgan": {  # Table 1, "SRGAN model: Super Resolution"
        "AUSE mean": (0.006, 0.006, 0.013, 0.013, 0.016, 0.016, 0.008, 0.009, 0.007, 0.007, 0.018, 0.020, 0.035),
        "AUSE patch": (0.021, 0.022, 0.029, 0.030, 0.040, 0.039, 0.029, 0.029, 0.025, 0.025, 0.033, 0.033, 0.044),
        "AUSE block": (0.023, 0.023, 0.032, 0.031, 0.044, 0.043, 0.030, 0.029, 0.028, 0.028, 0.033, 0.033, 0.042),
        "AUSE pixel": (0.128, 0.121, 0.154, 0.141, 0.173, 0.162, 0.141, 0.131, 0.137, 0.129, 0.152, 0.144, 0.137),
        "Corr mean": (0.931, 0.930, 0.884, 0.882, 0.774, 0.780, 0.942, 0.943, 0.938, 0.936, 0.692, 0.694, 0.484),
        "Corr patch": (0.765, 0.770, 0.722, 0.731, 0.590, 0.598, 0.748, 0.755, 0.734, 0.741, 0.674, 0.677, 0.565),
        "Corr block": (0.757, 0.767, 0.717, 0.730, 0.579, 0.592, 0.735, 0.747, 0.698, 0.710, 0.651, 0.664, 0.588),
        "Corr pixel": (0.367, 0.394, 0.323, 0.376, 0.245, 0.288, 0.339, 0.390, 0.330, 0.379, 0.290, 0.326, 0.393),
        "NLL": (17.910, 9.332, 4.889, 4.804, 4.899, 4.791, 6.804, 6.013, 6.365, 5.541, 11.520, 5.994, 1.320),
    },
    "srresnet": {  # Table 1, "SRresnet model: Super Resolution"
        "AUSE mean": (0.044, 0.044, 0.042, 0.043, 0.067, 0.066, 0.041, 0.047, 0.036, 0.039, 0.073, 0.066, 0.036),
        "AUSE patch": (0.045, 0.044, 0.048, 0.047, 0.055, 0.055, 0.046, 0.045, 0.040, 0.041, 0.066, 0.066, 0.037),
        "AUSE block": (0.047, 0.045, 0.049, 0.048, 0.062, 0.061, 0.048, 0.046, 0.041, 0.042, 0.073, 0.070, 0.031),
        "AUSE pixel": (0.164, 0.153, 0.165, 0.155, 0.190, 0.181, 0.163, 0.152, 0.150, 0.144, 0.194, 0.185, 0.133),
        "Corr mean": (0.340, 0.359, 0.401, 0.404, 0.056, 0.055, 0.408, 0.379, 0.527, 0.512, 0.016, 0.048, 0.622),
        "Corr patch": (0.501, 0.520, 0.508, 0.518, 0.371, 0.385, 0.535, 0.545, 0.547, 0.542, 0.323, 0.361, 0.648),
        "Corr block": (0.462, 0.486, 0.498, 0.509, 0.358, 0.370, 0.505, 0.521, 0.531, 0.529, 0.274, 0.286, 0.673),
        "Corr pixel": (0.237, 0.269, 0.258, 0.303, 0.172, 0.216, 0.264, 0.309, 0.288, 0.322, 0.184, 0.206, 0.393),
        "NLL": (107.243, 43.071, 5.155, 4.955, 4.941, 4.788, 8.430, 7.221, 8.018, 6.688, 13.559, 7.906, 1.422),
    },
    "fcrn": {  # Table 2, "FCRN model: Depth Estimation"
        "AUSE mean": (0.051, 0.044, 0.041, 0.046, 0.041, 0.062, 0.062, 0.060, 0.062),
        "AUSE patch": (0.106, 0.109, 0.092, 0.108, 0.091, 0.127, 0.126, 0.122, 0.125),
        "AUSE block": (0.056, 0.057, 0.047, 0.053, 0.045, 0.065, 0.065, 0.063, 0.065),
        "AUSE pixel": (0.165, 0.168, 0.135, 0.167, 0.134, 0.208, 0.193, 0.207, 0.193),
        "Corr mean": (0.596, 0.630, 0.677, 0.651, 0.708, 0.473, 0.471, 0.469, 0.469),
        "Corr patch": (0.324, 0.306, 0.409, 0.312, 0.411, 0.258, 0.268, 0.266, 0.269),
        "Corr block": (0.354, 0.354, 0.449, 0.364, 0.447, 0.215, 0.220, 0.220, 0.221),
        "Corr pixel": (0.208, 0.182, 0.284, 0.188, 0.288, 0.075, 0.134, 0.076, 0.134),
        "NLL": (8.634, 8.443, 4.889, 3.526, 1.006, 12.365, 9.842, 12.503, 9.866),
    },
}
PAPER_TABLE_NAMES = {"srgan": "Table 1 (SRGAN)", "srresnet": "Table 1 (SRresnet)", "fcrn": "Table 2 (FCRN)"}


def _paper_tables() -> dict[str, dict[tuple[str, int], dict[str, float]]]:
    out: dict[str, dict[tuple[str, int], dict[str, float]]] = {}
    for name, rows in _PAPER_VALUES.items():
        cols = PAPER_DEPTH_COLUMNS if name == "fcrn" else PAPER_SR_COLUMNS
        out[name] = {col: {row: rows[row][j] for row in METRIC_ROWS} for j, col in enumerate(cols)}
    return out


# PAPER_TABLES[table][(method, samples)][row label] -> published value
PAPER_TABLES = _paper_tables()

Progress = Callable[[int], None]


# -- settings -----------------------------------------------------------------------------------------
@dataclass
class Settings:
    """Everything that decides the numbers (recorded in RESULTS.md)."""

    quick: bool = False
    seed: int = 0
    sr_models: tuple[str, ...] = ("srresnet", "srgan")
    mcdrop_model: str = "srresnet-mcdrop"
    ensemble_model: str = "srresnet-ens"
    llm_model: str = "srresnet-llm"
    depth_model: str = "fcrn"
    sr_data: str = str(SR_DATA)
    depth_data: str = str(DEPTH_DATA)
    sr_limit: int | None = None       # first N images (sorted by name) of the SR eval set; None = all
    sr_calibration: int = 4           # of them, this many form the calibration split
    sr_crop: int = 256                # HR centre crop (pixels per side, at most); 0 = whole image
    depth_limit: int | None = None
    depth_calibration: int = 4
    sweep_layers: int = 4             # layers spread from early to late (uqcore.sweep.default_layers)
    noise_strengths: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    dropout_strengths: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5)
    sweep_samples: int = 8
    tolerance: float = 0.05
    sr_samples: dict[str, tuple[int, ...]] = field(default_factory=lambda: {
        "transform": (4, 8), "dropout": (8, 32), "noise": (8, 32), "mc_dropout": (8, 32), "ensemble": (4,),
        "llm": (1,)})
    depth_samples: dict[str, tuple[int, ...]] = field(default_factory=lambda: {
        "transform": (2,), "dropout": (2, 8), "noise": (2, 8), "mc_dropout": (2, 8)})
    device: str | None = None


QUICK = dict(
    quick=True, sr_limit=5, sr_calibration=2, sr_crop=96, depth_limit=5, depth_calibration=2, sweep_layers=3,
    noise_strengths=(0.02, 0.1), dropout_strengths=(0.05, 0.2), sweep_samples=4,
    sr_samples={"transform": (4,), "dropout": (8,), "noise": (8,), "mc_dropout": (8,), "ensemble": (4,), "llm": (1,)},
    depth_samples={"transform": (2,), "dropout": (2,), "noise": (2,), "mc_dropout": (2,)},
)


def required_models(s: Settings) -> list[str]:
    return [*s.sr_models, s.mcdrop_model, s.ensemble_model, s.llm_model, s.depth_model]


def check_models(s: Settings) -> None:
    """Raise InputError naming every required model that is not in the zoo."""
    from uqcore.models.registry import list_models, model_dirs

    have = set(list_models())
    missing = [m for m in required_models(s) if m not in have]
    if missing:
        raise InputError(
            f"reproduce needs the bundled model(s) {', '.join(repr(m) for m in missing)}, which are not in "
            f"{', '.join(str(d) for d in model_dirs())}; train them (docs/MODELS.md: scripts/train_sr_zoo.sh, "
            "python -m uqcore train depth) or name other models with --sr-models / --mcdrop-model / "
            "--ensemble-model / --llm-model / --depth-model")


# -- data --------------------------------------------------------------------------------------------
def split_indices(n: int, n_calibration: int, seed: int) -> tuple[list[int], list[int]]:
    """(calibration, test) indices: the first ``n_calibration`` of a seeded permutation, the rest."""
    if n < 2:
        raise InputError(f"the eval set needs at least 2 images for a calibration and a test split, got {n}")
    k = min(max(1, int(n_calibration)), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[:k].tolist()), sorted(perm[k:].tolist())


def centre_crop(img: torch.Tensor, side: int) -> torch.Tensor:
    """Centre crop [.., H, W] to at most ``side`` x ``side`` (0: unchanged)."""
    if side <= 0:
        return img
    h, w = img.shape[-2:]
    ch, cw = min(h, side), min(w, side)
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[..., top:top + ch, left:left + cw]


@dataclass
class Split:
    names: list[str]
    pairs: list[tuple[torch.Tensor, Any]]
    cal: list[int]
    test: list[int]

    def part(self, which: str) -> tuple[list[str], list[tuple[torch.Tensor, Any]]]:
        idx = self.cal if which == "cal" else self.test
        return [self.names[i] for i in idx], [self.pairs[i] for i in idx]


def load_sr_split(folder: str, scale: int, crop: int, limit: int | None, n_cal: int, seed: int) -> Split:
    from uqcore.evaluation import list_pair_files, make_lr
    from uqcore.io import read_image

    entries = list_pair_files(folder, "sr")[: limit or None]
    names, pairs = [], []
    for name, src, _ in entries:
        lr, hr = make_lr(centre_crop(read_image(src), crop), scale)
        names.append(name)
        pairs.append((lr, hr[0]))
    cal, test = split_indices(len(pairs), n_cal, seed)
    return Split(names, pairs, cal, test)


def load_depth_split(folder: str, model: Any, limit: int | None, n_cal: int, seed: int) -> Split:
    from uqcore.evaluation import load_pairs

    names, pairs = load_pairs(folder, model, limit=limit)
    cal, test = split_indices(len(pairs), n_cal, seed)
    return Split(list(names), list(pairs), cal, test)


# -- scoring -----------------------------------------------------------------------------------------
def _fit_vectors(model: Any, pred: torch.Tensor, variance: torch.Tensor, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(squared residual [C, N], variance [N]) on the valid pixels: what sigma-scaling is fitted on.
    The same arithmetic as :mod:`uqcore.evaluation` (depth outputs resized to the target)."""
    from uqcore.sweep import _resize_to

    tshape = tuple(target.shape[-2:])
    mask = None
    if model.task == "depth":
        pred, variance = _resize_to(pred, tshape), _resize_to(variance, tshape)
        mask = M.valid_mask(target)
    p = pred.double().numpy()
    v = variance.double().numpy()
    valid = np.ones(tshape, bool) if mask is None else mask
    pc = p if p.ndim == 3 else p[None]
    tc = target if target.ndim == 3 else target[None]
    return (pc - tc)[:, valid] ** 2, v[valid]


def score_columns(model: Any, cal_pairs: Sequence[tuple[Any, Any]], test_pairs: Sequence[tuple[Any, Any]],
                  methods: Sequence[str], samples: dict[str, tuple[int, ...]], layer: dict[str, str],
                  strength: dict[str, float], seed: int, device: str | None, progress: Progress | None,
                  segment_cache: dict | None = None, patch: int = 16, steps: int = 50) -> list[dict[str, Any]]:
    """Rows like :func:`uqcore.evaluation.evaluate` (one per method, sample count and level) with
    the metrics computed on ``test_pairs`` and the sigma-scaling fitted on ``cal_pairs``:
    ``variance_scale`` (fitted on the calibration split), ``nll_scaled`` and
    ``calibration_error_scaled`` (on the test split with that scale), ``nll`` and
    ``calibration_error`` (on the test split, raw)."""
    from uqcore.evaluation import EPS, _method_plan, _prepare_target, _score, _summarise
    from uqcore.sampler import estimate

    plan = _method_plan(model, list(methods))
    cal_t = [_prepare_target(model, t) for _, t in cal_pairs]
    test_t = [_prepare_target(model, t) for _, t in test_pairs]
    cache = {} if segment_cache is None else segment_cache
    rows: list[dict[str, Any]] = []
    for engine, variants in plan:
        lay, st = layer.get(engine), strength.get(engine)
        for n in samples[engine]:
            fit: dict[str, tuple[list, list]] = {label: ([], []) for label, _ in variants}
            scores: dict[str, list] = {label: [] for label, _ in variants}
            for which, pairs, targets in (("cal", cal_pairs, cal_t), ("test", test_pairs, test_t)):
                for i, (x, _) in enumerate(pairs):
                    est = estimate(model, x, method=engine, layer=lay, strength=st, samples=int(n), seed=seed,
                                   device=device)
                    for label, source in variants:
                        pred = getattr(est, source)
                        if which == "cal":
                            r2, v = _fit_vectors(model, pred, est.variance, targets[i])
                            fit[label][0].append(r2.mean(0))
                            fit[label][1].append(v)
                        else:
                            scores[label].append(_score(model, pred, est.variance, targets[i], est.seconds,
                                                        est.samples, cache, ("test", i), patch, steps))
                    if progress is not None:
                        progress(1)
            nt = len(test_pairs)
            for label, _ in variants:
                summary = _summarise(scores[label], list(range(nt)), list(range(nt)), steps)
                common = dict(summary["common"])
                try:
                    scale = M.fit_scale_vectors(np.concatenate(fit[label][0]), np.concatenate(fit[label][1]), EPS)
                except InputError:
                    scale = float("nan")  # zero variance on the whole calibration split
                test_scores = scores[label]
                r2_test = np.concatenate([s.r2 for s in test_scores], axis=1).astype(np.float64)
                v_test = np.concatenate([s.var for s in test_scores]).astype(np.float64)
                common["variance_scale"] = scale
                common["nll_heldout"] = common["nll"]
                if math.isfinite(scale):
                    common["nll_scaled"] = float(np.mean([
                        M.nll_vectors(s.r2.astype(np.float64), scale * s.var.astype(np.float64), EPS)
                        for s in test_scores]))
                    e, o = M.calibration_vectors(r2_test, scale * v_test, eps=EPS)
                    common["calibration_error_scaled"] = float(np.mean((e - o) ** 2))
                else:
                    common["nll_scaled"] = common["calibration_error_scaled"] = float("nan")
                for level in LEVELS:
                    rows.append({"method": label, "samples": int(n), "level": level, **summary[level], **common,
                                 "layer": lay, "strength": st, "seed": int(seed), "n_images": nt,
                                 "n_calibration": len(cal_pairs), "calibration": "calibration split",
                                 "task": model.task, "model": model.name})
    return rows


# -- the run ----------------------------------------------------------------------------------------
@dataclass
class Report:
    settings: Settings
    command: str
    started: str
    hardware: dict[str, Any]
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    splits: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    sweeps: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    chosen: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fallback: dict[tuple[str, str], bool] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    baselines: dict[str, str] = field(default_factory=dict)  # method -> model that produced it
    figures: dict[tuple[str, str], str] = field(default_factory=dict)
    figure_note: str = ""
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    total_seconds: float = 0.0


def hardware_info(device: str | None) -> dict[str, Any]:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    from uqcore.sampler import resolve_device

    dev = resolve_device(device)
    info = {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "device": str(dev),
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}
    try:
        info["load_average"] = tuple(round(v, 2) for v in os.getloadavg())
    except OSError:
        info["load_average"] = None
    return info


class _Bar:
    """A tqdm bar on stderr; ``update(k)`` as progress callback."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="est", file=sys.stderr, dynamic_ncols=True)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()

    def step(self, k: int = 1) -> None:
        self.bar.update(k)

    def absolute(self, done: int, total: int) -> None:
        self.bar.update(done - self.bar.n)


def _sweep_model(report: Report, model: Any, split: Split, strengths: dict[str, tuple[float, ...]]) -> None:
    from uqcore.sweep import default_layers, recommend, sweep

    s = report.settings
    _, cal = split.part("cal")
    xs, ts = [p[0] for p in cal], [p[1] for p in cal]
    layers = default_layers(model, s.sweep_layers)
    for method in ("noise", "dropout"):
        t0 = time.perf_counter()
        n = len(layers) * len(strengths[method]) * len(xs)
        with _Bar(n, f"sweep {model.name} {method}") as bar:
            rows = sweep(model, xs, ts, method=method, layers=layers, strengths=strengths[method],
                         samples=s.sweep_samples, seed=s.seed, device=s.device, progress=bar.absolute)
        for r in rows:
            r["model"] = model.name
        best = recommend(rows, s.tolerance)
        fallback = best is None
        if fallback:
            finite = [r for r in rows if r.get("loss_increase") is not None and math.isfinite(r["loss_increase"])]
            best = min(finite or rows, key=lambda r: r.get("loss_increase") or 0.0)
        report.sweeps[(model.name, method)] = rows
        report.chosen[(model.name, method)] = best
        report.fallback[(model.name, method)] = fallback
        report.timings.append((f"sweep {model.name} infer-{method} (calibration split)", time.perf_counter() - t0,
                               f"{len(layers)} layers x {len(strengths[method])} strengths x {len(xs)} images, "
                               f"{s.sweep_samples} samples"))


def _table(report: Report, key: str, model: Any, split: Split, methods: Sequence[str],
           samples: dict[str, tuple[int, ...]], desc: str, cache: dict) -> list[dict[str, Any]]:
    s = report.settings
    layer = {m: report.chosen[(model.name, m)]["layer"] for m in ("noise", "dropout")
             if (model.name, m) in report.chosen}
    strength = {m: float(report.chosen[(model.name, m)]["strength"]) for m in ("noise", "dropout")
                if (model.name, m) in report.chosen}
    from uqcore.evaluation import METHOD_VARIANTS

    engines = list(dict.fromkeys(METHOD_VARIANTS[m][0] for m in methods))
    n_est = sum(len(samples[e]) for e in engines) * (len(split.cal) + len(split.test))
    t0 = time.perf_counter()
    _, cal = split.part("cal")
    _, test = split.part("test")
    with _Bar(n_est, desc) as bar:
        rows = score_columns(model, cal, test, methods, samples, layer, strength, s.seed, s.device, bar.step,
                             segment_cache=cache)
    for r in rows:
        r["table"] = key
    report.timings.append((desc, time.perf_counter() - t0, f"{n_est} estimates ({len(cal)} calibration + "
                                                           f"{len(test)} test images per column)"))
    return rows


def run_reproduction(s: Settings, command: str = "", out: Path | None = None, figures: Path | None = None,
                     render: bool = True) -> Report:
    """Run everything and return the report (written to ``out`` if given)."""
    from uqcore.models.registry import load_model, model_card

    check_models(s)
    t_start = time.perf_counter()
    report = Report(settings=s, command=command, started=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    hardware=hardware_info(s.device))
    for name in required_models(s):
        report.cards[name] = model_card(name)
    torch.manual_seed(s.seed)
    strengths = {"noise": tuple(s.noise_strengths), "dropout": tuple(s.dropout_strengths)}

    # -- super-resolution ------------------------------------------------------------------------
    sr_models = [load_model(n) for n in s.sr_models]
    base = {"mc": load_model(s.mcdrop_model), "ens": load_model(s.ensemble_model), "llm": load_model(s.llm_model)}
    for m in [*sr_models, *base.values()]:
        if m.task != "sr":
            raise InputError(f"model {m.name!r} is a {m.task} model; the SR tables need super-resolution models")
    scale = sr_models[0].scale
    if any(m.scale != scale for m in [*sr_models, *base.values()]):
        raise InputError("all SR models of the reproduction must have the same scale")
    sr_split = load_sr_split(s.sr_data, scale, s.sr_crop, s.sr_limit, s.sr_calibration, s.seed)
    report.splits["sr"] = {"calibration": sr_split.part("cal")[0], "test": sr_split.part("test")[0]}
    for m in sr_models:
        _sweep_model(report, m, sr_split, strengths)
    sr_tf = [m for m in ("transform", "dropout", "noise")]
    for m in sr_models:
        rows = _table(report, m.name, m, sr_split, sr_tf, s.sr_samples, f"table {m.name} (training-free)", {})
        report.tables.setdefault(m.name, []).extend(rows)
    # The training-required baselines are separate models (fine-tuned / trained like srresnet): scored
    # once and shown in every SR table.
    baseline_rows: list[dict[str, Any]] = []
    for key, methods in (("mc", ("mc_dropout1", "mc_dropout2")), ("ens", ("ensemble",)), ("llm", ("llm",))):
        model = base[key]
        rows = _table(report, "baselines", model, sr_split, methods, s.sr_samples, f"table {model.name}", {})
        baseline_rows.extend(rows)
        for meth in methods:
            report.baselines[meth] = model.name
    for m in sr_models:
        report.tables[m.name].extend(dict(r, table=m.name) for r in baseline_rows)

    # -- depth ----------------------------------------------------------------------------------
    depth = load_model(s.depth_model)
    if depth.task != "depth":
        raise InputError(f"model {depth.name!r} is a {depth.task} model; Table 2 needs a depth model")
    if "mc_dropout" not in depth.methods:
        raise InputError(f"model {depth.name!r} has no dropout layer of its own; Table 2's MC-dropout needs one")
    d_split = load_depth_split(s.depth_data, depth, s.depth_limit, s.depth_calibration, s.seed)
    report.splits["depth"] = {"calibration": d_split.part("cal")[0], "test": d_split.part("test")[0]}
    _sweep_model(report, depth, d_split, strengths)
    report.tables[depth.name] = _table(report, depth.name, depth, d_split,
                                       ("transform", "dropout", "noise", "mc_dropout1", "mc_dropout2"),
                                       s.depth_samples, f"table {depth.name}", {})

    # -- figures ---------------------------------------------------------------------------------
    if render and figures is not None:
        t0 = time.perf_counter()
        write_figures(report, figures)
        report.timings.append(("Fig. 4 PNGs", time.perf_counter() - t0, report.figure_note or "plotly + kaleido"))
    report.total_seconds = time.perf_counter() - t_start
    if out is not None:
        write_outputs(report, out, figures)
    return report


# -- figures ----------------------------------------------------------------------------------------
def tolerability_png_figure(report: Report, model: str, method: str):
    from uqcore.plots import tolerability_figure

    rows = report.sweeps[(model, method)]
    chosen = report.chosen[(model, method)]
    fig = tolerability_figure(rows, y="corr_pixel", x="loss", highlight=chosen, height=520)
    import plotly.graph_objects as go

    base = rows[0]["base_loss"]
    tol = report.settings.tolerance
    ys = [_f(r.get("corr_pixel")) for r in rows if math.isfinite(_f(r.get("corr_pixel")))] or [0.0, 1.0]
    pad = 0.05 * (max(ys) - min(ys) or 1.0)
    span = [min(ys) - pad, max(ys) + pad]
    for x, name, dash, colour in ((base, "unperturbed loss", "dot", "grey"),
                                  (base * (1 + tol), f"+{tol:.0%} loss (tolerance)", "dash", "firebrick")):
        fig.add_trace(go.Scatter(x=[x, x], y=span, mode="lines", name=name, hoverinfo="skip",
                                 line=dict(dash=dash, color=colour, width=1.5)))
    n = rows[0].get("n_images")
    losses = [_f(r.get("loss")) for r in rows if math.isfinite(_f(r.get("loss"))) and _f(r.get("loss")) > 0]
    if losses and max(losses) > 10 * min(losses):
        fig.update_xaxes(type="log")  # a few very damaging settings would squash the tolerable ones
    fig.update_layout(
        title=f"{model}: infer-{method}, loss after perturbation vs pixel correlation "
              f"({n} calibration images; labels = {'noise std' if method == 'noise' else 'dropout rate'})",
        xaxis_title="L1 loss after perturbation (mean over samples)", yaxis_title="pixel correlation (error vs variance)",
        width=960, legend_title_text="layer", margin=dict(l=60, r=20, t=60, b=50), template="plotly_white",
    )
    return fig


def write_figures(report: Report, folder: Path) -> None:
    """Fig. 4 analog PNGs, ``fig4_{model}_{method}.png``, with plotly + kaleido (headless Chrome:
    Debian's /usr/bin/chromium). If that fails, the report records why and lists no figures."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(report.sweeps)
    figs = [tolerability_png_figure(report, m, meth) for m, meth in keys]
    paths = [folder / f"fig4_{m}_{meth}.png" for m, meth in keys]
    if "BROWSER_PATH" not in os.environ and Path("/usr/bin/chromium").exists():
        os.environ["BROWSER_PATH"] = "/usr/bin/chromium"
    import logging

    quiet = [logging.getLogger(n) for n in ("choreographer", "kaleido", "logistro")]
    levels = [lg.level for lg in quiet]
    try:
        import plotly.io as pio

        for lg in quiet:
            lg.setLevel(logging.CRITICAL)  # headless Chrome chatter, not errors of ours
        pio.write_images(figs, paths, format="png", width=960, height=520, scale=1)
    except Exception as exc:  # noqa: BLE001 -- any export failure becomes a note, never a crash
        report.figure_note = (f"PNG export failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                              "install kaleido and Debian's chromium to get the figures")
        print(f"warning: {report.figure_note}", file=sys.stderr)
        return
    finally:
        for lg, lv in zip(quiet, levels):
            lg.setLevel(lv)
    for k, p in zip(keys, paths):
        report.figures[k] = str(p)


# -- analysis (the discussion) ---------------------------------------------------------------------
def _f(v: Any) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return v


def column_values(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, int], dict[str, float]]:
    """{(method, samples): {row label: value}} from table rows (labels of :data:`METRIC_ROWS`
    plus "NLL (σ-scaled)", "σ scale", "PSNR", "SSIM", "AbsRel", "RMSE", "δ1", "s / image")."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        col = out.setdefault((r["method"], int(r["samples"])), {})
        col[f"AUSE {r['level']}"] = _f(r.get("ause"))
        col[f"Corr {r['level']}"] = _f(r.get("corr"))
        col["NLL"] = _f(r.get("nll"))
        col["NLL (σ-scaled)"] = _f(r.get("nll_scaled"))
        col["σ scale"] = _f(r.get("variance_scale"))
        for k, label in (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("abs_rel", "AbsRel"), ("rmse", "RMSE (m)"),
                         ("delta1", "δ1")):
            if k in r:
                col[label] = _f(r.get(k))
        col["s / image"] = _f(r.get("seconds_per_image"))
    return out


def _best(cols: dict[tuple[str, int], dict[str, float]], methods: Sequence[str], row: str,
          higher: bool = True) -> tuple[float, tuple[str, int] | None]:
    """Best value of ``row`` over the columns of ``methods`` (any sample count)."""
    best, arg = float("nan"), None
    for (m, n), vals in cols.items():
        v = vals.get(row, float("nan"))
        if m not in methods or not math.isfinite(v):
            continue
        if arg is None or (v > best if higher else v < best):
            best, arg = v, (m, n)
    return best, arg


def _label(col: tuple[str, int] | None) -> str:
    if col is None:
        return "-"
    m, n = col
    return f"{METHOD_LABELS.get(m, m)} ({0 if m == 'llm' else n})"


def _transform_best(cols: dict[tuple[str, int], dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per level: is infer-transformation's best correlation the highest among the training-free
    methods / among all methods?"""
    out = {}
    for lv in LEVELS:
        row = f"Corr {lv}"
        t, _ = _best(cols, ("transform",), row)
        other_tf, other_tf_col = _best(cols, ("dropout", "noise"), row)
        all_v, all_col = _best(cols, TRAINING_FREE + TRAINING_REQUIRED, row)
        out[lv] = {"transform": t, "best_other_tf": other_tf, "best_other_tf_col": other_tf_col,
                   "best_all": all_v, "best_all_col": all_col,
                   "best_tf": math.isfinite(t) and (not math.isfinite(other_tf) or t >= other_tf),
                   "best_overall": math.isfinite(t) and math.isfinite(all_v) and t >= all_v}
    return out


def _reach(cols: dict[tuple[str, int], dict[str, float]], required: Sequence[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for lv in LEVELS:
        row = f"Corr {lv}"
        tf, tf_col = _best(cols, TRAINING_FREE, row)
        tr, tr_col = _best(cols, required, row)
        a_tf, a_tf_col = _best(cols, TRAINING_FREE, f"AUSE {lv}", higher=False)
        a_tr, a_tr_col = _best(cols, required, f"AUSE {lv}", higher=False)
        out[lv] = {"tf": tf, "tf_col": tf_col, "tr": tr, "tr_col": tr_col,
                   "within": math.isfinite(tf) and math.isfinite(tr) and tf >= tr - REACH_MARGIN,
                   "ause_tf": a_tf, "ause_tf_col": a_tf_col, "ause_tr": a_tr, "ause_tr_col": a_tr_col}
    return out


def _layer_profile(rows: Sequence[dict[str, Any]], key: str = "corr_pixel") -> list[tuple[str, float, float]]:
    """[(layer, best correlation over strengths, strength of it)] in sweep (early -> late) order."""
    out = []
    for layer in dict.fromkeys(r["layer"] for r in rows):
        pts = [r for r in rows if r["layer"] == layer and math.isfinite(_f(r.get(key)))]
        if not pts:
            out.append((layer, float("nan"), float("nan")))
            continue
        b = max(pts, key=lambda r: r[key])
        out.append((layer, float(b[key]), float(b["strength"])))
    return out


def _tolerance_trend(rows: Sequence[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    from scipy.stats import spearmanr

    pts = [(r["loss_increase"], r["corr_pixel"]) for r in rows
           if math.isfinite(_f(r.get("loss_increase"))) and math.isfinite(_f(r.get("corr_pixel")))]
    out: dict[str, Any] = {"n": len(pts), "rho": float("nan"), "p": float("nan")}
    if len(pts) >= 3 and len({p[0] for p in pts}) > 1 and len({p[1] for p in pts}) > 1:
        res = spearmanr([p[0] for p in pts], [p[1] for p in pts])
        out["rho"], out["p"] = float(res.statistic), float(res.pvalue)
    if pts:
        best = max(rows, key=lambda r: _f(r.get("corr_pixel")) if math.isfinite(_f(r.get("corr_pixel"))) else -math.inf)
        out["best_layer"], out["best_strength"] = best["layer"], best["strength"]
        out["best_corr"], out["best_increase"] = float(best["corr_pixel"]), float(best["loss_increase"])
        out["best_within"] = best["loss_increase"] <= tolerance
        within = [p for p in pts if p[0] <= tolerance]
        beyond = [p for p in pts if p[0] > tolerance]
        out["mean_within"] = float(np.mean([p[1] for p in within])) if within else float("nan")
        out["mean_beyond"] = float(np.mean([p[1] for p in beyond])) if beyond else float("nan")
        out["n_within"], out["n_beyond"] = len(within), len(beyond)
    return out


def _fmt(v: Any, digits: int = 3) -> str:
    v = _f(v)
    if not math.isfinite(v):
        return "–"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def _pct(v: Any) -> str:
    v = _f(v)
    return "–" if not math.isfinite(v) else f"{v:+.1%}"


def _verdict(k: int, n: int) -> str:
    if n == 0:
        return "cannot be checked"
    if k == n:
        return "holds"
    if k == 0:
        return "does not hold"
    return "holds only partly"


def discussion(report: Report) -> list[str]:
    """The claims, each tested with a stated rule on our numbers (and the paper's, where the rule
    applies to a published table). Returns markdown lines. Every sentence depends on the numbers."""
    s = report.settings
    lines: list[str] = []
    sr = [m for m in s.sr_models if m in report.tables]
    depth = s.depth_model

    # 1. infer-transformation best for SR?
    lines += ["### 1. Does infer-transformation give the best correlation for super-resolution?", "",
              "Rule: at each level, infer-transformation's best correlation (over its sample counts) is compared "
              "with the best of infer-dropout and infer-noise (the other training-free methods) and with the best "
              "of all methods. The same rule is applied to the paper's published table of the same model.", ""]
    for m in sr:
        ours = _transform_best(column_values(report.tables[m]))
        k_tf = [lv for lv in LEVELS if ours[lv]["best_tf"]]
        k_all = [lv for lv in LEVELS if ours[lv]["best_overall"]]
        text = (f"- **{m}**: infer-transformation is the best training-free method at {len(k_tf)}/4 levels"
                f"{' (' + ', '.join(k_tf) + ')' if k_tf else ''} and the best of all methods at {len(k_all)}/4"
                f"{' (' + ', '.join(k_all) + ')' if k_all else ''}.")
        misses = [f"{lv}: {_fmt(ours[lv]['transform'])} vs {_fmt(ours[lv]['best_other_tf'])} for "
                  f"{_label(ours[lv]['best_other_tf_col'])}" for lv in LEVELS if not ours[lv]["best_tf"]]
        if misses:
            text += " Where it is not the best training-free method: " + "; ".join(misses) + "."
        if m in PAPER_TABLES:
            paper = _transform_best(PAPER_TABLES[m])
            p_tf = [lv for lv in LEVELS if paper[lv]["best_tf"]]
            p_all = [lv for lv in LEVELS if paper[lv]["best_overall"]]
            agree = set(k_tf) == set(p_tf)
            text += (f" In the paper's {PAPER_TABLE_NAMES[m]}: best training-free at {len(p_tf)}/4"
                     f"{' (' + ', '.join(p_tf) + ')' if p_tf else ''}, best overall at {len(p_all)}/4. "
                     + ("Our levels match the paper's." if agree else "Our levels differ from the paper's."))
        text += f" Verdict for {m}: the claim {_verdict(len(k_tf), 4)} (among training-free methods)."
        lines.append(text)
    lines.append("")

    # 2. intermediate layers best for infer-dropout?
    lines += ["### 2. Are intermediate layers best for infer-dropout?", "",
              "Rule: in each dropout sweep (calibration split), take every layer's best pixel correlation over the "
              "swept rates; the claim holds for a model when the best layer is neither the first nor the last swept "
              "layer. The paper also says location matters less for infer-noise, so the spread (max − min over "
              "layers of the per-layer best) is shown for both.", ""]
    held = 0
    checked = 0
    for m in [*sr, depth]:
        if (m, "dropout") not in report.sweeps:
            continue
        prof = _layer_profile(report.sweeps[(m, "dropout")])
        finite = [p for p in prof if math.isfinite(p[1])]
        if len(prof) < 3 or not finite:
            lines.append(f"- **{m}**: fewer than 3 layers swept (or no correlation); cannot be checked.")
            continue
        checked += 1
        best = max(finite, key=lambda p: p[1])
        inter = best[0] not in (prof[0][0], prof[-1][0])
        held += inter
        spread_d = max(p[1] for p in finite) - min(p[1] for p in finite)
        nprof = [p for p in _layer_profile(report.sweeps.get((m, "noise"), [])) if math.isfinite(p[1])]
        spread_n = (max(p[1] for p in nprof) - min(p[1] for p in nprof)) if nprof else float("nan")
        chosen = report.chosen[(m, "dropout")]
        lines.append(
            f"- **{m}**: per-layer best correlation " + ", ".join(f"`{p[0]}` {_fmt(p[1])} (p={p[2]:g})" for p in prof)
            + f" → best at `{best[0]}`, {'an intermediate' if inter else 'the ' + ('first' if best[0] == prof[0][0] else 'last')} layer. "
            f"The setting chosen within the tolerance is `{chosen['layer']}` p={float(chosen['strength']):g}. "
            f"Spread over layers: dropout {_fmt(spread_d)}, noise {_fmt(spread_n)}"
            + (" (location matters less for noise, as the paper says)." if math.isfinite(spread_n) and spread_n < spread_d
               else " (location matters at least as much for noise, unlike the paper's observation)."
               if math.isfinite(spread_n) else "."))
    lines += ["", f"Verdict: the claim {_verdict(held, checked)} ({held} of {checked} models have their best dropout "
                  "layer in the middle).", ""]

    # 3. small loss increase -> highest correlation?
    lines += ["### 3. Do perturbations with a small loss increase give the highest correlation?", "",
              f"Rule: over all rows of a sweep (layers × strengths, calibration split), the Spearman rank correlation "
              f"ρ between the relative loss increase and the pixel correlation (negative supports the claim), and "
              f"whether the highest-correlation setting stays within the {s.tolerance:.0%} tolerance.", ""]
    support = 0
    n_sweeps = 0
    for (m, meth), rows in report.sweeps.items():
        tr = _tolerance_trend(rows, s.tolerance)
        if tr["n"] == 0 or "best_layer" not in tr:
            lines.append(f"- **{m} infer-{meth}**: no correlations to compare.")
            continue
        n_sweeps += 1
        ok = math.isfinite(tr["rho"]) and tr["rho"] < 0 and tr["best_within"]
        support += ok
        lines.append(
            f"- **{m} infer-{meth}**: ρ = {_fmt(tr['rho'], 2)} (p = {_fmt(tr['p'], 3)}, {tr['n']} settings); "
            + (f"mean correlation {_fmt(tr['mean_within'])} over the {tr['n_within']} settings within the tolerance vs "
               f"{_fmt(tr['mean_beyond'])} over the {tr['n_beyond']} beyond it" if tr["n_within"] and tr["n_beyond"] else
               f"all {tr['n']} settings are {'within' if tr['n_within'] else 'beyond'} the tolerance")
            + f"; the best setting (`{tr['best_layer']}`, "
            f"{float(tr['best_strength']):g}: {_fmt(tr['best_corr'])}) has a loss increase of {_pct(tr['best_increase'])}"
            f" ({'within' if tr['best_within'] else 'beyond'} the tolerance). "
            + ("Consistent with the claim." if ok else "Not consistent with the claim."))
    lines += ["", f"Verdict: the claim {_verdict(support, n_sweeps)} ({support} of {n_sweeps} sweeps have ρ < 0 and "
                  "their best setting within the tolerance).", ""]

    # 4. training-free within reach of training-required?
    lines += ["### 4. Do the training-free methods come within reach of the training-required ones?", "",
              f"Rule: at each level, the best training-free correlation (infer-trans / -drop / -noise, any sample "
              f"count) is \"within reach\" when it is at most {REACH_MARGIN} below the best training-required one "
              f"(MC-drop1/2, ensemble, LLM for SR; MC-drop1/2 for depth). The best AUSE (lower is better) of each "
              f"group is listed too. The same rule is applied to the paper's table.", ""]
    for m in [*sr, depth]:
        if m not in report.tables:
            continue
        req = TRAINING_REQUIRED if m != depth else ("mc_dropout1", "mc_dropout2")
        ours = _reach(column_values(report.tables[m]), req)
        k = [lv for lv in LEVELS if ours[lv]["within"]]
        parts = [f"{lv}: {_fmt(ours[lv]['tf'])} ({_label(ours[lv]['tf_col'])}) vs {_fmt(ours[lv]['tr'])} "
                 f"({_label(ours[lv]['tr_col'])}), AUSE {_fmt(ours[lv]['ause_tf'])} vs {_fmt(ours[lv]['ause_tr'])}"
                 for lv in LEVELS]
        better = [lv for lv in LEVELS if math.isfinite(ours[lv]["tf"]) and math.isfinite(ours[lv]["tr"])
                  and ours[lv]["tf"] >= ours[lv]["tr"]]
        text = (f"- **{m}**: within reach at {len(k)}/4 levels{' (' + ', '.join(k) + ')' if k else ''}, "
                f"training-free at least as good at {len(better)}/4. " + "; ".join(parts) + ".")
        sampling = [r for r in req if r != "llm"]
        if len(sampling) < len(req):
            ours_s = _reach(column_values(report.tables[m]), sampling)
            ks = [lv for lv in LEVELS if ours_s[lv]["within"]]
            text += f" Against the sampling baselines only (MC-drop1/2, ensemble; no LLM): within reach at {len(ks)}/4."
        if m in PAPER_TABLES:
            paper = _reach(PAPER_TABLES[m], req)
            pk = [lv for lv in LEVELS if paper[lv]["within"]]
            text += f" Paper ({PAPER_TABLE_NAMES[m]}), same rule: within reach at {len(pk)}/4 levels"
            if len(sampling) < len(req):
                paper_s = _reach(PAPER_TABLES[m], sampling)
                text += f", {len([lv for lv in LEVELS if paper_s[lv]['within']])}/4 against the sampling baselines only"
            text += "."
        text += f" Verdict for {m}: the claim {_verdict(len(k), 4)}."
        lines.append(text)
    lines.append("")

    # 5. the depth recommendation and NLL
    if depth in report.tables:
        cols = column_values(report.tables[depth])
        wins = {}
        for lv in LEVELS:
            _, col = _best(cols, TRAINING_FREE, f"Corr {lv}")
            wins[lv] = col[0] if col else None
        noise_lv = [lv for lv in LEVELS if wins[lv] == "noise"]
        p_wins = [(_best(PAPER_TABLES["fcrn"], TRAINING_FREE, f"Corr {lv}")[1] or ("-",))[0] for lv in LEVELS]
        lines += ["### 5. Is infer-noise the best training-free method for depth?", "",
                  f"The paper suggests infer-noise for depth estimation. Best training-free correlation per level for "
                  f"**{depth}**: " + ", ".join(f"{lv}: {METHOD_LABELS.get(wins[lv] or '', '–')}" for lv in LEVELS)
                  + f" (paper's Table 2: " + ", ".join(f"{lv}: {METHOD_LABELS.get(w, w)}" for lv, w in zip(LEVELS, p_wins))
                  + f"). Verdict: the suggestion {_verdict(len(noise_lv), 4)} here (infer-noise best at "
                    f"{len(noise_lv)}/4 levels).", ""]

    lines += ["### 6. NLL and σ-scaling", "",
              "The paper argues that NLL mixes the quality of the uncertainty with the scale of the variance and the "
              "accuracy of the prediction. Raw NLL vs NLL after σ-scaling (scale fitted on the calibration split):", ""]
    for m in [*sr, depth]:
        if m not in report.tables:
            continue
        cols = column_values(report.tables[m])
        raw, raw_col = _best(cols, list(METHOD_LABELS), "NLL", higher=False)
        sc, sc_col = _best(cols, list(METHOD_LABELS), "NLL (σ-scaled)", higher=False)
        worst, worst_col = _best(cols, list(METHOD_LABELS), "NLL", higher=True)
        tf_sc, tf_sc_col = _best(cols, TRAINING_FREE, "NLL (σ-scaled)", higher=False)
        lines.append(
            f"- **{m}**: raw NLL from {_fmt(raw)} ({_label(raw_col)}) to {_fmt(worst)} ({_label(worst_col)}); after "
            f"σ-scaling the best is {_fmt(sc)} ({_label(sc_col)}), the best training-free one {_fmt(tf_sc)} "
            f"({_label(tf_sc_col)}).")
    lines.append("")
    return lines


# -- writing --------------------------------------------------------------------------------------
def _md_table(header: Sequence[str], body: Sequence[Sequence[str]], align: str = "r") -> list[str]:
    sep = ["---"] + [("---:" if align == "r" else "---") for _ in header[1:]]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |",
            *["| " + " | ".join(row) + " |" for row in body]]


def _column_order(cols: Sequence[tuple[str, int]], paper_cols: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    order = {m: i for i, m in enumerate(METHOD_LABELS)}
    allc = list(dict.fromkeys([*cols, *paper_cols]))
    return sorted(allc, key=lambda c: (order.get(c[0], 99), c[1]))


def results_table(rows: Sequence[dict[str, Any]], paper_key: str | None, task: str) -> list[str]:
    """Markdown: one column per (method, samples), cells "ours (paper)"."""
    cols = column_values(rows)
    paper = PAPER_TABLES.get(paper_key or "", {})
    order = _column_order(list(cols), list(paper))
    header = ["", *[f"{METHOD_LABELS.get(m, m)} ({0 if m == 'llm' else n})" for m, n in order]]
    extra = ["NLL (σ-scaled)", "σ scale"] + (["PSNR (dB)", "SSIM"] if task == "sr" else ["AbsRel", "RMSE (m)", "δ1"]) \
        + ["s / image"]
    body = []
    for label in [*METRIC_ROWS, *extra]:
        cells = [f"**{label}**"]
        for c in order:
            ours = cols.get(c, {}).get(label, float("nan"))
            p = paper.get(c, {}).get(label) if label in METRIC_ROWS else None
            if c not in cols:
                cells.append(f"– ({_fmt(p)})" if p is not None else "–")
            elif p is not None:
                cells.append(f"{_fmt(ours, 3 if label != 'σ scale' else 4)} ({_fmt(p)})")
            else:
                cells.append(_fmt(ours, 2 if label in ("PSNR (dB)", "s / image") else 3)
                             if label != "σ scale" else f"{_f(ours):.3g}")
        body.append(cells)
    return _md_table(header, body)


def _settings_lines(report: Report) -> list[str]:
    s = report.settings
    lines = []
    for (m, meth), best in report.chosen.items():
        lines.append(f"| {m} | infer-{meth} | `{best['layer']}` | {float(best['strength']):g} | "
                     f"{_pct(best['loss_increase'])} | {_fmt(best.get('corr_pixel'))} | "
                     f"{'no setting within the tolerance: least-damaging setting used' if report.fallback[(m, meth)] else 'highest pixel correlation within the tolerance'} |")
    return ["| model | method | layer | strength | loss increase | pixel corr (calibration) | rule |",
            "|---|---|---|---:|---:|---:|---|", *lines]


def render_markdown(report: Report, out: Path, figures: Path | None) -> str:
    s = report.settings
    hw = report.hardware
    L: list[str] = []
    L += ["# Reproducing the paper on the bundled models", "",
          "*Training-Free Uncertainty Estimation for Dense Regression: Sensitivity as a Surrogate* (Mi et al., AAAI 2022): "
          "Tables 1–2 and Fig. 4, on this project's small CPU-trained models and bundled eval sets.", "",
          f"> Written by `{report.command}` on {report.started}. Every number below comes from that command; do not edit "
          "this file by hand — rerun the command.", ""]
    if s.quick:
        L += ["> **Quick mode** (`--quick`): few, small images and few settings — a smoke test of the pipeline, "
              "not a result. Run without `--quick` for the real numbers.", ""]
    L += ["## Setup", "",
          f"- **Hardware**: {hw['cpu']}, {hw['cpu_count']} logical CPUs, {hw['torch_threads']} torch threads, device "
          f"`{hw['device']}`{' (' + hw['gpu'] + ')' if hw.get('gpu') else ''}; torch {hw['torch']}, Python {hw['python']}; "
          f"load average at start {hw.get('load_average')}.",
          f"- **Total time**: {report.total_seconds / 60:.1f} min (per part below).",
          f"- **Models** (cards in `assets/models/`): "
          + "; ".join(f"`{n}` — {report.cards[n].get('description', report.cards[n].get('architecture', ''))}".rstrip(" —")
                      for n in required_models(s)) + ".",
          f"- **SR data**: `{_rel(s.sr_data)}`, {len(report.splits['sr']['calibration']) + len(report.splits['sr']['test'])} "
          f"HR images{' (the first ' + str(s.sr_limit) + ' by name)' if s.sr_limit else ''}, "
          + (f"centre-cropped to at most {s.sr_crop}×{s.sr_crop} px, " if s.sr_crop else "whole images, ")
          + "cropped to a multiple of the scale and bicubic-downscaled (antialiased) to make the LR input. "
          f"Calibration split: {', '.join(report.splits['sr']['calibration'])}; test split: {', '.join(report.splits['sr']['test'])}.",
          f"- **Depth data**: `{_rel(s.depth_data)}` (synthetic indoor RGB-D scenes, 16-bit depth in mm), "
          f"{len(report.splits['depth']['calibration']) + len(report.splits['depth']['test'])} scenes. Calibration split: "
          f"{', '.join(report.splits['depth']['calibration'])}; test split: {', '.join(report.splits['depth']['test'])}.",
          f"- **Split**: seeded permutation (`numpy.random.default_rng({s.seed}).permutation`); its first "
          f"{s.sr_calibration} (SR) / {s.depth_calibration} (depth) images are the calibration split. The calibration "
          "split is used only to choose the infer-noise / infer-dropout settings and to fit the σ-scaling; every table "
          "number is measured on the test split.",
          f"- **Tolerability sweeps** (calibration split): {s.sweep_layers} layers spread from early to late "
          f"(`uqcore.sweep.default_layers`) × noise std {', '.join(f'{v:g}' for v in s.noise_strengths)} / dropout rate "
          f"{', '.join(f'{v:g}' for v in s.dropout_strengths)}, {s.sweep_samples} samples, seed {s.seed}. Loss = mean L1 of "
          "the perturbed samples against the ground truth; loss increase relative to the unperturbed loss; correlation "
          "= pixel-level Pearson between the unperturbed output's error and the variance, averaged over images. "
          f"Chosen setting: `uqcore.sweep.recommend` with tolerance {s.tolerance:.0%} (highest pixel correlation among "
          "settings whose loss increase is at most the tolerance; the paper's exact threshold is not given in its text).",
          f"- **Sample counts**: SR " + ", ".join(f"{METHOD_LABELS.get(k, k) if k != 'mc_dropout' else 'MC-dropout'} "
                                              f"{'/'.join(map(str, v))}" for k, v in s.sr_samples.items())
          + "; depth " + ", ".join(f"{METHOD_LABELS.get(k, k) if k != 'mc_dropout' else 'MC-dropout'} {'/'.join(map(str, v))}"
                                   for k, v in s.depth_samples.items())
          + ". Infer-transformation uses the dihedral transforms in order identity, rot90, rot180, rot270, flip, "
            "flip+rot90, … (4 = the rotations, 8 = all) for SR and identity + horizontal flip for depth.",
          "- **Metrics** (`uqcore.metrics`, `uqcore.evaluation`): error = per-pixel absolute error averaged over channels; "
          "uncertainty = per-pixel sample variance averaged over channels; AUSE over 50 sparsification steps; levels "
          "pixel / patch (16×16 tiles) / block (SLIC superpixels of the prediction) averaged over the test images, and "
          "mean (one point per test image). NLL: Gaussian, eps 1e-6, mean over pixels then images. "
          "**NLL (σ-scaled)** (not in the paper): the variance multiplied by the scale that minimises the NLL on the "
          "calibration split (`σ scale`). Training-free methods score the unperturbed output; MC-drop2, the ensemble "
          "and LLM score their mean.",
          f"- **Training-required baselines**: MC-drop1/MC-drop2 use `{s.mcdrop_model}`, a *separately trained* model "
          "(the same architecture with dropout, fine-tuned from srresnet) as in the paper — so MC-drop1's prediction "
          "(that model's output with dropout off) differs from the srresnet / srgan prediction the training-free "
          f"methods are scored on. The ensemble is `{s.ensemble_model}` and the likelihood head `{s.llm_model}`. These "
          "baselines are srresnet-type models, so the **same baseline columns appear in both SR tables** (the paper "
          "trained separate baselines for SRGAN). The ensemble has 4 members, so the paper's Ensemble (8) column has "
          f"no counterpart. For depth, MC-dropout samples `{s.depth_model}`'s own dropout layer before the prediction, "
          "as the paper does with FCRN.",
          "- Our models are small and CPU-trained and the eval sets are 12 images, so the absolute numbers are not "
          "comparable with the paper's (Set14/BSD/NYU-v2, full-size models); the mean level is a correlation over only "
          f"{len(report.splits['sr']['test'])} (SR) / {len(report.splits['depth']['test'])} (depth) test images. "
          "Compare the orderings, which is what the claims are about.", ""]
    L += ["## Time per part", "", "| part | seconds | what |", "|---|---:|---|"]
    L += [f"| {name} | {sec:.1f} | {what} |" for name, sec, what in report.timings]
    L += [f"| **total** | **{report.total_seconds:.1f}** | |", ""]

    L += ["## Tolerability (Fig. 4 analog)", "",
          "Loss after perturbation vs pixel correlation on the calibration split, one line per layer, points "
          "labelled by strength; the star is the chosen setting, the dashed line the tolerance.", ""]
    L += _settings_lines(report) + [""]
    if report.figures:
        for (m, meth), path in report.figures.items():
            L.append(f"![{m} infer-{meth}]({_relpath(Path(path), out.parent)})")
            L.append("")
    else:
        L += [f"*No figures: {report.figure_note or 'rendering was skipped'}.*", ""]
    L += ["Sweep rows (all settings): `" + _relpath(_sibling(out, "sweeps"), out.parent) + "`.", ""]

    for m in s.sr_models:
        if m not in report.tables:
            continue
        L += [f"## Table 1 analog: `{m}` (super-resolution ×{_scale(report, m)})", "",
              f"Cells: ours (paper's {PAPER_TABLE_NAMES.get(m, '–')}); `–` where we have no such column. Test split, "
              f"{report.tables[m][0]['n_images']} images. Infer-drop at `{report.chosen[(m, 'dropout')]['layer']}` "
              f"p={float(report.chosen[(m, 'dropout')]['strength']):g}, infer-noise at `{report.chosen[(m, 'noise')]['layer']}` "
              f"σ={float(report.chosen[(m, 'noise')]['strength']):g}. Lower AUSE / NLL is better, higher Corr is better.", ""]
        L += results_table(report.tables[m], m if m in PAPER_TABLES else None, "sr") + [""]
    d = s.depth_model
    if d in report.tables:
        L += [f"## Table 2 analog: `{d}` (depth)", "",
              f"Cells: ours (paper's {PAPER_TABLE_NAMES['fcrn']}). Test split, {report.tables[d][0]['n_images']} scenes. "
              f"Infer-drop at `{report.chosen[(d, 'dropout')]['layer']}` p={float(report.chosen[(d, 'dropout')]['strength']):g}, "
              f"infer-noise at `{report.chosen[(d, 'noise')]['layer']}` σ={float(report.chosen[(d, 'noise')]['strength']):g}.", ""]
        L += results_table(report.tables[d], "fcrn", "depth") + [""]

    L += ["## Discussion (generated from the numbers above)", ""]
    L += discussion(report)
    L += ["## Files", "",
          f"- `{_relpath(_sibling(out, 'rows'), out.parent)}`: every table row (one per model, method, sample count "
          "and level, with all fields of `uqcore.evaluation`).",
          f"- `{_relpath(_sibling(out, 'sweeps'), out.parent)}`: every sweep row.",
          f"- Settings: `{', '.join(f'{k}={v}' for k, v in _settings_dict(s).items())}`.", ""]
    return "\n".join(L)


def _scale(report: Report, m: str) -> int:
    return int(report.cards.get(m, {}).get("scale", 4))


def _settings_dict(s: Settings) -> dict[str, Any]:
    d = asdict(s)
    d.pop("sr_data"), d.pop("depth_data")
    return {k: v for k, v in d.items() if k not in ("sr_samples", "depth_samples")}


def _rel(path: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _relpath(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), Path(start).resolve())
    except ValueError:
        return str(path)


def _sibling(out: Path, kind: str) -> Path:
    return out.with_name(f"{out.stem.lower()}_{kind}.csv")


def write_outputs(report: Report, out: Path, figures: Path | None) -> None:
    from uqcore.evaluation import write_rows

    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [r for m in report.tables for r in report.tables[m]]
    write_rows(rows, _sibling(out, "rows"))
    write_rows([r for rs in report.sweeps.values() for r in rs], _sibling(out, "sweeps"))
    out.write_text(render_markdown(report, out, figures))


# -- CLI ----------------------------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="few small images and settings (about a minute): a smoke test, used in CI")
    parser.add_argument("--out", default=None, help="markdown report to write (default docs/RESULTS.md)")
    parser.add_argument("--figures", default=None, help="folder for the Fig. 4 PNGs (default: figures/ next to --out)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNGs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is much faster on a busy machine)")
    parser.add_argument("--sr-crop", type=int, default=None,
                        help="HR centre crop, pixels per side (default 256; --quick 96; 0 = whole images)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="relative loss increase a chosen perturbation may cause (default 0.05)")
    parser.add_argument("--sr-models", default="srresnet,srgan", help="comma-separated SR models for Table 1")
    parser.add_argument("--mcdrop-model", default="srresnet-mcdrop")
    parser.add_argument("--ensemble-model", default="srresnet-ens")
    parser.add_argument("--llm-model", default="srresnet-llm")
    parser.add_argument("--depth-model", default="fcrn")
    parser.add_argument("--sr-data", default=str(SR_DATA), help="folder of HR images")
    parser.add_argument("--depth-data", default=str(DEPTH_DATA), help="folder of name.png + name_depth.png")


def settings_from_args(args: argparse.Namespace) -> Settings:
    s = Settings(**QUICK) if args.quick else Settings()
    sr_models = tuple(m.strip() for m in args.sr_models.split(",") if m.strip())
    if not sr_models:
        raise InputError("--sr-models needs at least one model name")
    if not 0 < args.tolerance < 10:
        raise InputError(f"--tolerance is a relative loss increase such as 0.05, got {args.tolerance}")
    s = replace(s, seed=args.seed, device=args.device, tolerance=args.tolerance, sr_models=sr_models,
                mcdrop_model=args.mcdrop_model, ensemble_model=args.ensemble_model, llm_model=args.llm_model,
                depth_model=args.depth_model, sr_data=args.sr_data, depth_data=args.depth_data)
    if args.sr_crop is not None:
        if args.sr_crop < 0:
            raise InputError(f"--sr-crop must be 0 (whole images) or a positive size, got {args.sr_crop}")
        s = replace(s, sr_crop=args.sr_crop)
    return s


def command_line(args: argparse.Namespace) -> str:
    """The command as it would be typed: ``python -m uqcore reproduce`` plus every option that differs
    from its default."""
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    defaults = vars(parser.parse_args([]))
    parts = ["python -m uqcore reproduce"]
    for action in parser._actions:
        dest = action.dest
        if dest == "help" or dest not in vars(args) or getattr(args, dest) == defaults.get(dest):
            continue
        flag = action.option_strings[-1]
        value = getattr(args, dest)
        parts.append(flag if isinstance(value, bool) else f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    s = settings_from_args(args)
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else DEFAULT_OUT
    figures = None if args.no_figures else (Path(args.figures) if args.figures else out.parent / "figures")
    command = command_line(args)
    report = run_reproduction(s, command=command, out=out, figures=figures)
    print(f"wrote {out} ({report.total_seconds:.0f} s), {_sibling(out, 'rows')}, {_sibling(out, 'sweeps')}"
          + (f" and {len(report.figures)} figures in {figures}" if report.figures else ""))
    return 0
