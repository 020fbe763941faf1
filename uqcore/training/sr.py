"""train a x4 super-resolution model (srresnet, srgan, mcdrop, llm, llm-head) on a folder of HR images

    python -m uqcore train sr --arch srresnet --data data/sr_train --steps 4000 \\
        --out assets/models/srresnet.safetensors --seed 0

Data: every image in ``--data`` (png/jpg/jpeg/bmp/tif/webp, like a DIV2K folder) is read once
into memory as 8-bit RGB. Each step draws ``--batch`` random ``--patch``x``--patch`` HR crops
(image chosen uniformly, then position uniformly), each with a random horizontal flip, vertical
flip and transpose (the 8 dihedral transforms). The LR input is
:func:`uqcore.models.srresnet.bicubic_downscale` of the HR crop: torch
``F.interpolate(mode="bicubic", antialias=True, align_corners=False)`` to 1/scale, clamped to
[0, 1] -- the same function the evaluation uses.

Losses per ``--arch``:
  srresnet, mcdrop: L1 pixel loss (mcdrop: the same net with ``nn.Dropout(--dropout-p)`` after
                    body block ``--dropout-at``, trained with dropout active);
  llm:              Gaussian NLL of the HR given the predicted mean and log-variance (6 output
                    channels), mean over pixels of 0.5 * (logvar + (y - mu)^2 * exp(-logvar));
                    ``--loss beta-nll`` weights each pixel's NLL by stop-gradient(variance)^``--beta``
                    (beta-NLL, Seitzer et al. 2022: the plain NLL lets high-variance pixels stop
                    teaching the mean, which costs PSNR); ``--freeze-mean`` trains only the
                    log-variance channels of the output conv on top of the ``--init`` network's
                    frozen mean (its PSNR is then exactly the init's); ``--likelihood laplace``
                    uses the Laplace NLL instead (``uqcore.training.losses``; the channels stay a
                    log-variance);
  llm-head:         :class:`uqcore.models.srresnet_head.SRResNetVarHead`: the ``--init`` srresnet
                    frozen (its prediction bit-identical) and a variance branch of
                    ``--head-blocks`` convs of width ``--head-feats`` on the body's features,
                    trained with the NLL (``--likelihood``, ``--loss``) of the frozen prediction's
                    residuals;
  srgan:            adversarial fine-tuning of the generator (use ``--init``): pixel L1 +
                    non-saturating GAN loss from a small patch discriminator + discriminator
                    feature matching (L1 between the discriminator's intermediate features of
                    the HR and SR patches). No perceptual (VGG) loss: no pretrained VGG is
                    available offline.

Adam, cosine learning-rate decay from ``--lr`` to ``--lr``/100 over ``--steps``. A checkpoint
``--ckpt`` (default ``<out stem>.ckpt.pt``; model, optimizer(s), step, RNG states, elapsed time; tensors and plain
containers only, read back with ``torch.load(weights_only=True)``) is written every
``--ckpt-every`` steps and at the end; ``--resume`` continues from it. The final weights are
written with safetensors to ``--out``; its metadata records the arch kwargs, the command,
steps, seed, time and hardware (``python -m uqcore quality sr --write`` copies them into the card).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from uqcore.errors import InputError
from uqcore.hardware import cpu_name
from uqcore.models.srresnet import SRResNet, bicubic_downscale
from uqcore.models.srresnet_head import SRResNetVarHead
from uqcore.training.losses import mean_logvar_nll
from uqcore.training.common import (load_checkpoint, pick_device, progress_bar, restore_rng, save_checkpoint,
                                    save_weights, seeded_generator, set_lr, set_threads, smoothed)

ARCHS = ("srresnet", "srgan", "mcdrop", "llm", "llm-head")
LIKELIHOOD_ARCHS = ("llm", "llm-head")
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=ARCHS, default="srresnet")
    parser.add_argument("--data", required=True, help="folder of HR training images")
    parser.add_argument("--steps", type=int, required=True, help="total optimisation steps")
    parser.add_argument("--out", required=True, help="output .safetensors path")
    parser.add_argument("--init", default=None, help="safetensors weights to start from "
                        "(tensors with matching names are copied; a wider output conv gets the "
                        "leading channels)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=96, help="HR patch side (divisible by scale)")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--n-feats", type=int, default=32)
    parser.add_argument("--n-blocks", type=int, default=8)
    parser.add_argument("--dropout-p", type=float, default=0.1, help="mcdrop only")
    parser.add_argument("--dropout-at", type=int, default=None,
                        help="mcdrop only: body block after which dropout acts (default: middle)")
    parser.add_argument("--pixel-weight", type=float, default=1.0, help="srgan only")
    parser.add_argument("--adv-weight", type=float, default=0.01, help="srgan only")
    parser.add_argument("--fm-weight", type=float, default=1.0, help="srgan only")
    parser.add_argument("--d-lr", type=float, default=None,
                        help="srgan only: discriminator learning rate (default: --lr), same cosine decay")
    parser.add_argument("--loss", choices=("nll", "beta-nll"), default="nll", help="llm / llm-head only")
    parser.add_argument("--beta", type=float, default=0.5, help="llm / llm-head with --loss beta-nll only")
    parser.add_argument("--likelihood", choices=("gaussian", "laplace"), default="gaussian",
                        help="llm / llm-head only: the NLL's distribution")
    parser.add_argument("--head-feats", type=int, default=32, help="llm-head only: the branch's width")
    parser.add_argument("--head-blocks", type=int, default=3, help="llm-head only: the branch's convs at LR")
    parser.add_argument("--freeze-mean", action="store_true",
                        help="llm only: train only the log-variance output channels (use --init)")
    parser.add_argument("--ckpt", default=None, help="checkpoint path (default: <out stem>.ckpt.pt)")
    parser.add_argument("--ckpt-every", type=int, default=250)
    parser.add_argument("--resume", action="store_true", help="continue from <out stem>.ckpt.pt")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="leave after this many steps in this invocation (checkpoint + weights "
                             "written; continue later with --resume)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    parser.add_argument("--no-progress", action="store_true", help="disable the tqdm bar")


def arch_kwargs(args: argparse.Namespace) -> dict:
    kw = {"scale": args.scale, "n_feats": args.n_feats, "n_blocks": args.n_blocks}
    if args.arch == "mcdrop":
        at = args.dropout_at if args.dropout_at is not None else args.n_blocks // 2 - 1
        kw.update(dropout_p=args.dropout_p, dropout_at=at)
    if args.arch == "llm":
        kw["logvar"] = True
    if args.arch == "llm-head":
        kw.update(head_feats=args.head_feats, head_blocks=args.head_blocks)
    return kw


class PatchDiscriminator(nn.Module):
    """Small fully convolutional patch discriminator (returns logits and intermediate features)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        chans = [3, width, width, 2 * width, 2 * width, 4 * width, 4 * width]
        self.blocks = nn.ModuleList()
        for i in range(len(chans) - 1):
            stride = 2 if i % 2 == 1 else 1
            self.blocks.append(nn.Sequential(
                nn.Conv2d(chans[i], chans[i + 1], 3, stride=stride, padding=1),
                nn.LeakyReLU(0.2, inplace=True)))
        self.out = nn.Conv2d(chans[-1], 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        h = x * 2 - 1
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        return self.out(h), feats


def load_images(folder: Path, min_side: int) -> list[torch.Tensor]:
    from PIL import Image

    if not folder.is_dir():
        raise InputError(f"--data {folder} is not a folder; point it at a folder of HR images")
    images = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_EXTS:
            continue
        arr = np.asarray(Image.open(path).convert("RGB"))
        if min(arr.shape[:2]) < min_side:
            continue
        images.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous())  # uint8 [3,H,W]
    if not images:
        raise InputError(f"no images of at least {min_side}x{min_side} px found in {folder}")
    return images


