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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from uqcore.datasets.evaluate import evaluate
from uqcore.datasets.folders import make_lr
from uqcore.models.registry import SAMPLES_DIR, load_model
from uqcore.models.srresnet import evaluate_images
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
    per_image = evaluate_images(model, sorted(folder.glob("*.png")), scale=model.scale)
    keys = ["psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "psnr_gain"]
    mean = {k: round(float(np.mean([r[k] for r in per_image.values()])), 4) for k in keys}
    return {"set": "assets/samples/sr (sources and licences: assets/samples/README.md)", "how": SR_EVAL_HOW,
            "mean": mean, "per_image": per_image}


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
