"""The bundled models' measured quality, as ``python -m uqcore quality`` records it in their cards.

* :func:`sr_eval`: a super-resolution model's PSNR / SSIM against bicubic on the bundled eval set
  ``assets/samples/sr`` (Y channel BT.601, ``scale``-px border, 8-bit rounded outputs,
  ``skimage.metrics``; LR = ``bicubic_downscale(HR, scale)``; an ensemble's prediction is its
  members' mean): the card's ``measured.eval``. This reports the product's quality on the eval set;
  nothing is chosen on it.
* :func:`student_quality`: a student head against its teacher (8 samples) with ``uqcore.evaluate``
  (the one scorer) on **decision images only**: the held-out images of :mod:`uqcore.paper.heldout`
  (SR: ``SR_HELDOUT`` centre-cropped to ``crop`` px; depth: :data:`HELDOUT_SCENES` rendered scenes),
  never ``assets/samples`` (whose images form the paper run's calibration and test splits). Pixel /
  image-level correlation, pixel AUSE, their ratios and the bars (:data:`BARS`): the head card's
  ``measured.quality``; the same numbers score candidate heads (``--head``).
* :func:`transform_bar` / :func:`explore_seconds`: a model's transform (8) pixel correlation on every
  bundled SR sample (``measured.uq_check``) and what Explore computes first, timed
  (``measured.explore_seconds``).
* :func:`depth_metrics` / :func:`time_forward`: a depth model's abs-rel, RMSE, log10, delta1-3 on
  ``assets/samples/depth`` against the training-mean depth (``measured.metrics``), and one forward
  pass timed (``measured.forward_time``).
* :func:`unseen_check`: PSNR gain over bicubic (and a variance head's PSNR and pixel correlation)
  on the reserved unseen photos: the card's ``measured.unseen_check``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import metrics as M
from uqcore.datasets.evaluate import evaluate
from uqcore.datasets.folders import explore_region, make_lr
from uqcore.models.registry import MODELS_DIR, SAMPLES_DIR, load_model
from uqcore.engine.estimate import estimate
from uqcore.metrics.quality import psnr_ssim as image_metrics
from uqcore.models.srresnet import bicubic_downscale, bicubic_upscale, evaluate_images, load_hr
from uqcore.paper.heldout import SR_HELDOUT, depth_heldout, sr_heldout
from uqcore.paper.run import centre_crop

BARS = {"corr_pixel": (">=", 1.0), "corr_mean": (">=", 0.9), "ause_pixel": ("<=", 1.05)}
HELDOUT_CROP = 384   # the bundled SR samples' largest side
HELDOUT_SCENES = 12  # as many as the bundled depth set
SR_EVAL_HOW = ("PSNR/SSIM on the Y channel (ITU-R BT.601), border of scale px cropped, 8-bit rounded outputs, "
               "skimage.metrics (data_range=1, Gaussian-window SSIM); LR = uqcore.models.srresnet.bicubic_downscale(HR, "
               "scale); baseline = bicubic upscaling (uqcore.models.srresnet.bicubic_upscale); an ensemble's prediction "
               "is its members' mean")


def sr_eval(name: str) -> dict[str, Any]:
    """The ``eval`` entry of SR model ``name`` (module docstring), without command and date."""
    model = load_model(name, student=False)
    folder = SAMPLES_DIR / "sr"
    paths = sorted(folder.glob("*.png"))
    per_image = evaluate_images(model, paths, scale=model.scale)
    keys = ["psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "psnr_gain"]
    mean = {k: round(float(np.mean([r[k] for r in per_image.values()])), 4) for k in keys}
    out = {"set": "assets/samples/sr (sources and licences: assets/samples/README.md)", "how": SR_EVAL_HOW,
           "mean": mean, "per_image": per_image}
    if len(model.members) > 1:  # each member alone: is every member as well trained as a single model?
        out["member_psnr"] = [round(float(np.mean([r["psnr"] for r in evaluate_images(m, paths, model.scale).values()])), 4)
                              for m in model.members]
    return out


def decision_pairs(model: Any, crop: int = HELDOUT_CROP) -> tuple[list[str], list]:
    """The decision images for ``model``'s task: (names, [(input, target)])."""
    if model.task == "sr":
        names, images = sr_heldout(len(SR_HELDOUT))
        return names, [(lr, hr[0]) for lr, hr in (make_lr(centre_crop(img, crop), model.scale) for img in images)]
    return depth_heldout(HELDOUT_SCENES, model)