def sample_batch(images: list[torch.Tensor], batch: int, patch: int, gen: torch.Generator) -> torch.Tensor:
    """Random crops with random dihedral transforms; float32 [B, 3, patch, patch] in [0, 1]."""
    crops = []
    idx = torch.randint(len(images), (batch,), generator=gen)
    flips = torch.randint(2, (batch, 3), generator=gen)
    for b in range(batch):
        img = images[int(idx[b])]
        h, w = img.shape[-2:]
        top = int(torch.randint(h - patch + 1, (1,), generator=gen))
        left = int(torch.randint(w - patch + 1, (1,), generator=gen))
        crop = img[:, top:top + patch, left:left + patch]
        if flips[b, 0]:
            crop = crop.flip(-1)
        if flips[b, 1]:
            crop = crop.flip(-2)
        if flips[b, 2]:
            crop = crop.transpose(-1, -2)
        crops.append(crop)
    return torch.stack(crops).float().div_(255.0)


def load_init(module: nn.Module, path: str) -> None:
    from safetensors.torch import load_file

    if not Path(path).exists():
        raise InputError(f"--init {path} does not exist")
    src = load_file(path)
    own = module.state_dict()
    copied = 0
    with torch.no_grad():
        for name, tensor in own.items():
            if name not in src:
                continue
            s = src[name]
            if s.shape == tensor.shape:
                tensor.copy_(s)
            elif s.dim() == tensor.dim() and all(a <= b for a, b in zip(s.shape, tensor.shape)):
                tensor[tuple(slice(0, n) for n in s.shape)].copy_(s)
            else:
                continue
            copied += 1
    if copied == 0:
        raise InputError(f"--init {path} shares no tensors with the {type(module).__name__} being trained")


