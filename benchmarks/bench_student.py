"""One-pass student against one plain forward pass and against its 8-sample teacher.

For each bundled model with a bundled student head, side by side in one run and interleaved (each
repeat times all three, so machine load hits them alike), median seconds per image of:

    forward        ``module(x)`` under ``torch.inference_mode`` with the channels-last input the
                   engine uses: one plain forward pass of the frozen network
    student        ``uqcore.estimate(model, x, method="student")``: the same pass with the feature
                   layers captured, plus the head (and the call's checks and result)
    teacher (8)    ``uqcore.estimate`` with the head's teacher at 8 samples

and the ratios student/forward (target <= 1.25) and teacher/student (target >= 6). Inputs: a
fixed random image of ``--size`` (SR: the LR side; depth: the model's probe size).

    python benchmarks/bench_student.py [--models srresnet,srgan,fcrn] [--repeats 7] [--threads 1] [--device cpu]
    python benchmarks/bench_student.py --smoke    # a tiny random network and a 2-step head (tests)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uqcore  # noqa: E402
from uqcore.models.srresnet import SRResNet  # noqa: E402
from uqcore.models.student_files import attach_student  # noqa: E402
from uqcore.student.train import distill  # noqa: E402


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(model, x: torch.Tensor, repeats: int, device: str) -> dict[str, float]:
    """Median seconds of the three calls (module docstring), interleaved; one warm-up each."""
    teacher = model.student_card.get("teacher") or {"method": "transform", "layer": None, "strength": None}
    module = model.module_on(torch.device(device))
    xd = x.to(device).contiguous(memory_format=torch.channels_last)

    def forward():
        with torch.inference_mode():
            module(xd)
            if xd.device.type == "cuda":
                torch.cuda.synchronize()

    calls = {
        "forward": forward,
        "student": lambda: uqcore.estimate(model, x, method="student", device=device),
        "teacher": lambda: uqcore.estimate(model, x, method=teacher["method"], layer=teacher["layer"],
                                           strength=teacher["strength"], samples=8, seed=0, device=device),
    }
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():
        fn()
    for _ in range(repeats):
        for k, fn in calls.items():
            times[k].append(_timed(fn))
    out = {k: statistics.median(v) for k, v in times.items()}
    out["teacher_label"] = f"{teacher['method']}" + (f" @ {teacher['layer']}" if teacher.get("layer") else "")
    return out


def smoke_model():
    torch.manual_seed(0)
    model = uqcore.wrap(SRResNet(scale=2, n_feats=8, n_blocks=2), task="sr", scale=2, name="smoke-sr",
                        probe_size=(16, 16))
    images = [torch.rand((3, 32, 32), generator=torch.Generator().manual_seed(i)) for i in range(2)]
    result = distill(model, images, steps=2, crop=8, batch=1, samples=2)
    return attach_student(model, result.head, result.card)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="srresnet,srgan,fcrn")
    parser.add_argument("--size", type=int, default=96, help="SR input side (LR pixels)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        cases = [(smoke_model(), 16)]
        args.repeats = 2
    else:
        cases = [(uqcore.load_model(n.strip()), args.size) for n in args.models.split(",") if n.strip()]
    print(f"device {args.device}, {args.threads} thread(s), median of {args.repeats} interleaved repeats\n")
    print("| case | input | forward s | student s | teacher (8) s | student/forward | teacher/student |")
    print("|---|---|---:|---:|---:|---:|---:|")
    worst_over, worst_speedup = 0.0, float("inf")
    for model, size in cases:
        if model.student is None:
            raise SystemExit(f"{model.name} has no student head")
        shape = (size, size) if model.task == "sr" else tuple(model.probe_size)
        x = torch.rand((1, model.in_channels, *shape), generator=torch.Generator().manual_seed(0))
        t = bench(model, x, args.repeats, args.device)
        over, speedup = t["student"] / t["forward"], t["teacher"] / t["student"]
        worst_over, worst_speedup = max(worst_over, over), min(worst_speedup, speedup)
        print(f"| {model.name} (teacher {t['teacher_label']}) | {shape[0]}x{shape[1]} | {t['forward']:.4f} | "
              f"{t['student']:.4f} | {t['teacher']:.4f} | {over:.2f} | {speedup:.2f} |")
    print(f"\nmaximum student/forward: {worst_over:.2f}")
    print(f"minimum teacher/student: {worst_speedup:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
