"""train the FCRN-style depth model on name.png + name_depth.png pairs

    python -m uqcore train depth --data DIR --steps N --out assets/models/fcrn.safetensors \
        [--seed S --batch B --lr LR --val DIR --resume]

Reads every ``name.png`` (RGB) + ``name_depth.png`` (16-bit millimetres) pair of ``--data``
(e.g. made by ``python -m uqcore make-scenes``) into memory; all pairs must share one size.
Each step draws a random batch (with replacement, from a seeded ``torch.Generator``) and flips
each sample horizontally with probability 1/2.

Loss (``--loss``): ``logl1`` (default) is the mean absolute error of log-depth, which is the
relative error the card reports (abs-rel, delta); ``berhu`` is Laina et al.'s reverse Huber on
depth in metres (c = 0.2 max |error| of the batch); ``l1`` is the mean absolute error in metres.
Pixels with no ground truth (depth 0) are ignored.

Optimiser: AdamW, linear warm-up over the first 2% of the steps then cosine decay to 2% of
``--lr``. A checkpoint (``OUT`` with suffix ``.ckpt.pt``: model, optimiser, generator state,
step; plain tensors and dicts, read back with ``weights_only=True``) is written every
``--checkpoint-every`` steps and at the end; ``--resume`` continues from it. The final weights
go to ``OUT`` as safetensors, with the training-mean depth and the command in its metadata.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from tqdm import tqdm

from uqcore.errors import InputError
from uqcore.models.fcrn import FCRN, evaluate_folder
from uqcore.scenes import list_pairs, load_rgbd
from uqcore.training.common import (load_checkpoint, pick_device, progress_bar, restore_rng, save_checkpoint,
                                    save_weights, seeded_generator, set_lr, set_threads, smoothed)

DEFAULT_ARCH = {
    "widths": [16, 32, 64, 96, 160],
    "blocks": [1, 2, 2, 1],
    "reduce": 128,
    "decoder": [96, 64, 32, 16],
    "dropout": 0.2,
    "skips": True,
}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="folder of name.png + name_depth.png pairs")
    parser.add_argument("--steps", type=int, required=True, help="optimiser steps")
    parser.add_argument("--out", required=True, help="final weights, .safetensors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--loss", choices=("logl1", "berhu", "l1"), default="logl1")
    parser.add_argument("--arch", default=None, help="JSON of FCRN keyword arguments (default: the bundled model's)")
    parser.add_argument("--val", default=None, help="folder of held-out pairs to score at each checkpoint")
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's .ckpt.pt checkpoint")
    parser.add_argument("--init", default=None, help="start from these weights (.safetensors), e.g. to fine-tune")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs (0: all)")
    parser.add_argument("--until", type=int, default=0,
                        help="stop after this step (checkpoint written, no final weights); 0: run to --steps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces a run (recorded in the weights' metadata and the card)."""
    parts = ["python -m uqcore train depth", f"--data {args.data}", f"--steps {args.steps}", f"--out {args.out}",
             f"--seed {args.seed}", f"--batch {args.batch}", f"--lr {args.lr:g}", f"--loss {args.loss}"]
    if args.weight_decay != 1e-4:
        parts.append(f"--weight-decay {args.weight_decay:g}")
    if args.arch:
        parts.append(f"--arch '{args.arch}'")
    if args.limit:
        parts.append(f"--limit {args.limit}")
    if args.init:
        parts.append(f"--init {args.init}")
    return " ".join(parts)