def gaussian_nll(out: torch.Tensor, target: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
    """Mean over pixels of 0.5 * (logvar + (y - mu)^2 / var), each pixel weighted by
    stop-gradient(var)^beta (beta = 0: the plain Gaussian NLL; beta > 0: beta-NLL)."""
    return mean_logvar_nll(out, target, "gaussian", beta)


def freeze_trunk(model: SRResNetVarHead) -> None:
    """llm-head: only the variance branch trains; the trunk's weights never change, and eval mode
    (no dropout, no batch statistics in SRResNet) keeps its prediction the init's, bit for bit."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.branch_parameters():
        p.requires_grad_(True)


def freeze_mean(model: SRResNet) -> None:
    """Only the output conv stays trainable, and a gradient hook zeroes its mean rows (the first
    3 output channels): the mean is the init network's, only the log-variance learns."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in (model.tail.weight, model.tail.bias):
        p.requires_grad_(True)
        p.register_hook(_zero_mean_rows)


def _zero_mean_rows(grad: torch.Tensor) -> torch.Tensor:
    grad = grad.clone()
    grad[:3] = 0
    return grad


def _cosine(step: int, total: int, lr: float) -> float:
    return lr / 100 + (lr - lr / 100) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".safetensors") + ".ckpt.pt")


@dataclass
class Networks:
    """What one run trains: the generator and its optimiser; for srgan also the discriminator,
    its optimiser and its base learning rate."""

    model: SRResNet
    opt: torch.optim.Optimizer
    disc: PatchDiscriminator | None = None
    d_opt: torch.optim.Optimizer | None = None
    d_lr: float | None = None


