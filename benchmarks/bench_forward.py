"""How fast can ONE forward pass of the SR network get on this machine without changing its numbers?

For noise/dropout at an early layer every sample must run (almost) the whole network after the
perturbed layer, so the engine's ratio over the naive batch-1 loop is bounded by how much faster
one forward pass can be made than the naive loop's (``torch.no_grad``, default NCHW layout,
batch 1). This script measures that bound, in one run, for the execution strategies one would try:

    naive NCHW b1            the naive loop's forward (the reference, ratio 1.00)
    channels-last b1 / b4    what the engine uses (``torch.inference_mode``), per image
    jit.freeze b1 / b4       ``torch.jit.optimize_for_inference(torch.jit.freeze(trace))``
    2 workers x 1 thread     two images at once, each on one thread (inter-op instead of intra-op)
    torch.compile b1         inductor with freezing; only with ``--compile`` (tens of seconds to build)

Each line prints seconds per image (best of ``--repeats``), the ratio naive/variant and the largest
absolute difference of the output from the naive forward; the last line the best ratio.

    python benchmarks/bench_forward.py [--size 128] [--repeats 5] [--threads 2] [--compile]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sampling import load_srresnet  # noqa: E402


def per_image(fn, x: torch.Tensor, repeats: int) -> float:
    """Best-of-``repeats`` seconds per image of ``fn(x)`` after one warm-up call."""
    fn(x)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - start)
    return best / x.shape[0]


def two_workers(module: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Seconds per image with two Python threads, each running batch-1 forwards on one torch thread."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        def work():
            with torch.inference_mode():
                for _ in range(repeats):
                    module(x)

        work()  # warm-up
        workers = [threading.Thread(target=work) for _ in range(2)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return (time.perf_counter() - start) / (2 * repeats)
    finally:
        torch.set_num_threads(threads_before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="LR input side")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (needs a C++ compiler)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, label = load_srresnet()
    module = model.module.eval()
    x = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    print(f"{label}, input 1x3x{args.size}x{args.size}, {torch.get_num_threads()} threads, best of {args.repeats}")

    with torch.no_grad():
        reference = module(x)
        naive_s = per_image(module, x, args.repeats)
    rows = [("naive NCHW b1 (no_grad)", naive_s, 0.0)]

    def add(name: str, fn, batch: int, channels_last: bool) -> None:
        xb = x.expand(batch, -1, -1, -1).contiguous()
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            diff = (fn(xb)[:1] - reference).abs().max().item()
            rows.append((name, per_image(fn, xb, args.repeats), diff))

    try:
        module.to(memory_format=torch.channels_last)
        add("channels-last b1 (inference_mode)", module, 1, True)
        add("channels-last b4 (inference_mode)", module, 4, True)
        rows.append(("2 workers x 1 thread, channels-last b1", two_workers(module, x.contiguous(memory_format=torch.channels_last), args.repeats), None))
    finally:
        module.to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(module, x).eval()))
    add("jit.freeze + optimize_for_inference b1", frozen, 1, False)
    add("jit.freeze + optimize_for_inference b4", frozen, 4, False)
    if args.compile:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
        compiled = torch.compile(module)
        start = time.perf_counter()
        with torch.no_grad():
            compiled(x)
        print(f"torch.compile build: {time.perf_counter() - start:.1f} s")
        add("torch.compile (inductor, freezing) b1", compiled, 1, False)

    print(f"{'strategy':42s} {'s/image':>8s} {'naive/this':>10s} {'max abs diff':>12s}")
    for name, seconds, diff in rows:
        shown = "as b1" if diff is None else f"{diff:.1e}"  # the workers run the channels-last b1 forward
        print(f"{name:42s} {seconds:8.3f} {naive_s / seconds:10.2f} {shown:>12s}")
    best = max(rows[1:], key=lambda r: naive_s / r[1])
    print(f"best ratio naive/strategy for one forward pass: {naive_s / best[1]:.2f} ({best[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
