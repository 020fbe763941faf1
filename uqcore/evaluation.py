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
* the settings: ``method``, ``samples`` (requested), ``samples_drawn`` (the engine caps
  transforms at the transform set's size and ensembles at the member count), ``layer``,
  ``strength``, ``seed``, ``n_images``, ``n_calibration``, ``task``, ``model``.

Method names: the engine's ("transform", "noise", "dropout", "mc_dropout", "ensemble", "llm")
plus ``"mc_dropout1"`` (MC-drop1: the unperturbed output is the prediction) and
``"mc_dropout2"`` (MC-drop2: the sample mean is the prediction; plain "mc_dropout" is the same).
Both MC variants share one set of samples. The training-free methods score ``est.prediction``,
the unperturbed output. Every image is sampled with the same ``seed``.

Datasets from a folder (:func:`load_pairs`): SR -- every image is an HR image; it is cropped to a
multiple of the model's scale (rows/columns beyond the largest multiple are dropped at the
bottom/right) and the input is its bicubic downscale
(:func:`uqcore.models.srresnet.bicubic_downscale`: antialiased bicubic, clamped to [0, 1]).
Depth -- ``name.png`` (or .jpg/.jpeg) with ``name_depth.png`` (16-bit, millimetres) or
``name_depth.npy`` (metres). Generic image task -- ``name.png`` with ``name_target.png``.
A depth output whose size differs from the ground truth's is resized bilinearly to it (with
its variance) before scoring.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import metrics as M
from uqcore.errors import InputError
from uqcore.sweep import _as_model, _resize_to, default_layer

