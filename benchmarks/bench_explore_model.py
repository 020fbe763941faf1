"""Time of a bundled model's default Explore view, headless and through the page (AppTest).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_explore_model.py --model esrgan-thick [--threads 1]

* headless: the default view's input (the first bundled sample, centre-cropped to the card's
  ``explore_crop`` as Explore does, ``uqcore.datasets.folders.explore_region``), then one forward
  and ``uqcore.estimate`` with the card's recommended setting (what Explore computes first);
* page: ``streamlit.testing.v1.AppTest`` of app.py on pages/explore.py with ``?task=sr&model=M``:
  the first script run (a fresh process: the model is loaded and the recommended setting
  computed) and a second visitor's run in a new AppTest (the result is cached and shared); each
  must end without an exception and show the panels chart.

Seconds on ``--threads`` torch threads of the machine as it is (the load average is printed:
on a shared CPU the numbers move with it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore  # noqa: E402
from uqcore.datasets.folders import explore_region  # noqa: E402
from uqcore.models.srresnet import bicubic_downscale, load_hr  # noqa: E402


def headless(name: str) -> dict:
    t = time.perf_counter()
    model = uqcore.load_model(name)
    out = {"load": time.perf_counter() - t}
    path = sorted((ROOT / "assets" / "samples" / "sr").glob("*.png"))[0]
    hr, side = explore_region(model, load_hr(path, model.scale))
    x = bicubic_downscale(hr, model.scale)
    out.update(image=path.name, crop=side, lr=tuple(x.shape[-2:]))
    with torch.inference_mode():
        t = time.perf_counter()
        model.module(x)
        out["forward"] = time.perf_counter() - t
    rec = model.card.get("recommended") or {"method": "transform", "layer": None, "strength": None, "samples": 8}
    t = time.perf_counter()
    uqcore.estimate(model, x, method=rec["method"], layer=rec.get("layer"), strength=rec.get("strength"),
                    samples=int(rec.get("samples", 8)), seed=0)
    out["recommended"] = time.perf_counter() - t
    out["setting"] = f"{rec['method']} {rec.get('layer') or ''} {rec.get('strength') or ''} x{rec.get('samples', 8)}"
    return out


def page_run(name: str) -> float:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.query_params["task"] = "sr"
    at.query_params["model"] = name
    t = time.perf_counter()
    at.run()
    at.switch_page("pages/explore.py").run()
    seconds = time.perf_counter() - t
    if at.exception or at.error:
        raise SystemExit(f"the page failed: {[e.value for e in [*at.exception, *at.error]]}")
    if not at.get("plotly_chart"):
        raise SystemExit("the page shows no chart")
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="esrgan-thick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-page", action="store_true", help="headless timings only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()[0]:.1f}; threads {args.threads}", flush=True)
    h = headless(args.model)
    print(f"headless: load {h['load']:.2f} s; {h['image']} crop {h['crop']} (LR {h['lr'][0]}x{h['lr'][1]}): "
          f"forward {h['forward']:.2f} s, recommended ({h['setting']}) {h['recommended']:.2f} s", flush=True)
    if not args.no_page:
        first = page_run(args.model)
        second = page_run(args.model)
        print(f"page (AppTest, pages/explore.py ?model={args.model}): first run {first:.2f} s, "
              f"second visitor {second:.2f} s", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
