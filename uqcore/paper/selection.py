"""Choosing the trained baselines among their candidates, on decision images only.

Decision images (:func:`decision_pairs`): the held-out images of :data:`uqcore.paper.heldout.SR_HELDOUT`
(scikit-image photos that are neither training data, ``data/sr_train``, nor ``assets/samples``, so
neither the paper run's calibration nor its test split), centre-cropped to :data:`CROP` px, LR =
bicubic x1/4. Nothing here reads ``assets/samples``.

Targets (``python -m uqcore select TARGET``):

* ``srresnet-llm`` / ``srresnet-llm-head`` (likelihood heads): per candidate the PSNR of the mean (Y
  channel, 4-px border, 8-bit rounded), the Gaussian NLL of the HR under (mean, exp(log-variance))
  and the pixel correlation of the variance with the error. Rule: among candidates whose PSNR is
  within :data:`MARGIN_DB` of srresnet's on the same images, the lowest NLL.
* ``srresnet-mcdrop`` (MC-dropout): the candidates ``mcdrop-at{1,3,6}-p{0.05,0.1,0.2}`` (dropout
  after body block *at* with rate *p*, fine-tuned from srresnet). Per candidate
  ``uqcore.estimate(method="mc_dropout", samples=8, seed=i)`` on image *i*: ``loss`` is the tolerability
  sweeps' loss (:mod:`uqcore.datasets.sweep`: the mean per-sample L1 of the dropout samples against
  the HR), ``loss_increase`` its relative increase over srresnet's L1 on the same images
  (deterministic srresnet's loss: the reference the candidates are fine-tuned from), ``corr_pixel``
  the mean over images of the pixel-level Pearson correlation between the variance and the error
  of the prediction (the sample mean); ``l1_prediction`` and ``psnr`` of the prediction are
  recorded too. Rule: the sweeps' (:func:`uqcore.datasets.sweep.recommend`): the highest
  ``corr_pixel`` among candidates within a :data:`TOLERANCE` loss increase.

Every candidate is built from what its weights file records (``arch`` / ``arch_kwargs`` safetensors
metadata of ``python -m uqcore train sr``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import metrics as M
from uqcore.datasets.folders import make_lr
from uqcore.datasets.sweep import recommend
from uqcore.engine.estimate import estimate
from uqcore.engine.model import wrap
from uqcore.errors import InputError
from uqcore.models.architectures import build_architecture
from uqcore.metrics.quality import psnr_ssim as image_metrics
from uqcore.paper.heldout import SR_HELDOUT, sr_heldout
from uqcore.paper.run import centre_crop

CROP = 384
MARGIN_DB = 0.5
TOLERANCE = 0.05
MC_SAMPLES = 8
MCDROP_GRID = tuple((at, p) for at in (1, 3, 6) for p in ("0.05", "0.1", "0.2"))
DATA_NOTE = (f"uqcore.paper.heldout.SR_HELDOUT, centre-cropped to {CROP} px HR, LR = bicubic x1/4 "
             "(neither data/sr_train nor assets/samples: not the paper run's calibration or test split)")


def decision_pairs(n: int | None = None, crop: int = CROP) -> tuple[list[str], list[tuple[torch.Tensor, torch.Tensor]]]:
    """(names, [(LR [1,3,h,w], HR [1,3,H,W])]) of the decision images (module docstring)."""
    names, images = sr_heldout(len(SR_HELDOUT) if n is None else n)
    return names, [make_lr(centre_crop(img, crop), 4) for img in images]


def weights_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        return dict(fh.metadata() or {})


def load_candidate(path: str | Path, logvar: bool = False) -> torch.nn.Module:
    """The network of a weights file, built from its recorded ``arch`` / ``arch_kwargs`` (a file
    without them: srresnet's x4 shape, with a log-variance output when ``logvar``)."""
    from safetensors.torch import load_file

    meta = weights_metadata(path)
    kwargs = json.loads(meta["arch_kwargs"]) if "arch_kwargs" in meta else {
        "scale": 4, "n_feats": 32, "n_blocks": 8, "logvar": logvar}
    arch = "srresnet-head" if meta.get("arch") == "llm-head" else "srresnet"
    if logvar and arch == "srresnet":
        kwargs["logvar"] = True
    net = build_architecture(arch, **kwargs)
    net.load_state_dict(load_file(str(path)))
    return net.eval()


def training_record(path: str | Path) -> dict[str, Any]:
    """What a weights file records of its training run (the card's ``training.runs`` entry)."""
    meta = weights_metadata(path)
    casts = {"steps": int, "seed": int, "n_train_images": int, "train_seconds": float}
    keys = ("command", "steps", "seed", "init", "train_seconds", "hardware", "torch", "n_train_images")
    return {k: casts.get(k, str)(meta[k]) for k in keys if k in meta}


# -- likelihood heads ---------------------------------------------------------------------------
@torch.inference_mode()
def score_llm(net: torch.nn.Module, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """Mean over images of PSNR and (for a log-variance output) NLL and pixel correlation."""
    psnr, nll, corr = [], [], []
    for lr, hr in pairs:
        out = net(lr)
        psnr.append(image_metrics(out[:, :3], hr, border=4)[0])
        if out.shape[1] == 6:
            mean, var = out[0, :3].double().numpy(), out[0, 3:].double().clamp(-12, 8).exp().numpy()
            target = hr[0].double().numpy()
            nll.append(M.nll(mean, target, var))
            corr.append(M.pearson(M.error_map(mean, target), var.mean(0)))
    row = {"psnr": round(float(np.mean(psnr)), 4)}
    if nll:
        row.update(nll=round(float(np.mean(nll)), 4), corr_pixel=round(float(np.mean(corr)), 4))
    return row


def select_llm(rows: dict[str, dict], reference_psnr: float, margin: float = MARGIN_DB,
               closest_if_none: bool = False) -> str | None:
    """Within ``margin`` dB of the reference PSNR, the lowest NLL. If no candidate qualifies:
    None, or with ``closest_if_none`` the candidate whose PSNR is closest to the reference (the
    sharpest mean there is)."""
    ok = {k: r for k, r in rows.items() if r["psnr"] >= reference_psnr - margin}
    if ok:
        return min(ok, key=lambda k: ok[k]["nll"])
    return max(rows, key=lambda k: rows[k]["psnr"]) if closest_if_none and rows else None


# -- MC-dropout ---------------------------------------------------------------------------------
def mcdrop_candidates(folder: str | Path) -> dict[str, Path]:
    """``{name: weights}`` of the MC-dropout grid found in ``folder`` (``mcdrop-at{A}-p{P}.safetensors``)."""
    folder = Path(folder)
    found = {f"mcdrop-at{at}-p{p}": folder / f"mcdrop-at{at}-p{p}.safetensors" for at, p in MCDROP_GRID}
    return {k: v for k, v in found.items() if v.is_file()}


@torch.inference_mode()
def l1(net: torch.nn.Module, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Mean over images of the deterministic prediction's L1 against the HR."""
    return float(np.mean([float((net(lr)[:, :3] - hr).abs().mean()) for lr, hr in pairs]))


def score_mcdrop(net: torch.nn.Module, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], reference_l1: float,
                 samples: int = MC_SAMPLES, progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """The MC-dropout numbers of one candidate (module docstring)."""
    model = wrap(net, task="sr", scale=4)
    losses, pred_l1, corr, psnr = [], [], [], []
    for i, (lr, hr) in enumerate(pairs):
        sample_l1: list[float] = []

        def per_sample(chunk: torch.Tensor, hr: torch.Tensor = hr, out: list = sample_l1) -> None:
            diff = (chunk[:, :3].detach().cpu().float() - hr.float()).abs()
            out.extend(float(v) for v in diff.mean(dim=(1, 2, 3)))

        est = estimate(model, lr, method="mc_dropout", samples=samples, seed=i, device="cpu",
                       sample_callback=per_sample)
        target = hr[0]
        losses.append(float(np.mean(sample_l1)))
        pred_l1.append(float((est.prediction - target).abs().mean()))
        corr.append(M.pearson(M.error_map(est.prediction, target), est.variance))
        psnr.append(image_metrics(est.prediction.unsqueeze(0), hr, border=4)[0])
        if progress is not None:
            progress(i + 1, len(pairs))
    loss = float(np.mean(losses))
    return {"loss": round(loss, 6), "loss_increase": round((loss - reference_l1) / reference_l1, 4),
            "l1_prediction": round(float(np.mean(pred_l1)), 6), "corr_pixel": round(float(np.mean(corr)), 4),
            "psnr": round(float(np.mean(psnr)), 4), "samples": samples}


def select_mcdrop(rows: dict[str, dict], tolerance: float = TOLERANCE) -> str | None:
    """The sweeps' rule (:func:`uqcore.datasets.sweep.recommend`): highest ``corr_pixel`` among
    candidates whose ``loss_increase`` is within ``tolerance``; ties go to the earlier candidate."""
    best = recommend([{"name": k, **r} for k, r in rows.items()], tolerance=tolerance, key="corr_pixel")
    return None if best is None else best["name"]


def mcdrop_selection(folder: str | Path, reference: str | Path, command: str, n_images: int | None = None,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every MC-dropout candidate in ``folder`` against the reference weights (srresnet)
    and choose by :func:`select_mcdrop`; the card's ``selection`` entry (without its date)."""
    candidates = mcdrop_candidates(folder)
    if not candidates:
        raise InputError(f"no MC-dropout candidates (mcdrop-at*-p*.safetensors) in {folder}; train them with "
                         "scripts/train_baselines.sh")
    names, pairs = decision_pairs(n_images)
    ref_l1 = l1(load_candidate(reference), pairs)
    ref_psnr = score_llm(load_candidate(reference), pairs)["psnr"]
    rows = {}
    for name, path in candidates.items():
        kwargs = json.loads(weights_metadata(path).get("arch_kwargs", "{}"))
        rows[name] = {**score_mcdrop(load_candidate(path), pairs, ref_l1),
                      "dropout_at": kwargs.get("dropout_at"), "dropout_p": kwargs.get("dropout_p")}
        if progress is not None:
            progress(f"{name}: {rows[name]}")
    chosen = select_mcdrop(rows)
    return {
        "command": command,
        "data": names, "data_note": DATA_NOTE,
        "metric": (f"MC-dropout (uqcore.estimate method='mc_dropout', {MC_SAMPLES} samples, seed = image index): "
                   "loss = mean per-sample L1 against the HR (the tolerability sweeps' loss), loss_increase relative "
                   "to srresnet's L1 on the same images; corr_pixel = mean pixel-level Pearson correlation of the "
                   "variance with the prediction's (sample mean's) error"),
        "rule": (f"uqcore.datasets.sweep.recommend: the highest corr_pixel among candidates whose loss_increase is "
                 f"<= {TOLERANCE:g} (as the training-free sweeps)"),
        "reference": {"model": "srresnet", "l1": round(ref_l1, 6), "psnr": ref_psnr},
        "candidates": [{"name": k, "weights": str(candidates[k].name), **r, "training": training_record(candidates[k])}
                       for k, r in rows.items()],
        "chosen": chosen,
    }
