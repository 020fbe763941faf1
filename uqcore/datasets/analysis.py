"""One image's view: inputs prepared for a model, and an estimate scored against ground truth.

This is what the dashboard's Explore page shows; it keeps the maths out of the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from uqcore.engine import methods as _methods
from uqcore import metrics
from uqcore.engine.layers import method_setting
from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.models.srresnet import bicubic_downscale
from uqcore.engine.estimate import Estimate, estimate
from uqcore.scoring.scorer import aligned, at_target, image_values, prepare_target
from uqcore.progress import Progress


def crop_to_multiple(image: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right edge so H and W are multiples of ``scale``."""
    h, w = image.shape[-2:]
    return image[..., : h - h % scale, : w - w % scale]


@dataclass
class PreparedInput:
    """The model input, the ground truth (or None) and a note saying how they were made."""

    x: torch.Tensor
    target: torch.Tensor | None
    note: str = ""


def prepare_sr(model: UQModel, lr: torch.Tensor | None = None, hr: torch.Tensor | None = None) -> PreparedInput:
    """SR inputs: an LR image, an HR image, or both.

    HR only: HR is cropped to a multiple of the scale and the LR input is its bicubic
    downscaling (``bicubic_downscale``). Both: the HR must be exactly ``scale`` × the LR size.
    LR only: no ground truth.
    """
    s = model.scale
    if lr is None and hr is None:
        raise InputError("give a low-resolution image, a high-resolution image, or both")
    if hr is not None and lr is None:
        cropped = crop_to_multiple(hr, s)
        if min(cropped.shape[-2:]) < 2 * s:
            raise InputError(f"the HR image is too small for ×{s}: it needs at least {2 * s}×{2 * s} pixels")
        note = f"LR input made by bicubic downscaling of the HR image by ×{s}; the HR image is the ground truth"
        if cropped.shape != hr.shape:
            note += f" (HR cropped from {hr.shape[-2]}×{hr.shape[-1]} to {cropped.shape[-2]}×{cropped.shape[-1]})"
        return PreparedInput(x=bicubic_downscale(cropped, s), target=cropped, note=note)
    if hr is not None:
        want = (lr.shape[-2] * s, lr.shape[-1] * s)
        if tuple(hr.shape[-2:]) != want:
            raise InputError(
                f"the HR image is {hr.shape[-2]}×{hr.shape[-1]} but ×{s} the LR image "
                f"({lr.shape[-2]}×{lr.shape[-1]}) is {want[0]}×{want[1]}; upload a matching pair, or only the HR image"
            )
        return PreparedInput(x=lr, target=hr, note="LR input and HR ground truth as uploaded")
    return PreparedInput(
        x=lr, target=None, note="no ground truth: the error map and error-based metrics need an HR image"
    )


def prepare_depth(rgb: torch.Tensor, depth: torch.Tensor | None = None) -> PreparedInput:
    """Depth inputs: an RGB image and optionally its depth map (metres, same H×W)."""
    if depth is None:
        return PreparedInput(
            x=rgb, target=None, note="no ground-truth depth: the error map and error-based metrics need one"
        )
    if tuple(depth.shape[-2:]) != tuple(rgb.shape[-2:]):
        raise InputError(
            f"the depth map is {depth.shape[-2]}×{depth.shape[-1]} but the RGB image is "
            f"{rgb.shape[-2]}×{rgb.shape[-1]}; they must be the same size"
        )
    return PreparedInput(
        x=rgb, target=depth.reshape(1, *depth.shape[-2:]), note="ground-truth depth as uploaded (0/NaN/inf = missing)"
    )


@dataclass
class Analysis:
    """An estimate scored against ground truth (numpy, ready to plot)."""

    prediction: np.ndarray  # [C, H, W]
    variance: np.ndarray  # [H, W]
    error: np.ndarray | None = None  # [H, W] absolute error, NaN where invalid
    mask: np.ndarray | None = None  # [H, W] valid ground truth
    curve: metrics.Sparsification | None = None
    values: dict[str, float] = field(default_factory=dict)
    alignment: str = ""  # for a relative-depth model: how prediction / variance / error were aligned


