"""``distill()``: train a student head on the frozen model from a training-free teacher, no labels.

Each step draws ``batch`` random crops (``crop`` pixels square at the model's input resolution;
for super-resolution the crop is taken from the image at ``crop * scale`` and degraded with the
project's bicubic downscale, as ``evaluate`` does), each colour-jittered (seed 002 §3.2.3:
brightness, contrast, saturation and hue each varied by up to ±``jitter``, 0.2). For each crop the
teacher draws ``samples`` outputs through ``uqcore.estimate``'s sampler (its ``sample_callback``),
seeded by (seed, step, crop); the frozen network runs once more with the head's feature layers
captured (detached: a stop-gradient), and the head's log-variance ``s`` is fitted by the NLL of
the teacher's samples ``y_t`` around the frozen prediction ``mu`` (seed 002, eq. 9-10), averaged
over pixels, channels and samples:

    gaussian: 0.5 * (s + (y_t - mu)^2 * exp(-s))
    laplace:  sqrt(2) * exp(-s / 2) * |y_t - mu| + s / 2

optionally plus ``rank_weight`` times a pairwise ranking term (seed 004, scale-free): for random
pixel pairs (i, j) of a crop, ``relu(margin - sign(v_i - v_j) * (s_i - s_j))`` with ``v`` the
teacher's per-pixel mean squared deviation; and, for super-resolution, where every training image
is its own ground truth (the input is its degraded crop), optionally ``error_weight`` times the
same ranking term against the model's actual squared error on the crop (an error-aware term; off
by default, so the default head is distilled from the teacher alone). Adam with cosine decay from ``lr`` to ``lr / 100``.
The feature normalisation and the output bias are set from the first batch (the mean log squared
deviation), so training starts at the teacher's scale.

Checkpoints (head, optimiser, step, RNG states, elapsed time; ``uqcore.training.common``) every
``ckpt_every`` steps; ``resume=True`` continues from one and ends with the same head, bit for bit,
as an uninterrupted run with the same settings and seed.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from uqcore.engine import methods as _methods
from uqcore.datasets.folders import IMAGE_SUFFIXES
from uqcore.errors import InputError
from uqcore.io import read_image
from uqcore.engine.layers import candidate_layers, method_setting
from uqcore.engine.model import UQModel, as_model
from uqcore.models.srresnet import bicubic_downscale
from uqcore.engine.estimate import estimate, resolve_device
from uqcore.models.student_files import config_for, freeze, save_student
from uqcore.training.losses import LOSSES, nll_terms
from uqcore.engine.student_head import StudentHead, capture
from uqcore.training.common import (load_checkpoint, progress_bar, restore_rng, save_checkpoint, seeded_generator,
                                    set_lr, set_threads, smoothed)

RANK_PAIRS = 1024
RANK_MARGIN = 0.1
# Teacher methods a head can be distilled from (sampling ones; not another head).
TEACHERS = tuple(s.name for s in _methods.SPECS if s.sampled)


@dataclass
class DistillResult:
    """What :func:`distill` returns: the trained head (frozen, on the CPU), its card, where it was
    written (None without ``out``), the steps done (fewer than asked when stopped) and whether
    ``should_stop`` stopped it."""

    head: StudentHead
    card: dict[str, Any]
    path: Path | None = None
    steps_done: int = 0
    stopped: bool = False
    losses: list[float] = field(default_factory=list)


def default_feature_layers(model: Any) -> list[str]:
    """The head's default feature layers: a late block and the last block before the output
    (the last two of :func:`uqcore.engine.layers.candidate_layers`, e.g. ``body.7`` and ``upsample`` of
    SRResNet, ``decoder.up3`` and ``decoder.up4`` of FCRN)."""
    return candidate_layers(as_model(model))[-2:]


def default_teacher(model: Any) -> dict[str, Any]:
    """The teacher a head is distilled from by default: ``transform`` (8 samples) for super-
    resolution (the paper's best there); otherwise the model card's ``recommended`` setting (the
    tolerability sweep's choice, e.g. FCRN: noise at ``encoder.layer3.0``, 0.02), else ``transform``."""
    model = as_model(model)
    rec = model.card.get("recommended") or {}
    if model.task != "sr" and rec.get("method") in model.methods and rec.get("method") in TEACHERS:
        return {"method": rec["method"], "layer": rec.get("layer"), "strength": rec.get("strength"),
                "samples": int(rec.get("samples", 8))}
    return {"method": "transform", "layer": None, "strength": None, "samples": 8}


def training_images(images: Any) -> tuple[list[str], list[torch.Tensor]]:
    """(names, uint8 images [3, H, W]) from a folder (every image file, not ``*_depth`` /
    ``*_target``), a list of paths, or a list of tensors / arrays in [0, 1] ([3, H, W], [1, 3, H, W]
    or [H, W, 3])."""
    if isinstance(images, (str, Path)):
        root = Path(images)
        if not root.is_dir():
            raise InputError(f"{root} is not a folder of images")
        images = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                        and not p.stem.endswith(("_depth", "_target")))
    names, out = [], []
    for i, item in enumerate(images):
        if isinstance(item, (str, Path)):
            names.append(Path(item).name)
            img = read_image(item)
        else:
            names.append(f"image{i}")
            img = torch.as_tensor(item).float()
            if img.dim() == 3 and img.shape[-1] in (1, 3) and img.shape[0] not in (1, 3):
                img = img.permute(2, 0, 1)
        img = img.reshape(-1, *img.shape[-2:])[:3]
        out.append((img.clamp(0, 1) * 255).round().to(torch.uint8))
    if not out:
        raise InputError("distill needs at least one training image")
    return names, out


def colour_jitter(img: torch.Tensor, gen: torch.Generator, amount: float) -> torch.Tensor:
    """Brightness, contrast, saturation (factors in [1 - amount, 1 + amount]) and hue (a rotation
    of the YIQ chroma plane by up to ±amount of a full turn) of a [1, 3, H, W] image in [0, 1]."""
    if amount <= 0:
        return img
    b, c, s, h = ((torch.rand(4, generator=gen) * 2 - 1) * amount).tolist()
    img = img * (1 + b)
    gray = (0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]).unsqueeze(1)
    img = (img - gray.mean()) * (1 + c) + gray.mean()
    img = gray + (img - gray) * (1 + s)
    yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    cos, sin = math.cos(2 * math.pi * h), math.sin(2 * math.pi * h)
    rot = torch.tensor([[1.0, 0, 0], [0, cos, -sin], [0, sin, cos]])
    mix = torch.linalg.inv(yiq) @ rot @ yiq
    return torch.einsum("ij,bjhw->bihw", mix, img).clamp(0, 1)