def student_quality(name: str, head: str | Path | None = None, crop: int = HELDOUT_CROP, seed: int = 0,
                    limit: int | None = None) -> dict[str, Any]:
    """The ``quality`` entry of model ``name``'s student head (the bundled one, or ``head``),
    without command and date (module docstring)."""
    model = load_model(name, student=None if head is None else str(head))
    if model.student is None:
        raise SystemExit(f"{name} has no bundled student head")
    teacher = model.student_card["teacher"]
    names, pairs = decision_pairs(model, crop)
    names, pairs = names[:limit or None], pairs[:limit or None]
    rows = evaluate(model, pairs, methods=[teacher["method"], "student"], samples=[8],
                    layer=teacher["layer"], strength=teacher["strength"], seed=seed)
    value = {(r["method"], r["level"]): r for r in rows}
    out: dict[str, Any] = {
        "data": names,
        "data_note": ("uqcore.paper.heldout (decision images: neither training data nor assets/samples)"
                      + (f", SR centre-cropped to {crop} px HR" if model.task == "sr" else "")),
        "images": len(pairs),
        "teacher_setting": f"{teacher['method']} (8 samples)" + (f" at {teacher['layer']}, {teacher['strength']}"
                                                                if teacher["layer"] else "")}
    for who in (teacher["method"], "student"):
        key = "teacher" if who != "student" else "student"
        out[key] = {"corr_pixel": value[(who, "pixel")]["corr"], "corr_mean": value[(who, "mean")]["corr"],
                    "ause_pixel": value[(who, "pixel")]["ause"],
                    "seconds_per_image": value[(who, "pixel")]["seconds_per_image"]}
    out["ratio"] = {k: out["student"][k] / out["teacher"][k] for k in BARS}
    out["bars"] = {k: bool(out["ratio"][k] >= b if op == ">=" else out["ratio"][k] <= b) for k, (op, b) in BARS.items()}
    return out


# -- unseen photos ------------------------------------------------------------------------------
def unseen_hr(path: Path, crop: int) -> torch.Tensor:
    """An unseen photo as HR [1, 3, crop, crop]: halved (PIL Lanczos, to soften JPEG artefacts),
    centre-cropped."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    img = img.resize((img.width // 2, img.height // 2), Image.LANCZOS)
    left, top = (img.width - crop) // 2, (img.height - crop) // 2
    arr = np.asarray(img.crop((left, top, left + crop, top + crop)), np.float32) / 255
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)


@torch.inference_mode()
def _gains(model: Any, images: dict[str, torch.Tensor]) -> dict[str, float]:
    out = {}
    for name, hr in images.items():
        lr = bicubic_downscale(hr, 4)
        p, _ = image_metrics(model.module(lr)[:, :3], hr, border=4)
        b, _ = image_metrics(bicubic_upscale(lr, 4), hr, border=4)
        out[name] = round(p - b, 4)
    return out


@torch.inference_mode()
def _likelihood(model: Any, reference: Any, images: dict[str, torch.Tensor]) -> dict[str, Any]:
    """PSNR of ``model`` and ``reference`` and the pixel correlation of ``model``'s predicted
    variance with its own error, per photo and averaged."""
    per = {}
    for name, hr in images.items():
        lr = bicubic_downscale(hr, 4)
        est = estimate(model, lr, method="llm")
        pred = est.prediction.double().numpy()
        err = M.error_map(pred, hr[0].double().numpy())
        per[name] = {"psnr": round(image_metrics(est.prediction[None, :3], hr, border=4)[0], 4),
                     "reference_psnr": round(image_metrics(reference.module(lr)[:, :3], hr, border=4)[0], 4),
                     "corr_pixel": round(M.pearson(err, est.variance.double().numpy()), 4)}
    mean = {k: round(float(np.mean([r[k] for r in per.values()])), 4) for k in ("psnr", "reference_psnr", "corr_pixel")}
    return {**{f"{k}_mean": v for k, v in mean.items()}, "likelihood_per_image": per}


def unseen_check(name: str, photos: list[Path], crop: int = 384, reference: str = "srresnet") -> dict[str, Any]:
    """The ``unseen_check`` entry of SR model ``name`` on the unseen photos
    (:func:`uqcore.datasets.sources.unseen_photos`): PSNR gain over bicubic per photo and its mean
    (LR = ``bicubic_downscale(HR, 4)``, Y-channel PSNR, 4-px border); for a model with a variance
    head (``method="llm"``) also its PSNR, ``reference``'s on the same crops and the pixel
    correlation of its variance with its own error."""
    from uqcore.datasets.sources import UNSEEN_PACKAGE, UNSEEN_PATTERN

    images = {p.parts[-4]: unseen_hr(p, crop) for p in photos}
    model = load_model(name, student=False)
    model.module.eval()
    per_image = _gains(model, images)
    out: dict[str, Any] = {"psnr_gain_mean": round(float(np.mean(list(per_image.values()))), 4), "per_image": per_image}
    if "llm" in model.methods:
        ref = load_model(reference, student=False)
        ref.module.eval()
        out.update(_likelihood(model, ref, images), reference=reference)
    out["images"] = (f"Debian {UNSEEN_PACKAGE} ({UNSEEN_PATTERN}), halved and centre-cropped to {crop} px; never used "
                     "for training, selection or the bundled samples")
    return out


# -- Explore timings and the transform bar --------------------------------------------------------
def transform_bar(model: Any, paths: list[Path]) -> dict[str, Any]:
    """The ``uq_check`` entry: per bundled SR sample (whole image, LR = ``bicubic_downscale``) the
    pixel correlation of ``estimate(method="transform", samples=8, seed=0)``'s variance with the
    prediction's error, and the mean (the bar for a bundled model: >= 0.15)."""
    per_image = {}
    for path in paths:
        hr = load_hr(path, model.scale)
        est = estimate(model, bicubic_downscale(hr, model.scale), method="transform", samples=8, seed=0)
        per_image[path.name] = round(M.pearson(M.error_map(est.prediction, hr[0]), est.variance), 4)
    return {"transform_8_corr_pixel_mean": round(float(np.mean(list(per_image.values()))), 4), "per_image": per_image,
            "how": "uqcore.estimate(method='transform', samples=8, seed=0) on each whole bundled sample (LR = "
                   "bicubic_downscale(HR, 4)); uqcore.metrics.pearson(error_map(prediction, HR), variance)"}


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return round(time.perf_counter() - t, 2)


