"""Tolerability sweeps (the paper's Fig. 4): layers x strengths on one image.

``uqcore.sweep`` is :func:`sweep` of this module. Layer choice (:func:`uqcore.engine.layers.default_layers`)
and the default grids (:mod:`uqcore.engine.methods`) live with their owners.

For every (layer, strength) the perturbation is applied with ``uqcore.estimate`` and we record
how much it hurts the prediction and how well its variance tracks the error:

* ``loss``: the **mean per-sample L1 loss of the perturbed outputs** against the target,
  i.e. the predictive performance *after* perturbation (paper, Fig. 4): the mean over samples
  of mean |sample - target| over valid pixels and channels. The samples are scored as they
  stream out of the engine (``sample_callback``); none are stored.
* ``base_loss``: the same L1 loss of the unperturbed output.
* ``loss_increase``: (loss - base_loss) / base_loss, the relative loss increase.
* ``corr_pixel``, ``corr_patch``, ``corr_block``, ``spearman_pixel``: correlation between the
  error of the unperturbed output (the prediction of the training-free methods) and the
  variance, at the levels defined in :mod:`uqcore.metrics`; ``ause`` / ``aurg``: pixel level.
* ``variance_mean``: mean of the variance map (the uncertainty's magnitude).
* ``samples``: the samples drawn (with several images, the mean over them, rounded; with
  ``samples="auto"`` each image stops when its map is reliable); ``reliability``: the variance
  map's split-half reliability (:attr:`uqcore.engine.estimate.Estimate.reliability`), mean over images.

Several images at once (lists for ``x`` and ``target``): losses and variance are averaged over
the images, the relative increase is taken of the averages, correlations are averaged.

Without a target (``target=None``) the reference is the unperturbed output: ``loss`` = mean
per-sample L1 distance to it, ``base_loss`` = 0, ``loss_increase`` = loss / mean |unperturbed
output| (the relative change of the output), and the correlation / AUSE fields are None --
use ``variance_mean`` as the uncertainty axis instead.

Depth targets: pixels that are zero, NaN or inf in the target are excluded everywhere; an output
whose size differs from the target's is resized bilinearly to the target's size. A non-metric
depth model (``depth_kind``) is aligned as the scorer aligns it: the fit of its unperturbed output
maps every sample and the variance (:mod:`uqcore.metrics.alignment`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from uqcore import distributed as _distributed
from uqcore import metrics as M
from uqcore.errors import InputError
from uqcore.progress import Progress
from uqcore.engine.layers import default_layers
from uqcore.engine.methods import DEFAULT_STRENGTHS, SWEEP_METHODS
from uqcore.engine.model import as_model, model_identity
from uqcore.engine.estimate import AUTO, DEFAULT_MAX_SAMPLES, DEFAULT_TARGET, estimate
from uqcore.scoring.scorer import aligned, resize_to
from uqcore.scoring.stats import finite_mean



def default_strengths(method: str) -> list[float]:
    """The default grid of ``method`` (:attr:`uqcore.engine.methods.MethodSpec.sweep_strengths`)."""
    if method not in DEFAULT_STRENGTHS:
        raise InputError(f"sweeps perturb a layer; method must be one of {SWEEP_METHODS}, got {method!r}")
    return list(DEFAULT_STRENGTHS[method])


# -- the sweep -----------------------------------------------------------------------------------
class _SampleLoss:
    """Accumulates mean |sample - reference| per sample from streamed chunks [k, C, H, W]."""

    def __init__(self, reference: torch.Tensor, mask: torch.Tensor | None, align: Any = None) -> None:
        self.reference = reference  # [C or 1, H, W], CPU float32
        self.mask = mask            # [H, W] bool or None
        self.align = align          # a relative-depth model's fit (metrics.alignment), applied to every sample
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.total = 0.0
        self.count = 0

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = str(device)
        if key not in self._cache:
            m = None if self.mask is None else self.mask.to(device)
            self._cache[key] = (self.reference.to(device), m)
        return self._cache[key]

    def __call__(self, chunk: torch.Tensor) -> None:
        ref, mask = self._on(chunk.device)
        out = chunk.float()
        if out.shape[-2:] != ref.shape[-2:]:
            out = F.interpolate(out, size=tuple(ref.shape[-2:]), mode="bilinear", align_corners=False)
        out = out if self.align is None else self.align.apply(out.double()).float()
        diff = (out - ref.unsqueeze(0)).abs().mean(1)  # [k, H, W]
        if mask is not None:
            per = (diff * mask).sum((1, 2)) / mask.sum()
        else:
            per = diff.mean((1, 2))
        self.total += float(per.double().sum())
        self.count += int(per.shape[0])

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else float("nan")


def _target_tensor(model: Any, target: Any, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(target [C or 1, H, W] CPU float32 with invalid pixels zeroed, valid mask or None)."""
    t = target.detach().cpu() if isinstance(target, torch.Tensor) else torch.from_numpy(np.asarray(target))
    t = t.float()
    while t.dim() > 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.dim() != 3:
        raise InputError(f"target must be [C, H, W] or [H, W] (batch of 1 allowed), got {tuple(t.shape)}")
    mask = None
    if model.task == "depth":
        mask = torch.from_numpy(M.valid_mask(t.numpy()))
        if not bool(mask.any()):
            raise InputError("the depth target has no valid pixel (all zero, NaN or inf)")
        t = torch.where(mask.unsqueeze(0), t, torch.zeros_like(t))
    elif not bool(torch.isfinite(t).all()):
        raise InputError("the target contains NaN or inf values; give a clean ground-truth image")
    if model.task != "depth" and tuple(t.shape[-2:]) != tuple(shape):
        raise InputError(
            f"the target is {t.shape[-2]}x{t.shape[-1]} but the model output is {shape[0]}x{shape[1]}; "
            "for super-resolution give the HR image whose bicubic downscale is the input"
        )
    return t, mask