def draw_crop(model: UQModel, image: torch.Tensor, crop: int, gen: torch.Generator, jitter: float,
              with_target: bool = False):
    """One jittered input crop [1, C, crop, crop] (smaller if the image is) at the model's input
    resolution; for SR degraded from an image crop ``scale`` times larger. ``with_target``: also
    that image crop (SR: the ground truth the degraded crop comes from; else None)."""
    side = crop * model.scale
    h, w = min(side, image.shape[-2] // model.scale * model.scale), min(side, image.shape[-1] // model.scale * model.scale)
    top = int(torch.randint(0, image.shape[-2] - h + 1, (1,), generator=gen))
    left = int(torch.randint(0, image.shape[-1] - w + 1, (1,), generator=gen))
    hr = colour_jitter(image[None, :, top:top + h, left:left + w].float() / 255, gen, jitter)
    sr = model.task == "sr" and model.scale > 1
    x = (bicubic_downscale(hr, model.scale) if sr else hr)[:, : model.in_channels]
    return (x, hr if sr else None) if with_target else x


def head_nll(logvar: torch.Tensor, dev: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean NLL of deviations ``dev`` [B, M, C, H, W] under log-variance ``logvar`` [B, 1, H, W]
    (``kind``: "gaussian" / "laplace", :func:`uqcore.training.losses.nll_terms`)."""
    return nll_terms(logvar[:, None], dev, kind).mean()


def rank_loss(logvar: torch.Tensor, dev: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Pairwise ranking of the per-pixel teacher variance by the head's log-variance (module docstring)."""
    target = dev.square().mean((1, 2)).flatten(1)          # [B, H*W]
    pred = logvar.flatten(1)
    i = torch.randint(0, pred.shape[1], (RANK_PAIRS,), generator=gen).to(pred.device)
    j = torch.randint(0, pred.shape[1], (RANK_PAIRS,), generator=gen).to(pred.device)
    sign = torch.sign(target[:, i] - target[:, j])
    return F.relu(RANK_MARGIN - sign * (pred[:, i] - pred[:, j]))[sign != 0].mean().nan_to_num(0.0)


@dataclass(frozen=True, kw_only=True)
class DistillSettings:
    """Everything that determines the trained head (checked on resume, recorded in the card)."""

    teacher: str
    layer: str | None
    strength: float | None
    samples: int
    features: tuple[str, ...]
    steps: int
    crop: int
    batch: int
    lr: float
    seed: int
    loss: str
    rank_weight: float
    jitter: float
    hidden: int
    last_kernel: int = 1
    error_weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def teacher_samples(model: UQModel, x: torch.Tensor, s: DistillSettings, seed: int, device) -> torch.Tensor:
    """The teacher's ``s.samples`` outputs [M, C, H', W'] for one crop, through ``estimate``."""
    drawn: list[torch.Tensor] = []
    estimate(model, x, method=s.teacher, layer=s.layer, strength=s.strength, samples=s.samples, seed=seed,
             device=device, sample_callback=lambda batch: drawn.append(batch.float().clone()))
    return torch.cat(drawn).to(device)


def _step(model, head, optim, images, gen, s: DistillSettings, step: int, device) -> float:
    """One optimisation step; at step 0 of a fresh run also the normalisation and output bias."""
    drawn = [draw_crop(model, images[int(torch.randint(0, len(images), (1,), generator=gen))], s.crop, gen, s.jitter,
                       with_target=True) for _ in range(s.batch)]
    crops = [c for c, _ in drawn]
    h, w = min(c.shape[-2] for c in crops), min(c.shape[-1] for c in crops)  # small images give small crops
    x = torch.cat([c[..., :h, :w] for c in crops]).to(device)
    module = model.module_on(device)
    with torch.no_grad():
        out, feats = capture(module, x, s.features)
        mu = model.split_output(out)[0].float()
        samples = torch.stack([teacher_samples(model, x[b:b + 1], s, s.seed * 1_000_003 + step * s.batch + b, device)
                               for b in range(s.batch)])
        dev = samples - mu[:, None]
        if step == 0:
            head.fit_normalisation(feats, mu)
            head.out.bias.fill_(float(dev.square().mean().clamp_min(1e-12).log()))
    set_lr(optim, s.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / max(s.steps, 1)))))
    logvar = head(feats, mu)
    loss = head_nll(logvar, dev, s.loss)
    if s.rank_weight > 0:
        loss = loss + s.rank_weight * rank_loss(logvar, dev, gen)
    if s.error_weight > 0 and drawn[0][1] is not None:
        k = model.scale
        residual = torch.cat([t[..., : h * k, : w * k] for _, t in drawn]).to(device) - mu
        loss = loss + s.error_weight * rank_loss(logvar, residual[:, None], gen)
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()
    return float(loss.detach())


