"""The paper run's tolerability sweeps and recommended setting for ONE bundled SR model, without
running all of ``reproduce`` (for a model added after the last reproduce, e.g. esrgan-thick).

    .venv/bin/python scripts/sweep_recommended.py --model esrgan-thick [--threads 1] [--write]

Same protocol as ``python -m uqcore reproduce`` (uqcore.paper defaults, :class:`Settings`):
calibration split of assets/samples/sr (seeded permutation, first 4, HR centre-cropped to 256, or
``--crop``: esrgan-thick's was run at 128 within the CPU time of its session),
``uqcore.sweep.default_layers`` (4 layers), noise and dropout strength grids, 8 samples, seed 0;
the setting: scripts/write_recommended.py's ``best_setting`` (highest pixel correlation within a
5% loss increase, best of noise and dropout). Rows go to ``--out`` (CSV, results_sweeps.csv
columns); ``--write`` stores the setting as the card's ``recommended`` and the sweep as
``tolerability``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uqcore.models.registry import MODELS_DIR, load_model  # noqa: E402
from uqcore.paper.report import Settings  # noqa: E402
from uqcore.paper.run import load_sr_split  # noqa: E402
from uqcore.datasets.sweep import sweep  # noqa: E402
from uqcore.engine.layers import default_layers  # noqa: E402

FIELDS = ("method", "layer", "strength", "samples", "loss_increase", "corr_pixel")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="CSV of the rows (default runs/sweeps_<model>.csv)")
    ap.add_argument("--crop", type=int, default=None,
                    help="HR centre crop of the calibration images (default: the paper run's 256)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    s = Settings() if args.crop is None else Settings(sr_crop=args.crop)
    model = load_model(args.model, student=False)
    split = load_sr_split(s.sr_data, model.scale, s.sr_crop, s.sr_limit, s.sr_calibration, s.seed)
    names, cal = split.part("cal")
    xs, ts = [p[0] for p in cal], [p[1] for p in cal]
    layers = default_layers(model, s.sweep_layers)
    rows, t0 = [], time.perf_counter()
    for method, strengths in (("noise", s.noise_strengths), ("dropout", s.dropout_strengths)):
        for r in sweep(model, xs, ts, method=method, layers=layers, strengths=list(strengths),
                       samples=s.sweep_samples, seed=s.seed):
            rows.append({**r, "model": args.model})
            print({k: r[k] for k in FIELDS}, flush=True)
    seconds = time.perf_counter() - t0
    out = args.out or ROOT / "runs" / f"sweeps_{args.model}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    spec = importlib.util.spec_from_file_location("write_recommended", ROOT / "scripts" / "write_recommended.py")
    wr = importlib.util.module_from_spec(spec)  # scripts/ is not a package
    spec.loader.exec_module(wr)
    setting = wr.best_setting(wr.read_rows(out), s.tolerance)
    setting["source"] = (f"scripts/sweep_recommended.py --model {args.model}: the paper run's sweep protocol on the "
                         f"calibration split ({', '.join(names)}, HR centre crop {s.sr_crop} px), highest pixel "
                         "correlation within a "
                         f"{s.tolerance:.0%} loss increase (write_recommended.best_setting)")
    print(f"recommended: {setting}; sweep {seconds:.0f} s on {torch.get_num_threads()} thread(s)")
    if args.write:
        path = MODELS_DIR / f"{args.model}.json"
        card = json.loads(path.read_text())
        card["recommended"] = setting
        card["tolerability"] = {
            "rows": [{k: (round(r[k], 5) if isinstance(r[k], float) else r[k]) for k in FIELDS} for r in rows],
            "images": names, "seconds": round(seconds, 1), "threads": torch.get_num_threads(),
            "command": ".venv/bin/python scripts/sweep_recommended.py "
                       + " ".join(sys.argv[1:] if argv is None else argv)}
        path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