class _Image:
    """One image of a sweep: its input, reference for the loss, and (with a target) error map."""

    def __init__(self, model: Any, x: torch.Tensor, target: Any, method: str, layer: str, seed: int,
                 device: Any) -> None:
        # The unperturbed output: strength 0 draws no noise (one forward pass).
        base = estimate(model, x, method=method, layer=layer, strength=0.0, samples=1, seed=seed, device=device)
        original = base.original
        self.x = x
        self.has_target = target is not None
        self.error = self.segments = self.mask_np = self.fit = None
        if target is None:
            self.reference, self.mask = original, None
            self.base_loss = 0.0
            self.scale = float(original.abs().mean())  # loss_increase = relative change of the output
        else:
            self.reference, self.mask = _target_tensor(model, target, tuple(original.shape[-2:]))
            pred = resize_to(original, tuple(self.reference.shape[-2:]))
            self.mask_np = None if self.mask is None else self.mask.numpy()
            if aligned(model):  # relative depth: the scorer's alignment, fitted on the unperturbed output
                self.fit = M.align_depth(pred.double().numpy(), self.reference.numpy(), kind=model.depth_kind)
                pred = torch.from_numpy(self.fit.prediction).float()
            self.error = M.error_map(pred, self.reference, mask=self.mask_np)
            meter = _SampleLoss(self.reference, self.mask, self.fit)  # the same arithmetic as the samples'
            meter(original.unsqueeze(0))
            self.base_loss = meter.value
            self.scale = self.base_loss
            self.segments = M.segment(pred)

    def correlations(self, variance: torch.Tensor, patch: int, steps: int) -> dict[str, float]:
        """Correlations / AUSE of a variance with this image's error (target size; aligned as the prediction)."""
        var = resize_to(variance, tuple(self.reference.shape[-2:]))
        if self.fit is not None:
            var = torch.from_numpy(self.fit.variance_of(var.double().numpy()))
        return M.correlations(self.error, var, mask=self.mask_np, patch=patch, segments=self.segments, steps=steps)


def _grid(model: Any, x: Any, target: Any, method: str, layers: Any, strengths: Any) -> tuple[Any, list, list, list,
                                                                                             list]:
    """(model, images, targets, layers, strengths) of a sweep: checked, the defaults filled in."""
    model = as_model(model)
    if method not in SWEEP_METHODS:
        raise InputError(f"sweeps perturb a layer; method must be one of {SWEEP_METHODS}, got {method!r}")
    xs, ts = _as_lists(x, target)
    layers = list(default_layers(model) if layers is None else layers)
    strengths = [float(s) for s in (default_strengths(method) if strengths is None else strengths)]
    if not layers or not strengths:
        raise InputError("give at least one layer and one strength to sweep")
    return model, xs, ts, layers, strengths