def _check_settings(model: UQModel, s: DistillSettings) -> None:
    if s.teacher not in TEACHERS or s.teacher not in model.methods:
        raise InputError(f"teacher {s.teacher!r} does not apply to model {model.name!r}; choose one of "
                         f"{', '.join(m for m in model.methods if m in TEACHERS)}")
    if s.loss not in LOSSES:
        raise InputError(f"loss must be one of {', '.join(LOSSES)}, got {s.loss!r}")
    for name, value, low in (("steps", s.steps, 1), ("crop", s.crop, 4), ("batch", s.batch, 1), ("samples", s.samples, 2)):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")


def distill(
    model: Any,
    images: Any,
    out: str | Path | None = None,
    *,
    teacher: str | None = None,
    layer: str | None = None,
    strength: float | None = None,
    samples: int | None = None,
    features: Sequence[str] | None = None,
    steps: int = 1000,
    crop: int = 32,
    batch: int = 4,
    lr: float = 2e-3,
    seed: int = 0,
    loss: str = "gaussian",
    rank_weight: float = 0.0,
    error_weight: float = 0.0,
    jitter: float = 0.2,
    hidden: int = 16,
    last_kernel: int = 1,
    ckpt: str | Path | None = None,
    ckpt_every: int = 0,
    resume: bool = False,
    threads: int | None = None,
    device: str | None = "cpu",
    progress: bool = False,
    on_step: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    card: dict[str, Any] | None = None,
) -> DistillResult:
    """Distil a student head for the frozen ``model`` from a training-free teacher on unlabeled
    ``images`` (a folder, a list of paths, or a list of images in [0, 1]); see the module docstring.

    teacher / layer / strength / samples: the teacher (default :func:`default_teacher`);
    features: the feature layers (default :func:`default_feature_layers`);
    out: write the head (.safetensors) and its card there (``save_student``);
    ckpt / ckpt_every / resume: checkpoints (default ``<out>.ckpt.pt``) and resuming from one;
    on_step(step, steps, smoothed loss): after each step; should_stop(): checked before each
    step -- True ends the run early and keeps (and writes) the head as it is.
    The model's weights are never changed and receive no gradient. Returns a :class:`DistillResult`;
    attach the head with ``uqcore.attach_student(model, result.head)`` or load ``out``."""
    model = as_model(model)
    set_threads(threads)
    dev = resolve_device(device)
    s = _settings(model, teacher, layer, strength, samples, features, steps=int(steps), crop=int(crop),
                  batch=int(batch), lr=float(lr), seed=int(seed), loss=loss, rank_weight=float(rank_weight),
                  jitter=float(jitter), hidden=int(hidden), last_kernel=int(last_kernel),
                  error_weight=float(error_weight))
    _check_settings(model, s)
    names, imgs = training_images(images)
    gen = seeded_generator(s.seed)
    head = StudentHead(config_for(model, s.features, hidden=s.hidden, last_kernel=s.last_kernel)).to(dev)
    optim = torch.optim.Adam(head.parameters(), lr=s.lr)
    ckpt = Path(ckpt) if ckpt else (Path(out).with_suffix(".ckpt.pt") if out else None)
    step, elapsed, running, losses = 0, 0.0, None, []
    if resume:
        step, elapsed, running = _resume(ckpt, s, head, optim, gen)
    started, stopped = time.perf_counter() - elapsed, False
    with _frozen(model.module), progress_bar("distill", step, s.steps, disable=not progress) as bar:
        while step < s.steps:
            if should_stop is not None and should_stop():
                stopped = True
                break
            value = _step(model, head, optim, imgs, gen, s, step, dev)
            losses.append(value)
            running = smoothed(running, value)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
            if on_step is not None:
                on_step(step, s.steps, running)
            if ckpt is not None and ckpt_every and (step % ckpt_every == 0 or step == s.steps):
                _save_ckpt(ckpt, s, head, optim, gen, step, time.perf_counter() - started, running)
    info = _card(model, s, names, step, time.perf_counter() - started, running, card)
    head = freeze(head.cpu())
    if out is not None:
        save_student(head, out, info)
    return DistillResult(head=head, card=info, path=None if out is None else Path(out), steps_done=step,
                         stopped=stopped, losses=losses)