def analyse(model: UQModel, est: Estimate, target: torch.Tensor | None) -> Analysis:
    """Error map, sparsification curve and the metrics row for one estimate.

    values: :func:`uqcore.scoring.scorer.image_values` -- the numbers ``evaluate`` gives for this image
    (ause/aurg, corr/spearman at pixel, patch (16×16) and block (superpixels of the prediction)
    level; nll; quality: PSNR/SSIM for SR with the scorer's border rule, abs_rel/rmse/log10/δ1 for
    depth) -- with nll_scaled from σ-scaling fitted on the "black" 16×16 tiles of a checkerboard
    and evaluated on the "white" ones (one image has no separate calibration set; the scale is
    also under ``sigma_scale``); seconds and samples. For a non-metric depth model with ground
    truth, prediction, variance and error are those of the prediction aligned to the target (as
    the scorer aligns it, :func:`uqcore.scoring.scorer.align`) and ``alignment`` says so.
    """
    prediction = est.prediction.numpy()
    variance = est.variance.numpy()
    values: dict[str, float] = {"seconds": est.seconds, "samples": float(est.samples)}
    if target is None:
        values["variance_mean"] = float(variance.mean())
        return Analysis(prediction, variance, values=values)
    target_np = target.detach().cpu().numpy()
    target_np = target_np[0] if target_np.ndim == 4 else target_np
    if target_np.shape[-2:] != prediction.shape[-2:]:
        raise InputError(
            f"the ground truth is {target_np.shape[-2]}×{target_np.shape[-1]} but the model output is "
            f"{prediction.shape[-2]}×{prediction.shape[-1]}"
        )
    mask = metrics.valid_mask(target_np) if model.task == "depth" else None
    note = ""
    if aligned(model) and mask.any():
        fit = metrics.align_depth(prediction, target_np, variance, kind=model.depth_kind, mask=mask)
        prediction, variance = fit.prediction.astype(np.float32), fit.variance.astype(np.float32)
        space = "inverse depth" if model.depth_kind == "disparity" else "depth"
        note = (f"{model.depth_kind} depth aligned to the ground truth by least squares in {space} space "
                f"(scale {fit.scale:.4g}, shift {fit.shift:.4g}); prediction, variance and error are the aligned ones")
    error = metrics.error_map(prediction, target_np, mask=mask)
    valid = np.ones(error.shape, bool) if mask is None else mask
    curve = metrics.sparsification(error, variance, mask=mask)
    values.update(image_values(model, est.prediction, est.variance, target_np, split="checkerboard"))
    values["sigma_scale"] = values["variance_scale"]
    error_display = np.where(valid, error, np.nan)
    return Analysis(
        prediction=prediction,
        variance=variance,
        error=error_display,
        mask=mask,
        curve=curve,
        values=values,
        alignment=note,
    )


def upsample_for_display(prediction: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of a [C, H, W] image (e.g. an LR input shown next to the output)."""
    return F.interpolate(prediction[None], size=size, mode="bicubic", align_corners=False)[0].clamp(0, 1)


@dataclass
class MethodMaps:
    """One image's maps under several methods (the paper's Fig. 3): the model's prediction, its
    error map (NaN where the ground truth is invalid; None without ground truth) and each
    method's variance map, in the order asked for."""

    prediction: np.ndarray  # [C, H, W]
    error: np.ndarray | None  # [H, W]
    variances: dict[str, np.ndarray]  # method (variant) name -> [H, W]
    samples: dict[str, int]  # method name -> samples drawn
    error_of: str = ""  # the method whose prediction the error map measures
    alignment: str = ""  # how a relative-depth model's maps were aligned to the ground truth ("": not aligned)


def _per_method(value, engine: str):
    return value.get(engine) if isinstance(value, dict) else value


def method_maps(model: UQModel, x: torch.Tensor, target, names: Sequence[str], *, samples: int = 8,
                layer: str | dict | None = None, strength: float | dict | None = None, seed: int = 0,
                progress: Progress | None = None) -> MethodMaps:
    """Estimate ``x`` with each method of ``names`` (variants of one engine method share its
    run; layer / strength: one value or {engine method: value}, defaults as in ``evaluate``) and
    return the maps side by side. The error map is that of the model's own (unperturbed)
    prediction when one of the methods reports it, else of the first method's prediction."""
    if not names:
        raise InputError("choose at least one method")
    runs: dict[str, Estimate] = {}
    engines = list(dict.fromkeys(_methods.variant(n).engine for n in names))
    for i, engine in enumerate(engines):
        lay, st = method_setting(model, engine, _per_method(layer, engine), _per_method(strength, engine))
        runs[engine] = estimate(model, x, method=engine, layer=lay, strength=st, samples=samples, seed=seed)
        if progress is not None:
            progress(i + 1, len(engines))
    variants = [_methods.variant(n) for n in names]
    shown = next((v for v in variants if v.prediction == _methods.ORIGINAL), variants[0])
    prediction = getattr(runs[shown.engine], shown.prediction).numpy()
    variances = {v.name: runs[v.engine].variance.numpy() for v in variants}
    error, note = None, ""
    if target is not None:
        truth = prepare_target(model.task, target)
        mask = metrics.valid_mask(truth) if model.task == "depth" else None
        if aligned(model):  # a relative-depth model's maps as the scorer sees them: aligned to the truth
            def at_truth(v):
                return at_target(model, getattr(runs[v.engine], v.prediction), runs[v.engine].variance, truth)

            prediction = at_truth(shown)[0]
            variances = {v.name: at_truth(v)[1] for v in variants}
            note = (f"{model.depth_kind} depth: each method's prediction and variance aligned to the ground truth by "
                    "least squares (as the scores are)")
        error = metrics.error_map(prediction, truth, mask=mask)
        if mask is not None:
            error = np.where(mask, error, np.nan)
    return MethodMaps(prediction=prediction, error=error, variances=variances,
                      samples={v.name: runs[v.engine].samples for v in variants}, error_of=shown.name, alignment=note)
