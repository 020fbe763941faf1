"""Scale-out on this machine: ``evaluate`` on the 12 bundled SR images (transform + noise,
8 samples) serial in one process with 2 torch threads against ``workers=2`` Ray actors with one
thread each (bench_forward measured 1.38x for two one-thread forward passes).

Printed, in one run:

    serial, cold    the first evaluate() in this process, ``--threads`` torch threads: what one
                    serial command-line run pays (first-call costs of every layer shape included)
    serial, warm    best of ``--repeats`` more runs in the same process
    serial, 1 thread  the same with one torch thread: on a loaded machine (other processes on the
                    cores) two-thread parallel regions stall on each other and one thread can be
                    the faster serial setting; printed so the ratio is read against both
    Ray end-to-end  evaluate(workers=N), best of ``--repeats``: what ``--workers N`` costs on the
                    command line -- a local Ray started, N fresh workers load the model (and pay
                    their own first-call costs), the work, Ray shut down
    Ray start-up    measured on its own: ray.init + N workers loaded and ready + ray.shutdown
    ratios          warm serial / end-to-end (the conservative one), warm serial / (end-to-end -
                    start-up) (the steady state a longer run approaches), cold serial / end-to-end

with the load average (the machine is shared) and whether the rows of the runs are identical
(every column but the wall times).

    python benchmarks/bench_ray.py [--workers 2] [--threads 2] [--samples 8] [--repeats 1]
    python benchmarks/bench_ray.py --device cuda --workers 1 --ray-address local   # one GPU worker
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uqcore import distributed  # noqa: E402
from uqcore.datasets.evaluate import evaluate  # noqa: E402
from uqcore.datasets.folders import load_pairs  # noqa: E402
from uqcore.models import load_model  # noqa: E402

TIMING = {"seconds_per_image", "seconds"}


def timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def startup(model, workers: int, ray_address: str | None, device) -> tuple[float, float, float]:
    """(ray.init, workers loaded and ready, ray.shutdown) seconds, as evaluate(workers=...) does them."""
    t0 = time.perf_counter()
    with distributed.ray_session(workers, ray_address) as ray:
        t1 = time.perf_counter()
        options, threads = distributed.worker_options(ray, workers, device)
        actor = ray.remote(distributed.Worker)
        actors = [actor.options(**options).remote(threads, device) for _ in range(workers)]
        ray.get([a.take.remote(distributed.Ticket.for_job(ray, None, model)) for a in actors])
        t2 = time.perf_counter()
        for a in actors:
            ray.kill(a)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def same(a: list[dict], b: list[dict]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        for k, v in ra.items():
            if k in TIMING:
                continue
            w = rb.get(k)
            if not (v == w or (isinstance(v, float) and isinstance(w, float) and math.isnan(v) and math.isnan(w))):
                return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="srresnet")
    ap.add_argument("--methods", default="transform,noise")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the serial run")
    ap.add_argument("--ray-address", default=None, help="e.g. local (a private local Ray, also for 1 worker)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()

    model = load_model(args.model)
    names, pairs = load_pairs(ROOT / "assets" / "samples" / "sr", model)
    data = [(n, x, t) for n, (x, t) in zip(names, pairs)]
    kw = dict(methods=args.methods.split(","), samples=[args.samples], device=args.device)
    torch.set_num_threads(args.threads)
    print(f"evaluate {args.model} on {len(data)} images, {args.methods}, {args.samples} samples, "
          f"device {args.device}; {torch.get_num_threads()} torch threads here")

    load = os.getloadavg()[0]
    t_cold, cold = timed(lambda: evaluate(model, data, **kw), 1)
    t_serial, serial = timed(lambda: evaluate(model, data, **kw), args.repeats)
    torch.set_num_threads(1)
    t_one, one = timed(lambda: evaluate(model, data, **kw), args.repeats)
    torch.set_num_threads(args.threads)
    init, ready, down = startup(model, args.workers, args.ray_address, args.device)
    t_ray, par = timed(lambda: evaluate(model, data, workers=args.workers, ray_address=args.ray_address, **kw),
                       args.repeats)
    start = init + ready + down
    where = args.ray_address or "a local Ray"
    lines = [
        (f"serial, cold ({args.threads} threads, first run in the process)", f"{t_cold:.1f} s"),
        (f"serial, warm ({args.threads} threads, best of {args.repeats})", f"{t_serial:.1f} s"),
        (f"serial, warm (1 thread, best of {args.repeats})", f"{t_one:.1f} s"),
        (f"Ray end-to-end ({args.workers} workers on {where}, best of {args.repeats})", f"{t_ray:.1f} s"),
        ("Ray start-up", f"{start:.1f} s (ray.init {init:.1f}, workers loaded and ready {ready:.1f}, "
                         f"shutdown {down:.1f})"),
        ("warm serial / Ray end-to-end", f"{t_serial / t_ray:.2f}"),
        ("warm serial / (Ray end-to-end - start-up)", f"{t_serial / (t_ray - start):.2f}"),
        ("cold serial / Ray end-to-end", f"{t_cold / t_ray:.2f}"),
        ("warm serial, 1 thread / Ray end-to-end", f"{t_one / t_ray:.2f}"),
        ("rows identical (all but wall times)", str(same(cold, par) and same(serial, par) and same(one, par))),
        ("load average (1 min) before / after", f"{load:.2f} / {os.getloadavg()[0]:.2f}"),
    ]
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