def load_folder(folder: str | Path, limit: int = 0, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """All pairs of ``folder``: (rgb uint8 [N, 3, H, W], depth float32 [N, 1, H, W] metres)."""
    paths = list_pairs(folder)
    if limit:
        paths = paths[:limit]
    if not paths:
        raise InputError(f"no name.png + name_depth.png pairs in {folder}; make some with `python -m uqcore make-scenes`")
    rgb0, _ = load_rgbd(paths[0])
    h, w = rgb0.shape[:2]
    rgbs = torch.empty((len(paths), 3, h, w), dtype=torch.uint8)
    depths = torch.empty((len(paths), 1, h, w), dtype=torch.float32)
    for i, p in enumerate(tqdm(paths, desc="loading", unit="pair", disable=not progress or len(paths) < 200)):
        rgb, depth = load_rgbd(p)
        if rgb.shape[:2] != (h, w) or depth.shape != (h, w):
            raise InputError(f"{p.name}: size {rgb.shape[:2]} / depth {depth.shape} differs from {(h, w)}")
        rgbs[i] = torch.from_numpy(np.round(rgb * 255).astype(np.uint8)).permute(2, 0, 1)
        depths[i, 0] = torch.from_numpy(depth)
    return rgbs, depths


def depth_loss(log_pred: torch.Tensor, target: torch.Tensor, kind: str = "logl1") -> torch.Tensor:
    """Loss between predicted log-depth and target depth (metres) over pixels with target > 0."""
    valid = target > 1e-3
    if kind == "logl1":
        return (log_pred - torch.log(target.clamp_min(1e-3)))[valid].abs().mean()
    diff = (torch.exp(log_pred) - target)[valid].abs()
    if kind == "l1":
        return diff.mean()
    c = (0.2 * diff.max()).detach().clamp_min(1e-6)
    return torch.where(diff <= c, diff, (diff**2 + c**2) / (2 * c)).mean()


def _lr_at(step: int, steps: int, lr: float) -> float:
    warm = max(1, int(0.02 * steps))
    if step < warm:
        return lr * (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def check_args(args: argparse.Namespace) -> Path:
    """Validate the run's settings; returns ``--out``."""
    if args.steps < 1 or args.batch < 1:
        raise InputError("--steps and --batch must be positive")
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise InputError(f"--out must end in .safetensors, got {out}")
    return out


def build_model(args: argparse.Namespace, arch: dict, device: torch.device) -> tuple[FCRN, torch.optim.Optimizer]:
    """The FCRN (``--init`` weights loaded) and its AdamW optimiser."""
    model = FCRN(**arch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if args.init:
        model.load_state_dict(load_file(args.init))
    return model, opt


def checkpoint_state(model: FCRN, opt: torch.optim.Optimizer, gen: torch.Generator, step: int, elapsed: float,
                     arch: dict) -> dict:
    """The ``--resume`` checkpoint: model, optimiser, RNG states, step, training time, architecture."""
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "generator": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "step": step,
        "elapsed": elapsed,
        "arch": json.dumps(arch),
    }


def resume(ckpt_path: Path, model: FCRN, opt: torch.optim.Optimizer, gen: torch.Generator) -> tuple[int, float]:
    """Load the ``--resume`` checkpoint (it must exist); returns (step, elapsed seconds)."""
    if not ckpt_path.exists():
        raise InputError(f"--resume: no checkpoint at {ckpt_path}")
    ckpt = load_checkpoint(ckpt_path)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    restore_rng(gen, ckpt["generator"], ckpt["torch_rng"])  # dropout masks continue where they stopped
    start = int(ckpt["step"])
    print(f"resumed from {ckpt_path} at step {start}")
    return start, float(ckpt["elapsed"])


def sample_batch(rgbs: torch.Tensor, depths: torch.Tensor, batch: int,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch (with replacement), each sample flipped horizontally with probability 1/2:
    (rgb float32 [B, 3, H, W] in [0, 1], depth [B, 1, H, W] metres)."""
    idx = torch.randint(0, rgbs.shape[0], (batch,), generator=gen)
    flip = torch.rand(batch, generator=gen) < 0.5
    x = rgbs[idx].float().div_(255.0)
    y = depths[idx]
    x[flip] = x[flip].flip(-1)
    y[flip] = y[flip].flip(-1)
    return x, y


def train_step(args: argparse.Namespace, model: FCRN, opt: torch.optim.Optimizer,
               batch: tuple[torch.Tensor, torch.Tensor], step: int) -> float:
    """One optimisation step at ``step`` (0-based) on ``batch``; returns the loss."""
    x, y = batch
    set_lr(opt, _lr_at(step, args.steps, args.lr))
    loss = depth_loss(model.log_depth(x), y, args.loss)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def report_validation(model: FCRN, folder: str, step: int, running: float) -> None:
    """``--val``: score the held-out pairs and print one line under the progress bar."""
    metrics = evaluate_folder(model, folder)["model"]
    model.train()
    line = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    tqdm.write(f"step {step}: loss {running:.4f} val {line}")


def weights_metadata(args: argparse.Namespace, arch: dict, train_mean: float, n_pairs: int, elapsed: float,
                     device: torch.device) -> dict[str, str]:
    """What the weights file records for the model card (``python -m uqcore quality depth`` reads it)."""
    return {
        "arch_kwargs": json.dumps(arch),
        "train_mean_depth": f"{train_mean:.6f}",
        "train_pairs": str(n_pairs),
        "steps": str(args.steps),
        "seed": str(args.seed),
        "loss": args.loss,
        "train_seconds": f"{elapsed:.1f}",
        "device": str(device),
        "command": command_line(args),
    }


def depth_statistics(depths: torch.Tensor) -> tuple[float, float]:
    """(mean, geometric mean) of the training depths over valid pixels (> 1 mm), in metres: the
    card's training-mean depth and the prediction's initial bias (``depth_init``)."""
    valid = depths > 1e-3
    return float(depths[valid].mean()), float(torch.exp(torch.log(depths[valid]).mean()))


def train(args: argparse.Namespace, model: FCRN, opt: torch.optim.Optimizer, data: tuple[torch.Tensor, torch.Tensor],
          gen: torch.Generator, device: torch.device, ckpt_path: Path, arch: dict, start: int, stop: int,
          elapsed0: float) -> float:
    """Steps ``start`` .. ``stop`` - 1, checkpointing every ``--checkpoint-every`` steps and at
    ``stop`` (scored on ``--val`` then); returns the training seconds so far, resumed runs included."""
    t0 = time.time()
    model.train()
    bar = progress_bar("train depth", start, args.steps, args.no_progress)
    running = None
    for step in range(start, stop):
        x, y = sample_batch(*data, args.batch, gen)
        running = smoothed(running, train_step(args, model, opt, (x.to(device), y.to(device)), step))
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
        done = step + 1
        if done % args.checkpoint_every == 0 or done == stop:
            ckpt_path.parent.mkdir(parents=True, exist_ok=True)
            save_checkpoint(checkpoint_state(model, opt, gen, done, elapsed0 + time.time() - t0, arch), ckpt_path)
            if args.val:
                report_validation(model, args.val, done, running)
    bar.close()
    return elapsed0 + time.time() - t0


def run(args: argparse.Namespace) -> int:
    out = check_args(args)
    ckpt_path = out.with_suffix(".ckpt.pt")
    set_threads(args.threads)
    device = pick_device(args.device)
    arch = dict(DEFAULT_ARCH)
    if args.arch:
        arch.update(json.loads(args.arch))

    gen = seeded_generator(args.seed)
    rgbs, depths = load_folder(args.data, args.limit, progress=not args.no_progress)
    train_mean, depth_init = depth_statistics(depths)
    arch.setdefault("depth_init", depth_init)
    model, opt = build_model(args, arch, device)
    start, elapsed0 = resume(ckpt_path, model, opt, gen) if args.resume else (0, 0.0)

    stop = min(args.until, args.steps) if args.until else args.steps
    elapsed = train(args, model, opt, (rgbs, depths), gen, device, ckpt_path, arch, start, stop, elapsed0)
    if stop < args.steps:
        print(f"stopped at step {stop} of {args.steps}; continue with --resume")
        return 0

    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    state = save_weights(model, out, weights_metadata(args, arch, train_mean, rgbs.shape[0], elapsed, device))
    print(f"wrote {out} ({sum(v.numel() for v in state.values())} values) after {elapsed:.0f} s; "
          f"training-mean depth {train_mean:.3f} m")
    return 0
