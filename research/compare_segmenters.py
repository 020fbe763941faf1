"""Block-level numbers with the two segmenters (the block level's segmenter choice): local centre of mass (the
block level's default, the paper's choice) against SLIC, on one model and method.

    .venv/bin/python research/compare_segmenters.py                 # print
    .venv/bin/python research/compare_segmenters.py --write         # + docs/results_segmenters.json
                                                                   #   (read by the RESULTS writer)

Per image of ``--data`` (default assets/samples/sr): the model's unperturbed prediction, the
variance of ``--method`` with ``--samples`` samples (seed 0), the absolute error; block-level
Pearson correlation and AUSE with ``segment(prediction, method=m)`` for m in lcm, slic, and the
mean segment size. Means over images, and the paired difference lcm - slic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore  # noqa: E402
import uqcore.metrics as M  # noqa: E402
from uqcore.datasets.folders import load_pairs  # noqa: E402

OUT = ROOT / "docs" / "results_segmenters.json"


def compare(model_name: str, data: Path, method: str, samples: int) -> dict:
    model = uqcore.load_model(model_name)
    names, pairs = load_pairs(data, model)
    rows = []
    for name, (x, target) in zip(names, pairs):
        est = uqcore.estimate(model, x, method=method, samples=samples, seed=0)
        pred = est.original.double().numpy()
        err = M.error_map(pred, target.double().numpy())
        var = est.variance.double().numpy().squeeze()
        row = {"image": name}
        for seg_method in M.SEGMENTERS:
            seg = M.segment(pred, method=seg_method)
            row[seg_method] = {"corr_block": M.pearson(err, var, level="block", segments=seg),
                               "ause_block": M.ause(err, var, level="block", segments=seg),
                               "segment_px": seg.size / (seg.max() + 1)}
        rows.append(row)
    mean = {m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m]} for m in M.SEGMENTERS}
    diff = [r["lcm"]["corr_block"] - r["slic"]["corr_block"] for r in rows]
    return {"model": model_name, "method": method, "samples": samples, "data": str(data.relative_to(ROOT)),
            "n_images": len(rows), "mean": mean, "corr_block_lcm_minus_slic": float(np.mean(diff)),
            "command": "python research/compare_segmenters.py --write", "per_image": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="srresnet")
    ap.add_argument("--data", default=str(ROOT / "assets" / "samples" / "sr"))
    ap.add_argument("--method", default="transform")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = compare(args.model, Path(args.data).resolve(), args.method, args.samples)
    for m, v in out["mean"].items():
        print(f"{m:5s} corr_block {v['corr_block']:.3f}  ause_block {v['ause_block']:.4f}  "
              f"mean segment {v['segment_px']:.0f} px")
    print(f"lcm - slic corr_block: {out['corr_block_lcm_minus_slic']:+.3f} over {out['n_images']} images")
    if args.write:
        OUT.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