def explore_seconds(model: Any, path: Path) -> dict[str, Any]:
    """The ``explore_seconds`` entry: wall-clock seconds of what Explore computes first on the
    model's default sample (centre-cropped to the card's ``explore_crop`` as the dashboard does):
    one forward, transform (8), the recommended setting, the student head if any."""
    hr, side = explore_region(model, load_hr(path, model.scale))
    x = bicubic_downscale(hr, model.scale)
    rec = model.card.get("recommended") or {}
    with torch.inference_mode():
        out = {"image": path.name, "explore_crop": side, "lr_size": list(x.shape[-2:]),
               "forward": _timed(lambda: model.module(x))}
    out["transform_8"] = _timed(lambda: estimate(model, x, method="transform", samples=8, seed=0))
    if rec.get("method") in ("noise", "dropout"):
        out["recommended"] = {**{k: rec.get(k) for k in ("method", "layer", "strength", "samples")},
                              "seconds": _timed(lambda: estimate(model, x, method=rec["method"], layer=rec["layer"],
                                                                 strength=rec["strength"],
                                                                 samples=int(rec.get("samples", 8)), seed=0))}
    if "student" in model.methods:
        out["student"] = _timed(lambda: estimate(model, x, method="student"))
    out.update(threads=torch.get_num_threads(), load_average=round(os.getloadavg()[0], 1))
    return out



# -- depth ------------------------------------------------------------------------------------------
def time_forward(module, size: tuple[int, int], threads: int, repeats: int = 20) -> dict:
    """Median and minimum wall time of one forward pass on a random 1x3xHxW input (CPU)."""
    x = torch.rand(1, 3, *size)
    module.eval()
    times = []
    with torch.inference_mode():
        module(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "input": [1, 3, *size],
        "median_s": round(times[len(times) // 2], 4),
        "min_s": round(times[0], 4),
        "threads": threads,
        "device": f"cpu ({platform.processor() or platform.machine()})",
    }


def depth_metrics(name: str, data: Path, mean: float | None = None) -> dict[str, Any]:
    """The ``metrics`` entry of depth model ``name`` on the pairs in ``data`` (abs-rel, RMSE (m),
    log10, delta1-3 per image over pixels with ground truth, averaged over images) against predicting
    the training-mean depth everywhere (``train_mean_depth`` of the weights' metadata unless ``mean``)."""
    from safetensors import safe_open

    from uqcore.models.fcrn import evaluate_folder

    model = load_model(name, student=False)
    if mean is None:
        with safe_open(str(Path(model.card["_path"]).parent / model.card["weights"]
                           if "_path" in model.card else MODELS_DIR / model.card["weights"]), "pt") as f:
            mean = float(f.metadata()["train_mean_depth"])
    result = evaluate_folder(model.module, data, constant=mean)
    ratio = result["model"]["abs_rel"] / result["constant"]["abs_rel"]
    return {"data": str(data), "images": result["images"],
            "definition": "per image over pixels with ground truth, averaged over images; "
                          "delta_i = fraction with max(p/g, g/p) < 1.25^i; RMSE in metres",
            "model": {k: round(v, 4) for k, v in result["model"].items()},
            "mean_depth_baseline": {k: round(v, 4) for k, v in result["constant"].items()},
            "train_mean_depth_m": round(mean, 4), "abs_rel_ratio_to_baseline": round(ratio, 4)}