def check_args(args: argparse.Namespace) -> None:
    """Refuse settings that cannot train, before anything is built."""
    if args.patch % args.scale:
        raise InputError(f"--patch {args.patch} must be divisible by --scale {args.scale}")
    if args.steps < 1:
        raise InputError("--steps must be at least 1")
    if args.arch not in LIKELIHOOD_ARCHS and (args.loss != "nll" or args.likelihood != "gaussian"):
        raise InputError("--loss beta-nll and --likelihood apply to --arch llm / llm-head only")
    if args.arch != "llm" and args.freeze_mean:
        raise InputError("--freeze-mean applies to --arch llm only")
    if (args.freeze_mean or args.arch == "llm-head") and not args.init:
        raise InputError("--freeze-mean and --arch llm-head need --init (the network whose mean is kept)")


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """``--out`` and the checkpoint path, their folders created."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt_path = Path(args.ckpt) if args.ckpt else checkpoint_path(out)
    ckpt_path.parent.mkdir(parents=True, exist_ok=True)
    return out, ckpt_path


def build_networks(args: argparse.Namespace, kwargs: dict, device: torch.device) -> Networks:
    """The generator (``--init`` copied in) and, for srgan, the discriminator, with Adam each."""
    model = SRResNetVarHead(**kwargs) if args.arch == "llm-head" else SRResNet(**kwargs)
    if args.init:
        load_init(model, args.init)
    model = model.to(device).train()
    if getattr(args, "freeze_mean", False):
        freeze_mean(model)
    if args.arch == "llm-head":
        freeze_trunk(model)
    params = [p for p in model.parameters() if p.requires_grad]
    nets = Networks(model, torch.optim.Adam(params, lr=args.lr, betas=(0.9, 0.99)))
    if args.arch == "srgan":
        nets.disc = PatchDiscriminator().to(device).train()
        nets.d_lr = args.d_lr if args.d_lr is not None else args.lr
        nets.d_opt = torch.optim.Adam(nets.disc.parameters(), lr=nets.d_lr, betas=(0.9, 0.99))
    return nets


def checkpoint_state(nets: Networks, gen: torch.Generator, step: int, elapsed: float) -> dict:
    """The ``--resume`` checkpoint: networks, optimisers, step, training time, RNG states."""
    ck = {"model": nets.model.state_dict(), "optimizer": nets.opt.state_dict(), "step": step,
          "elapsed": elapsed, "gen_state": gen.get_state(), "torch_rng": torch.get_rng_state()}
    if nets.disc is not None:
        ck["disc"], ck["d_optimizer"] = nets.disc.state_dict(), nets.d_opt.state_dict()
    return ck


def resume(args: argparse.Namespace, ckpt_path: Path, nets: Networks, gen: torch.Generator) -> tuple[int, float]:
    """With ``--resume`` and a checkpoint, load it and return (step, elapsed); else (0, 0.0)."""
    if args.resume and ckpt_path.exists():
        ck = load_checkpoint(ckpt_path)
        nets.model.load_state_dict(ck["model"])
        nets.opt.load_state_dict(ck["optimizer"])
        if nets.disc is not None:
            nets.disc.load_state_dict(ck["disc"])
            nets.d_opt.load_state_dict(ck["d_optimizer"])
        restore_rng(gen, ck["gen_state"], ck["torch_rng"])
        print(f"resumed from {ckpt_path} at step {int(ck['step'])}", file=sys.stderr)
        return int(ck["step"]), float(ck["elapsed"])
    if args.resume:
        print(f"no checkpoint at {ckpt_path}; starting from scratch", file=sys.stderr)
    return 0, 0.0


def adversarial_loss(args: argparse.Namespace, nets: Networks, hr: torch.Tensor, sr: torch.Tensor,
                     step: int) -> torch.Tensor:
    """srgan: one discriminator step on (hr, sr), then the generator's loss: pixel L1 +
    non-saturating GAN loss + discriminator feature matching."""
    disc, d_opt = nets.disc, nets.d_opt
    set_lr(d_opt, _cosine(step, args.steps, nets.d_lr))
    # discriminator step
    d_real, _ = disc(hr)
    d_fake, _ = disc(sr.detach())
    d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
              + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    d_opt.step()
    # generator loss
    g_fake, f_fake = disc(sr)
    with torch.no_grad():
        _, f_real = disc(hr)
    adv = F.binary_cross_entropy_with_logits(g_fake, torch.ones_like(g_fake))
    fm = sum(F.l1_loss(a, b) for a, b in zip(f_fake, f_real)) / len(f_real)
    return args.pixel_weight * F.l1_loss(sr, hr) + args.adv_weight * adv + args.fm_weight * fm


def train_step(args: argparse.Namespace, nets: Networks, images: list[torch.Tensor], gen: torch.Generator,
               device: torch.device, step: int) -> tuple[float, float]:
    """One optimisation step at ``step`` (0-based); returns (loss, learning rate)."""
    lr = _cosine(step, args.steps, args.lr)
    set_lr(nets.opt, lr)
    hr = sample_batch(images, args.batch, args.patch, gen).to(device)
    out_img = nets.model(bicubic_downscale(hr, args.scale))
    if args.arch in LIKELIHOOD_ARCHS:
        loss = mean_logvar_nll(out_img, hr, args.likelihood, args.beta if args.loss == "beta-nll" else 0.0)
    elif args.arch == "srgan":
        loss = adversarial_loss(args, nets, hr, out_img, step)
    else:
        loss = F.l1_loss(out_img, hr)
    nets.opt.zero_grad(set_to_none=True)
    loss.backward()
    nets.opt.step()
    return loss.item(), lr


def train(args: argparse.Namespace, nets: Networks, images: list[torch.Tensor], gen: torch.Generator,
          device: torch.device, ckpt_path: Path, step: int, elapsed: float) -> tuple[int, float, float | None]:
    """Steps from ``step`` to ``--steps`` (or ``--stop-after`` more), checkpointing every
    ``--ckpt-every`` steps and at the end; returns (step, elapsed seconds, smoothed loss)."""
    bar = progress_bar(f"train sr {args.arch}", step, args.steps, args.no_progress)
    running = None
    stop_at = args.steps if args.stop_after is None else min(args.steps, step + args.stop_after)
    while step < stop_at:
        t0 = time.perf_counter()
        loss, lr = train_step(args, nets, images, gen, device, step)
        step += 1
        elapsed += time.perf_counter() - t0
        running = smoothed(running, loss)
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}", lr=f"{lr:.2e}")
        if step % args.ckpt_every == 0 or step == stop_at:
            save_checkpoint(checkpoint_state(nets, gen, step, elapsed), ckpt_path)
    bar.close()
    return step, elapsed, running


def weights_metadata(args: argparse.Namespace, kwargs: dict, device: torch.device, step: int, elapsed: float,
                     n_images: int) -> dict[str, str]:
    """What the weights file records for the model card: arch, run settings, time, hardware, command."""
    hardware = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"CPU: {cpu_name()}, torch threads={torch.get_num_threads()}")
    return {
        "arch": args.arch, "arch_kwargs": json.dumps(kwargs), "steps": str(step), "seed": str(args.seed),
        "batch": str(args.batch), "patch": str(args.patch), "lr": str(args.lr),
        "init": str(args.init or ""), "train_seconds": f"{elapsed:.1f}", "hardware": hardware,
        "torch": torch.__version__, "data": str(args.data), "n_train_images": str(n_images),
        "command": "python -m uqcore train sr " + " ".join(shlex.quote(a) for a in _argv_of(args)),
    }


def run(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    check_args(args)
    device = pick_device(args.device)
    out, ckpt_path = output_paths(args)
    gen = seeded_generator(args.seed)
    kwargs = arch_kwargs(args)
    nets = build_networks(args, kwargs, device)
    step, elapsed = resume(args, ckpt_path, nets, gen)
    images = load_images(Path(args.data), args.patch)
    step, elapsed, running = train(args, nets, images, gen, device, ckpt_path, step, elapsed)
    save_weights(nets.model, out, weights_metadata(args, kwargs, device, step, elapsed, len(images)))
    print(f"wrote {out} ({step} steps, {elapsed:.0f} s, final loss {running})", file=sys.stderr)
    return 0


def _argv_of(args: argparse.Namespace) -> list[str]:
    """Rebuild the command line from the parsed arguments (what the card records)."""
    argv = []
    for key, value in vars(args).items():
        if key in ("task", "command", "resume", "no_progress", "stop_after") or value is None or value is False:
            continue
        if key in ("loss", "likelihood") and args.arch not in LIKELIHOOD_ARCHS:
            continue
        if (key == "beta" and getattr(args, "loss", "") != "beta-nll") or (
                key.startswith("head_") and args.arch != "llm-head"):
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


if __name__ == "__main__":  # same as ``python -m uqcore train sr ...``
    _parser = argparse.ArgumentParser(prog="python -m uqcore.training.sr", description=__doc__.splitlines()[0])
    configure_parser(_parser)
    sys.exit(run(_parser.parse_args()))