def _as_lists(x: Any, target: Any) -> tuple[list, list]:
    if isinstance(x, (list, tuple)):
        xs = list(x)
        if not xs:
            raise InputError("give at least one image to sweep")
        if target is None:
            ts = [None] * len(xs)
        elif isinstance(target, (list, tuple)) and len(target) == len(xs):
            ts = list(target)
        else:
            raise InputError(f"got {len(xs)} images; pass a list of as many targets (or target=None)")
        if any(t is None for t in ts) and any(t is not None for t in ts):
            raise InputError("give a target for every image or for none")
        return xs, ts
    return [x], [target]


def sweep(
    model: Any,
    x: torch.Tensor | Sequence[torch.Tensor],
    target: Any = None,
    method: str = SWEEP_METHODS[0],
    layers: Sequence[str] | None = None,
    strengths: Sequence[float] | None = None,
    samples: int | str = 8,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
    *,
    patch: int = 16,
    steps: int = 50,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    reliability_target: float = DEFAULT_TARGET,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    workers: int | None = None,
    ray_address: str | None = None,
    store: Any = None,
    resume: bool = False,
    prepared: list | None = None,
) -> list[dict[str, Any]]:
    """Tolerability sweep of ``method`` ("noise" or "dropout") over ``layers`` x ``strengths``.

    x: the model input [1, C, H, W] in [0, 1]; target: the ground truth ([C, H', W'] image for
    SR / image tasks, [H', W'] metres for depth) or None. x and target may also be lists (several
    images): ``loss`` / ``base_loss`` / ``variance_mean`` are then means over the images,
    ``loss_increase`` = (loss - base_loss) / base_loss of those means, and the correlation /
    AUSE fields are means over the images (NaN values left out). layers default to
    :func:`default_layers`, strengths to :data:`DEFAULT_STRENGTHS`. ``progress(done, total)`` is
    called after each (setting, image). Returns one dict per (layer, strength), in layer-major
    order, with the fields described in the module docstring plus method, samples, seed,
    seconds (summed over images), n_images and ``reference`` ("target" or "unperturbed").
    ``on_row(row)`` is called as each setting finishes (live plots). ``samples="auto"``: each
    estimate draws until its map's reliability reaches ``reliability_target`` (or
    ``max_samples``); see :func:`uqcore.estimate`. ``workers`` / ``ray_address`` / ``store`` /
    ``resume``: scale-out and resume, the serial rows (:func:`_sweep_units`)."""
    if _distributed.uses_units(workers, ray_address, store, resume):
        auto = {"target": float(reliability_target), "max_samples": int(max_samples)} if samples == AUTO else {}
        return _sweep_units(model, x, target, method, layers, strengths, samples, seed, device, progress, patch,
                            steps, on_row, dict(workers=workers, ray_address=ray_address, store=store, resume=resume),
                            auto)
    model, xs, ts, layers, strengths = _grid(model, x, target, method, layers, strengths)
    images = prepared or [_Image(model, xi, ti, method, layers[0], seed, device) for xi, ti in zip(xs, ts)]
    has_target = images[0].has_target
    base_loss = float(np.mean([im.base_loss for im in images]))
    scale = float(np.mean([im.scale for im in images]))

    rows: list[dict[str, Any]] = []
    total = len(layers) * len(strengths) * len(images)
    done = 0
    for layer in layers:
        for strength in strengths:
            losses, variances, seconds, drawn, reliability = [], [], 0.0, [], []
            stats: list[dict[str, float]] = []
            for im in images:
                meter = _SampleLoss(im.reference, im.mask, im.fit)
                est = estimate(model, im.x, method=method, layer=layer, strength=strength, samples=samples,
                               seed=seed, device=device, sample_callback=meter, target=reliability_target,
                               max_samples=max_samples)
                losses.append(meter.value)
                variances.append(float(est.variance.double().mean()))
                seconds += float(est.seconds)
                drawn.append(est.samples)
                if est.reliability is not None:
                    reliability.append(est.reliability)
                if has_target:
                    stats.append(im.correlations(est.variance, patch, steps))
                done += 1
                if progress is not None:
                    progress(done, total)
            row = _setting_row(method, layer, strength, seed, losses, base_loss, scale, drawn, reliability,
                               variances, seconds, len(images), stats if has_target else None)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def _setting_row(method: str, layer: str, strength: float, seed: int, losses: list, base_loss: float, scale: float,
                 drawn: list, reliability: list, variances: list, seconds: float, n_images: int,
                 stats: list | None) -> dict[str, Any]:
    """One sweep row (fields in the module docstring); ``stats``: per-image correlations, or None
    without ground truth."""
    loss = float(np.mean(losses))
    if scale > 0:
        increase = (loss - base_loss) / scale
    else:
        increase = 0.0 if loss == base_loss else math.inf
    row: dict[str, Any] = {
        "method": method, "layer": layer, "strength": strength, "samples": int(round(float(np.mean(drawn)))),
        "reliability": float(np.mean(reliability)) if reliability else None, "seed": int(seed), "loss": loss,
        "base_loss": base_loss, "loss_increase": float(increase), "corr_pixel": None, "corr_patch": None,
        "corr_block": None, "spearman_pixel": None, "ause": None, "aurg": None,
        "variance_mean": float(np.mean(variances)), "seconds": seconds, "n_images": n_images,
        "reference": "target" if stats is not None else "unperturbed",
    }
    if stats is not None:
        for field, key in (("corr_pixel", "corr_pixel"), ("corr_patch", "corr_patch"), ("corr_block", "corr_block"),
                           ("spearman_pixel", "spearman_pixel"), ("ause", "ause_pixel"), ("aurg", "aurg_pixel")):
            row[field] = finite_mean([st[key] for st in stats])
    return row