LEVELS = ("mean", "patch", "block", "pixel")
DEFAULT_STRENGTH = {"noise": 0.05, "dropout": 0.1}
LAYER_METHODS = ("noise", "dropout")
# method name -> (engine method, which output is the prediction)
METHOD_VARIANTS = {
    "transform": ("transform", "prediction"),
    "noise": ("noise", "prediction"),
    "dropout": ("dropout", "prediction"),
    "ensemble": ("ensemble", "prediction"),
    "llm": ("llm", "prediction"),
    "mc_dropout": ("mc_dropout", "mean"),
    "mc_dropout1": ("mc_dropout", "original"),
    "mc_dropout2": ("mc_dropout", "mean"),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
EPS = 1e-6

Progress = Callable[[int, int], None]


# -- datasets ------------------------------------------------------------------------------------
def make_lr(hr: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(LR input, cropped HR) from an HR image [1, C, H, W]: crop to a multiple of ``scale``
    (bottom/right rows and columns dropped), then bicubic downscale by ``scale``."""
    from uqcore.models.srresnet import bicubic_downscale

    h, w = hr.shape[-2] // scale * scale, hr.shape[-1] // scale * scale
    if h < 2 * scale or w < 2 * scale:
        raise InputError(f"the HR image ({hr.shape[-2]}x{hr.shape[-1]}) is too small for x{scale} super-resolution")
    hr = hr[..., :h, :w].contiguous()
    return bicubic_downscale(hr, scale), hr


def list_pair_files(folder: str | Path, task: str) -> list[tuple[str, Path, Path | None]]:
    """(name, input file, target file or None for SR) in sorted order; see the module docstring."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; --data needs a folder of images")
    files = sorted(p for p in root.iterdir() if p.is_file())
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    found: list[tuple[str, Path, Path | None]] = []
    if task == "sr":
        found = [(p.stem, p, None) for p in images if not p.stem.endswith(("_depth", "_target"))]
        what = "HR images (PNG/JPEG/...)"
    elif task == "depth":
        for p in images:
            if p.stem.endswith("_depth"):
                continue
            for cand in (root / f"{p.stem}_depth.png", root / f"{p.stem}_depth.npy"):
                if cand.is_file():
                    found.append((p.stem, p, cand))
                    break
        what = "RGB/depth pairs (name.png + name_depth.png in mm or name_depth.npy in m)"
    else:
        for p in images:
            if p.stem.endswith("_target"):
                continue
            cands = [root / f"{p.stem}_target{s}" for s in IMAGE_SUFFIXES]
            match = next((c for c in cands if c.is_file()), None)
            if match is not None:
                found.append((p.stem, p, match))
        what = "input/target pairs (name.png + name_target.png)"
    if not found:
        raise InputError(f"{root} holds no {what}")
    return found


def load_pairs(folder: str | Path, model: Any, limit: int | None = None) -> tuple[list[str], list[tuple[torch.Tensor, torch.Tensor]]]:
    """(names, [(input [1, C, h, w], target)]) from a folder, for ``model``'s task.

    SR target: the cropped HR [3, H, W]; depth target: [H, W] metres; image: [C, H, W]."""
    from uqcore.io import read_depth, read_image

    model = _as_model(model)
    entries = list_pair_files(folder, model.task)
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        entries = entries[:limit]
    names, pairs = [], []
    for name, src, tgt in entries:
        img = read_image(src)
        if model.task == "sr":
            lr, hr = make_lr(img, model.scale)
            pairs.append((lr, hr[0]))
        elif model.task == "depth":
            depth = read_depth(tgt)
            if tuple(depth.shape) != tuple(img.shape[-2:]):
                raise InputError(f"{tgt.name} is {depth.shape[0]}x{depth.shape[1]} but {src.name} is "
                                 f"{img.shape[-2]}x{img.shape[-1]}; the depth map must match its image")
            pairs.append((img, depth))
        else:
            pairs.append((img, read_image(tgt)[0]))
        names.append(name)
    return names, pairs


# -- evaluation ----------------------------------------------------------------------------------
def _per_method(value: Any, method: str, default: Any) -> Any:
    if isinstance(value, dict):
        return value.get(method, default)
    return default if value is None else value


def _method_plan(model: Any, methods: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(engine method, [(row label, prediction source), ...])] in first-appearance order."""
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise InputError("give at least one method")
    plan: dict[str, list[tuple[str, str]]] = {}
    for name in methods:
        if name not in METHOD_VARIANTS:
            raise InputError(f"unknown method {name!r}; choose from {', '.join(METHOD_VARIANTS)}")
        engine, source = METHOD_VARIANTS[name]
        if engine not in model.methods:
            raise InputError(f"method {name!r} does not apply to model {model.name!r}; it supports "
                             f"{', '.join(model.methods)}")
        variants = plan.setdefault(engine, [])
        if name not in [v[0] for v in variants]:
            variants.append((name, source))
    return list(plan.items())


def _calibration_split(n: int, fraction: float, seed: int) -> tuple[list[int], list[int], str]:
    if not 0.0 < fraction < 1.0:
        raise InputError(f"calibration_fraction must be between 0 and 1, got {fraction}")
    if n < 2:
        return list(range(n)), list(range(n)), "in-sample"
    k = min(max(1, int(round(fraction * n))), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[:k].tolist()), sorted(perm[k:].tolist()), "held-out"


def _check_pairs(pairs: Any) -> list[tuple[Any, Any]]:
    out = []
    for i, p in enumerate(pairs):
        if not isinstance(p, (tuple, list)) or len(p) not in (2, 3):
            raise InputError(f"pairs[{i}] must be an (input, target) tuple")
        out.append((p[-2], p[-1]))
    if not out:
        raise InputError("no (input, target) pairs to evaluate")
    return out


def _prepare_target(model: Any, target: Any) -> np.ndarray:
    t = target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else np.asarray(target)
    t = t.astype(np.float64)
    while t.ndim > 3 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 2 and model.task != "depth":
        t = t[None]
    return t


class _ImageScore:
    """What an image contributes to the summary (O(valid pixels) per image)."""

    __slots__ = ("stats", "mean_error", "mean_variance", "r2", "var", "nll", "quality", "seconds", "drawn")


def _score(model: Any, pred: torch.Tensor, variance: torch.Tensor, target: np.ndarray, seconds: float, drawn: int,
           segment_cache: dict, key: Any, patch: int, steps: int) -> _ImageScore:
    depth = model.task == "depth"
    tshape = tuple(target.shape[-2:])
    if depth:
        pred = _resize_to(pred, tshape)
        variance = _resize_to(variance, tshape)
    elif tuple(pred.shape[-2:]) != tshape:
        raise InputError(f"the model output is {pred.shape[-2]}x{pred.shape[-1]} but the target is "
                         f"{tshape[0]}x{tshape[1]}; for SR the target must be the HR image of the input")
    p = pred.double().numpy()
    v = variance.double().numpy()
    mask = M.valid_mask(target) if depth else None
    err = M.error_map(p, target, mask=mask)
    digest = hashlib.blake2b(np.ascontiguousarray(p).tobytes(), digest_size=16).hexdigest()
    seg_key = (key, digest)
    if seg_key not in segment_cache:
        segment_cache[seg_key] = M.superpixels(p)
    s = _ImageScore()
    s.stats = M.correlations(err, v, mask=mask, patch=patch, segments=segment_cache[seg_key], steps=steps)
    valid = np.ones(tshape, bool) if mask is None else mask
    s.mean_error = float(err[valid].mean())
    s.mean_variance = float(v[valid].mean())
    pc = p if p.ndim == 3 else p[None]
    tc = target if target.ndim == 3 else target[None]
    s.r2 = ((pc - tc)[:, valid] ** 2).astype(np.float32)  # [C, N]
    s.var = v[valid].astype(np.float32)                   # [N]
    if (s.var < 0).any() or not np.isfinite(s.var).all():
        raise InputError("the method returned a negative or non-finite variance")
    s.nll = M.nll_vectors(s.r2.astype(np.float64), s.var.astype(np.float64), EPS)
    if depth:
        q = M.depth_quality(p[0] if p.ndim == 3 else p, target, mask)
        s.quality = {k: q[k] for k in ("abs_rel", "rmse", "log10", "delta1")}
    elif model.task == "sr":
        border = model.scale if min(tshape) > 2 * model.scale + 7 else 0
        s.quality = {"psnr": M.psnr(p, target, border=border), "ssim": M.ssim(p, target, border=border)}
    else:
        s.quality = {"psnr": M.psnr(p, target, y_channel=False)}
        if min(tshape) >= 7:
            s.quality["ssim"] = M.ssim(p, target, y_channel=False)
    s.seconds = seconds
    s.drawn = drawn
    return s


def score_image(model: Any, prediction: Any, variance: Any, target: Any, *, variance_scale: float | None = None,
                patch: int = 16, steps: int = 50) -> dict[str, float]:
    """Every single-image number of a report (the dashboard's metrics row), as one flat dict:
    ``corr_``/``spearman_``/``ause_``/``aurg_`` + ``pixel``/``patch``/``block``, ``nll``,
    ``nll_scaled`` with ``variance_scale`` (the given scale, e.g. fitted on a calibration set
    with :func:`uqcore.metrics.fit_variance_scale`; if None, fitted on this image itself --
    an in-sample, optimistic number), ``calibration_error`` (raw), and the prediction quality
    (psnr/ssim, or abs_rel/rmse/log10/delta1 for depth). prediction [C, H, W] and variance [H, W]
    as returned by ``estimate``; target as for :func:`evaluate`."""
    model = _as_model(model)
    pred = prediction if isinstance(prediction, torch.Tensor) else torch.as_tensor(np.asarray(prediction))
    var = variance if isinstance(variance, torch.Tensor) else torch.as_tensor(np.asarray(variance))
    pred, var = pred.detach().cpu(), var.detach().cpu()
    while pred.dim() > 3 and pred.shape[0] == 1:
        pred = pred[0]
    while var.dim() > 2 and var.shape[0] == 1:
        var = var[0]
    s = _score(model, pred, var, _prepare_target(model, target), 0.0, 0, {}, None, patch, steps)
    out: dict[str, float] = dict(s.stats)
    out["nll"] = s.nll
    r2, v = s.r2.astype(np.float64), s.var.astype(np.float64)
    e, o = M.calibration_vectors(r2, v, eps=EPS)
    out["calibration_error"] = float(np.mean((e - o) ** 2))
    if variance_scale is None:
        try:
            variance_scale = M.fit_scale_vectors(r2.mean(0), v, EPS)
        except InputError:
            variance_scale = float("nan")
    out["variance_scale"] = float(variance_scale)
    out["nll_scaled"] = (M.nll_vectors(r2, variance_scale * v, EPS) if math.isfinite(variance_scale)
                         else float("nan"))
    out.update(s.quality)
    return out


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _summarise(scores: list[_ImageScore], cal: list[int], test: list[int], steps: int) -> dict[str, dict[str, float]]:
    """{level: {ause, aurg, corr, spearman}} plus the level-independent numbers under "common"."""
    out: dict[str, dict[str, float]] = {}
    for level in ("pixel", "patch", "block"):
        out[level] = {k: _nanmean([s.stats[f"{k_src}_{level}"] for s in scores])
                      for k, k_src in (("ause", "ause"), ("aurg", "aurg"), ("corr", "corr"), ("spearman", "spearman"))}
    me = np.array([s.mean_error for s in scores])
    mv = np.array([s.mean_variance for s in scores])
    if len(scores) >= 2:
        sp = M.sparsification(me, mv, steps=steps, level="mean")
        out["mean"] = {"ause": sp.ause, "aurg": sp.aurg, "corr": M.pearson(me, mv, level="mean"),
                       "spearman": M.spearman(me, mv, level="mean")}
    else:
        out["mean"] = {"ause": float("nan"), "aurg": float("nan"), "corr": float("nan"), "spearman": float("nan")}
    common: dict[str, float] = {"nll": float(np.mean([s.nll for s in scores]))}
    try:
        scale = M.fit_scale_vectors(np.concatenate([scores[i].r2.astype(np.float64).mean(0) for i in cal]),
                                    np.concatenate([scores[i].var.astype(np.float64) for i in cal]), EPS)
    except InputError:
        scale = float("nan")  # zero variance everywhere (e.g. a deterministic method): no scale
    common["variance_scale"] = scale
    common["nll_heldout"] = float(np.mean([scores[i].nll for i in test]))
    r2_test = np.concatenate([scores[i].r2 for i in test], axis=1).astype(np.float64)
    v_test = np.concatenate([scores[i].var for i in test]).astype(np.float64)
    e, o = M.calibration_vectors(r2_test, v_test, eps=EPS)
    common["calibration_error"] = float(np.mean((e - o) ** 2))
    if math.isfinite(scale):
        common["nll_scaled"] = float(np.mean([M.nll_vectors(scores[i].r2.astype(np.float64),
                                                            scale * scores[i].var.astype(np.float64), EPS)
                                              for i in test]))
        e, o = M.calibration_vectors(r2_test, scale * v_test, eps=EPS)
        common["calibration_error_scaled"] = float(np.mean((e - o) ** 2))
    else:
        common["nll_scaled"] = float("nan")
        common["calibration_error_scaled"] = float("nan")
    for k in scores[0].quality:
        common[k] = _nanmean([s.quality.get(k) for s in scores])
    common["seconds_per_image"] = float(np.mean([s.seconds for s in scores]))
    common["samples_drawn"] = int(round(np.mean([s.drawn for s in scores])))
    out["common"] = common
    return out


def evaluate(
    model: Any,
    pairs: Sequence[tuple[Any, Any]],
    methods: Sequence[str] = ("transform", "noise", "dropout"),
    samples: Sequence[int] | int = (8,),
    layer: str | dict[str, str] | None = None,
    strength: float | dict[str, float] | None = None,
    seed: int = 0,
    calibration_fraction: float = 0.5,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
    *,
    patch: int = 16,
    steps: int = 50,
) -> list[dict[str, Any]]:
    """Score ``methods`` x ``samples`` on (input [1, C, h, w], target) ``pairs``; one row per
    (method, sample count, level), levels in the order mean, patch, block, pixel.

    layer / strength: for "noise" and "dropout"; one value for both, a dict {method: value}, or
    None for the defaults (:func:`uqcore.sweep.default_layer`, a middle block; noise std 0.05,
    dropout rate 0.1). ``progress(done, total)`` is called after each estimate. Pairs may also be
    (name, input, target) triples. See the module docstring for every field."""
    from uqcore.sampler import estimate

    model = _as_model(model)
    pairs = _check_pairs(pairs)
    plan = _method_plan(model, methods)
    sample_counts = [samples] if isinstance(samples, (int, np.integer)) else list(samples)
    if not sample_counts:
        raise InputError("give at least one sample count")
    cal, test, cal_kind = _calibration_split(len(pairs), calibration_fraction, seed)
    targets = [_prepare_target(model, t) for _, t in pairs]

    settings: dict[str, tuple[str | None, float | None]] = {}
    for engine, _ in plan:
        if engine in LAYER_METHODS:
            lay = _per_method(layer, engine, None) or default_layer(model)
            st = _per_method(strength, engine, None)
            settings[engine] = (lay, float(DEFAULT_STRENGTH[engine] if st is None else st))
        else:
            settings[engine] = (None, None)

    total = len(plan) * len(sample_counts) * len(pairs)
    done = 0
    segment_cache: dict = {}
    rows: list[dict[str, Any]] = []
    for engine, variants in plan:
        lay, st = settings[engine]
        for n in sample_counts:
            scores: dict[str, list[_ImageScore]] = {label: [] for label, _ in variants}
            for i, (x, _) in enumerate(pairs):
                est = estimate(model, x, method=engine, layer=lay, strength=st,
                               samples=int(n), seed=seed, device=device)
                for label, source in variants:
                    pred = getattr(est, source)
                    scores[label].append(_score(model, pred, est.variance, targets[i], est.seconds, est.samples,
                                                segment_cache, i, patch, steps))
                done += 1
                if progress is not None:
                    progress(done, total)
            for label, _ in variants:
                summary = _summarise(scores[label], cal, test, steps)
                for level in LEVELS:
                    row = {"method": label, "samples": int(n), "level": level, **summary[level],
                           **summary["common"], "layer": lay, "strength": st, "seed": int(seed),
                           "n_images": len(pairs), "n_calibration": len(cal), "calibration": cal_kind,
                           "task": model.task, "model": model.name}
                    rows.append(row)
    return rows


# -- tables --------------------------------------------------------------------------------------
def _column(row: dict[str, Any]) -> str:
    return f"{row['method']} ({row['samples']})"


def table_frame(rows: Sequence[dict[str, Any]]):
    """pandas DataFrame shaped like the paper's Table 1: rows "AUSE mean", "AUSE patch",
    "AUSE block", "AUSE pixel", "Corr mean", ..., "Corr pixel", "NLL", "NLL (σ-scaled)",
    "s / image"; columns "method (samples)" in the order the rows list them."""
    import pandas as pd

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


# -- CLI -----------------------------------------------------------------------------------------
def _parse_per_method(text: str | None, convert: Callable[[str], Any], flag: str) -> Any:
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


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="bundled model name or model path")
    parser.add_argument("--data", required=True,
                        help="folder: SR -> HR images; depth -> name.png + name_depth.png (mm) / name_depth.npy (m)")
    parser.add_argument("--methods", default="transform,noise,dropout",
                        help="comma-separated: transform, noise, dropout, mc_dropout1, mc_dropout2, ensemble, llm")
    parser.add_argument("--samples", default="8", help="comma-separated sample counts, e.g. 8,32")
    parser.add_argument("--layer", help="layer for noise/dropout: NAME or noise:NAME,dropout:NAME (default: a middle block)")
    parser.add_argument("--strength", help="noise std / dropout rate: VALUE or noise:0.05,dropout:0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="use only the first N images (sorted by name)")
    parser.add_argument("--calibration-fraction", type=float, default=0.5,
                        help="share of images used to fit the σ-scaling (default 0.5)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    parser.add_argument("--out", help="write the rows to this .csv (or .json) file")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from uqcore.models import load_model

    model = load_model(args.model)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        samples = [int(s) for s in args.samples.split(",") if s.strip()]
    except ValueError as exc:
        raise InputError(f"--samples must be integers separated by commas, got {args.samples!r}") from exc
    layer = _parse_per_method(args.layer, str, "--layer")
    strength = _parse_per_method(args.strength, float, "--strength")
    names, pairs = load_pairs(args.data, model, args.limit)
    print(f"{model.name} ({model.task}, x{model.scale}) on {len(pairs)} image(s) from {args.data}", file=sys.stderr)
    with tqdm(total=1, desc="evaluate", unit="image", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        rows = evaluate(model, pairs, methods=methods, samples=samples, layer=layer, strength=strength,
                        seed=args.seed, calibration_fraction=args.calibration_fraction, device=args.device,
                        progress=progress)
    print(format_table(rows))
    settings = sorted({(r["method"], r["layer"], r["strength"]) for r in rows if r["layer"]})
    for method, lay, st in settings:
        print(f"{method}: layer {lay}, strength {st:g}")
    if args.out:
        write_rows(rows, args.out)
        print(f"wrote {len(rows)} rows to {args.out}")
    return 0
