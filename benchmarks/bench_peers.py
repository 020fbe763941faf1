"""uqcore against the packages a user would pick instead: same model, same input, one run.

* ttach (test-time augmentation): its D4 ``SegmentationTTAWrapper`` (8 dihedral transforms, mean
  only), and a loop over the same ttach transforms that keeps every output to take the mean and
  the variance -- against ``uqcore.estimate(method="transform")`` (the same 8 transforms, mean and
  variance). The maps must agree: the table prints the largest difference of the mean (wrapper)
  or of the variance (loop).
* torch-uncertainty: its ``mc_dropout`` wrapper (``task="pixel_regression"``), ``on_batch=True``
  (the input repeated along the batch, one forward pass) and ``on_batch=False`` (a Python loop of
  batch-1 passes), the mean and variance of the samples taken from its output -- against
  ``uqcore.estimate(method="mc_dropout")``. Its dropout draws from torch's global generator and
  ours from per-sample generators, so these maps differ by sampling noise: the table prints the
  largest variance difference and the rank correlation of the two variance maps.

Peers run as their documentation shows them used: ``model.eval()``, the input as it comes
(NCHW), under ``torch.inference_mode()``. Models: the bundled ``srresnet`` (transform) and
``srresnet-mcdrop`` (MC-dropout), a 128x128 LR input, 16 MC-dropout samples. Each time is the
best of ``--repeats`` runs alternating peer / uqcore; ``peer/uqcore`` > 1 means uqcore is faster.

The peers are not app dependencies: install them into a separate environment,

    python3 -m venv /work/bench-venv
    /work/bench-venv/bin/pip install -r requirements.txt -r benchmarks/requirements.txt
    /work/bench-venv/bin/python benchmarks/bench_peers.py [--device cpu|cuda] [--repeats 5] [--threads N]
    /work/bench-venv/bin/python benchmarks/bench_peers.py --smoke   # tiny random networks (the CI test)
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import uqcore  # noqa: E402
from bench_sampling import set_up, timed  # noqa: E402
from uqcore.metrics import spearman  # noqa: E402

try:
    import ttach
    from torch_uncertainty.methods import mc_dropout
except ImportError as exc:  # pragma: no cover - what a user without the peers sees
    raise SystemExit(f"bench_peers needs the peers' packages ({exc.name} is missing): "
                     "pip install -r benchmarks/requirements.txt in a separate virtual environment") from exc


def ttach_wrapper(module, x):
    """ttach's D4 wrapper: the mean of the 8 de-augmented outputs."""
    wrapper = ttach.SegmentationTTAWrapper(module, ttach.aliases.d4_transform(), merge_mode="mean")
    with torch.inference_mode():
        return wrapper(x)[0], None


def ttach_loop(module, x):
    """The ttach transforms in a loop that keeps the outputs: mean and per-pixel variance."""
    with torch.inference_mode():
        outs = torch.cat([t.deaugment_mask(module(t.augment_image(x))) for t in ttach.aliases.d4_transform()])
        return outs.mean(0), outs.var(0, unbiased=False).mean(0)


def tu_mc_dropout(on_batch: bool, samples: int):
    def run(module, x):
        wrapper = mc_dropout(module, num_estimators=samples, on_batch=on_batch, task="pixel_regression",
                             probabilistic=False).eval()  # eval(): its dropout layers stay in train mode
        with torch.inference_mode():
            outs = wrapper(x)
        return outs.mean(0), outs.var(0, unbiased=False).mean(0)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--samples", type=int, default=16, help="MC-dropout samples")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs of each side, alternating; the best counts (3 proved too few on a shared CPU)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--smoke", action="store_true", help="tiny random networks, 2 samples, 16x16, 1 repeat")
    args = parser.parse_args(argv)
    model, mc, label, x, device, name = set_up(args)
    print(f"models: {label} / {mc.name}; input 1x3x{args.size}x{args.size}; device: {name}; "
          f"best of {args.repeats} alternating runs; ttach {_version('ttach')}, "
          f"torch-uncertainty {_version('torch-uncertainty')}")
    peers = [
        ("ttach D4 SegmentationTTAWrapper (mean only)", ttach_wrapper, model, dict(method="transform", samples=8), "mean"),
        ("ttach D4 loop with variance", ttach_loop, model, dict(method="transform", samples=8), "variance"),
        (f"torch-uncertainty mc_dropout on_batch=True ({args.samples})", tu_mc_dropout(True, args.samples), mc,
         dict(method="mc_dropout", samples=args.samples), "variance"),
        (f"torch-uncertainty mc_dropout on_batch=False ({args.samples})", tu_mc_dropout(False, args.samples), mc,
         dict(method="mc_dropout", samples=args.samples), "variance"),
    ]
    print("| peer | peer s | uqcore s | peer/uqcore | largest map difference | rank corr. of variance maps |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = []
    for title, peer, case_model, kwargs, compared in peers:
        module = copy.deepcopy(case_model.module_on(device)).eval()  # the peer's own copy (wrappers switch modes)

        def ours():
            return uqcore.estimate(case_model, x, seed=0, device=device, **kwargs)

        mean, variance = peer(module, x)  # warm-up, and the results check
        est = ours()
        if compared == "mean":
            diff, rank = float((mean.cpu() - est.mean).abs().max()), None
        else:
            diff = float((variance.cpu() - est.variance).abs().max())
            rank = spearman(variance.cpu().numpy(), est.variance.numpy())
        peer_t, ours_t = [], []
        for _ in range(args.repeats):
            peer_t.append(timed(lambda: peer(module, x)))
            ours_t.append(timed(ours))
        p, o = min(peer_t), min(ours_t)
        ratios.append(p / o)
        shown = "-" if rank is None else f"{rank:.3f}"
        print(f"| {title} | {p:.3f} | {o:.3f} | {p / o:.2f} | {compared} {diff:.1e} | {shown} |", flush=True)
    print(f"minimum peer/uqcore: {min(ratios):.2f}")
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