def _settings(model: UQModel, teacher: str | None, layer: str | None, strength: float | None, samples: int | None,
              features: Sequence[str] | None, **training: Any) -> DistillSettings:
    """The run's settings: the teacher (default :func:`default_teacher`) with its layer and strength
    resolved, the feature layers (default :func:`default_feature_layers`) and the training options."""
    t = default_teacher(model) if teacher is None else {"method": teacher, "layer": layer, "strength": strength}
    lay, st = method_setting(model, t["method"], layer or t.get("layer"), t.get("strength") if strength is None else strength)
    return DistillSettings(teacher=t["method"], layer=lay, strength=st, samples=int(samples or t.get("samples") or 8),
                    features=tuple(features or default_feature_layers(model)), **training)


@contextlib.contextmanager
def _frozen(module: Any) -> Iterator[None]:
    """The frozen network: no gradient reaches its parameters inside (the features are detached
    too); their ``requires_grad`` flags are put back after, on an exception as well."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def _save_ckpt(path: Path, s: DistillSettings, head, optim, gen, step: int, elapsed: float, running) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"head": head.state_dict(), "optim": optim.state_dict(), "step": step,
                     "gen": gen.get_state(), "torch_rng": torch.get_rng_state(), "elapsed": elapsed,
                     "running": running, "settings": json.dumps(s.to_dict(), sort_keys=True)}, path)


def _resume(path: Path | None, s: DistillSettings, head, optim, gen) -> tuple[int, float, float | None]:
    if path is None or not path.is_file():
        raise InputError(f"--resume: no checkpoint at {path}")
    state = load_checkpoint(path)
    if state["settings"] != json.dumps(s.to_dict(), sort_keys=True):
        raise InputError(f"--resume: the checkpoint {path} was written with other settings: {state['settings']}")
    head.load_state_dict(state["head"])
    optim.load_state_dict(state["optim"])
    restore_rng(gen, state["gen"], state["torch_rng"])
    return int(state["step"]), float(state["elapsed"]), state["running"]


def _card(model: UQModel, s: DistillSettings, names: list[str], step: int, seconds: float, running,
          extra) -> dict[str, Any]:
    """The card's training record (``save_student`` adds kind, file and config)."""
    return {
        "model": model.name,
        "task": model.task,
        "teacher": {"method": s.teacher, "layer": s.layer, "strength": s.strength, "samples": s.samples},
        "features": list(s.features),
        "settings": s.to_dict(),
        "training": {"images": len(names), "image_names": names, "steps": step, "steps_planned": s.steps,
                     "seconds": round(seconds, 1), "final_loss": running,
                     "hardware": f"{platform.machine()} {platform.processor() or ''}".strip(),
                     "threads": torch.get_num_threads(), "torch": torch.__version__},
        **(extra or {}),
    }