def _finite(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float, np.floating)) and math.isfinite(float(v))


def recommend(rows: Sequence[dict[str, Any]], tolerance: float = 0.05, key: str | None = None) -> dict[str, Any] | None:
    """The row with the highest ``key`` among rows with ``loss_increase <= tolerance``.

    ``key`` defaults to ``corr_pixel``; when no row has a correlation (no ground truth) it is
    ``variance_mean`` -- the strongest uncertainty signal the tolerance allows. Rows whose key is
    None/NaN are skipped; ties go to the earliest row. None if no row qualifies."""
    if key is None:
        key = "corr_pixel" if any(_finite(r.get("corr_pixel")) for r in rows) else "variance_mean"
    best = None
    for r in rows:
        inc = r.get("loss_increase")
        if not _finite(inc) or inc > tolerance or not _finite(r.get(key)):
            continue
        if best is None or r[key] > best[key]:
            best = r
    return best



def read_sweep_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a sweep CSV (``reproduce``'s ``results_sweeps.csv``): strength, loss increase and
    pixel correlation as floats (None when empty), samples as int; the rest as text."""
    import csv

    with Path(path).open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in ("strength", "loss_increase", "corr_pixel"):
            row[key] = float(row[key]) if row[key] not in ("", "None") else None
        row["samples"] = int(row["samples"])
    return rows


def best_setting(rows: Sequence[dict[str, Any]], tolerance: float = 0.05) -> dict[str, Any] | None:
    """A model's recommended setting from its sweep rows: :func:`recommend` among the infer-noise
    rows and among the infer-dropout rows, then the one with the higher pixel correlation
    (method, layer, strength, samples, corr_pixel, loss_increase); None if neither qualifies."""
    picks = [recommend([r for r in rows if r["method"] == m], tolerance=tolerance) for m in ("noise", "dropout")]
    picks = [p for p in picks if p is not None]
    if not picks:
        return None
    best = max(picks, key=lambda r: r["corr_pixel"])
    return dict(method=best["method"], layer=best["layer"], strength=best["strength"], samples=best["samples"],
                corr_pixel=round(best["corr_pixel"], 4), loss_increase=round(best["loss_increase"], 4))

# -- units: workers and resume (uqcore.distributed runs them) ------------------------------------
ROW_COLUMNS = ("method", "layer", "strength", "samples", "seed", "loss", "base_loss", "loss_increase", "corr_pixel",
               "corr_patch", "corr_block", "spearman_pixel", "ause", "aurg", "variance_mean", "seconds", "n_images",
               "reference", "error")


class SweepJob(_distributed.UnitData):
    """One unit of :func:`sweep` = one (layer, strength) on all the images: the serial sweep of
    that single setting, so its row is the serial run's row. Unit key: method, layer, strength,
    samples (for "auto" also its stop rule: target, max_samples) and a digest of the images and
    targets; data: all the images and targets."""

    kind = "sweep"
    columns = ROW_COLUMNS

    def __init__(self, model: Any, xs: list, ts: list, method: str, layers: list[str], strengths: list[float],
                 samples: int | str, seed: int, patch: int, steps: int, auto: dict[str, Any] | None = None) -> None:
        self._data = [(xs, ts)]  # one data for every unit: all the images
        self.n_images, self.method, self.layers, self.strengths = len(xs), method, layers, strengths
        self.samples, self.seed, self.patch, self.steps = samples, int(seed), patch, steps
        self.auto = dict(auto or {})  # the stop rule of samples="auto"; {} for a count
        self.images = _distributed.digest(xs, ts)
        self.identity = model_identity(model)

    def keys(self) -> list[dict[str, Any]]:
        return [{"method": self.method, "layer": layer, "strength": strength, "samples": self.samples, **self.auto,
                 "images": self.images} for layer in self.layers for strength in self.strengths]

    def run_info(self) -> dict[str, Any]:
        return {"model": self.identity, "seed": self.seed, "patch": self.patch, "steps": self.steps}

    def data_id(self, key: dict[str, Any]) -> int:
        return 0

    def run(self, model: Any, key: dict[str, Any], data: tuple[list, list], cache: dict, device: Any) -> dict[str, Any]:
        xs, ts = data
        if "images" not in cache:  # what the serial sweep prepares once: built with the grid's first layer
            cache["images"] = [_Image(model, xi, ti, self.method, self.layers[0], self.seed, device)
                               for xi, ti in zip(xs, ts)]
        x, target = (xs, ts) if len(xs) > 1 else (xs[0], ts[0])
        return sweep(model, x, target, method=key["method"], layers=[key["layer"]], strengths=[key["strength"]],
                     samples=key["samples"], seed=self.seed, device=device, patch=self.patch, steps=self.steps,
                     prepared=cache["images"], reliability_target=key.get("target", DEFAULT_TARGET),
                     max_samples=key.get("max_samples", DEFAULT_MAX_SAMPLES))[0]

    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]:
        if values is not None:
            return [values]
        return [{"method": key["method"], "layer": key["layer"], "strength": key["strength"],
                 "samples": key["samples"], "seed": self.seed, "n_images": self.n_images, "error": error}]


def _sweep_units(model: Any, x: Any, target: Any, method: str, layers: Any, strengths: Any, samples: int, seed: int,
                 device: Any, progress: Progress | None, patch: int, steps: int, on_row: Any,
                 scale_out: dict[str, Any], auto: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`sweep` through :func:`uqcore.distributed.run_job` (docs/SCALING.md): the same grid,
    one unit per (layer, strength) on all the images, whose row is the serial sweep of that one
    setting; rows in layer-major order. ``workers`` Ray actors (``ray_address`` joins a cluster;
    1 worker and no address runs here); ``store`` a folder that keeps every row as it finishes;
    ``resume`` skips the rows already kept (``on_row`` gets those first). A setting that fails
    for a bad input gets a row with its ``error`` and None values; the others go on.
    (``sweep(prepared=...)``: the images as :class:`_Image`, so that a worker's settings reuse
    their unperturbed outputs, error maps and superpixels.)"""
    model, xs, ts, layers, strengths = _grid(model, x, target, method, layers, strengths)
    job = SweepJob(model, xs, ts, method, layers, strengths, samples, seed, patch, steps, auto)
    emit = None if on_row is None else (lambda r: on_row(job.rows(r.key, r.values, r.error)[0]))
    results = _distributed.run_job(job, model, device=device, progress=progress, on_result=emit, **scale_out)
    return [job.rows(r.key, r.values, r.error)[0] for r in results]


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of sweep rows."""
    cols = ["layer", "strength", "samples", "reliability", "loss", "loss_increase", "corr_pixel", "corr_patch", "ause",
            "variance_mean"]

    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    table = [cols] + [[fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in table)
