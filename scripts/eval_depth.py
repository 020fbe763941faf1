"""Score a depth model on a folder of name.png + name_depth.png pairs, against predicting the
training-mean depth everywhere, and optionally write the numbers into the model card.

    python scripts/eval_depth.py                         # bundled fcrn on assets/samples/depth
    python scripts/eval_depth.py --write-card            # ... and store them in assets/models/fcrn.json

Metrics (uqcore.models.fcrn.depth_metrics): abs-rel, RMSE (m), log10, delta1-3, computed per
image over pixels with ground truth and averaged over the images. The training-mean depth is
read from the weights' safetensors metadata (``train_mean_depth``) unless --mean is given.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from safetensors import safe_open  # noqa: E402

from uqcore.metrics.quality import DEPTH_METRICS as METRIC_NAMES  # noqa: E402
from uqcore.models.fcrn import evaluate_folder  # noqa: E402
from uqcore.models.registry import MODELS_DIR, load_model  # noqa: E402

COMMAND = "python scripts/eval_depth.py --time --write-card"
MONITORING = "seeds 2000000-2000023; bundled held-out set assets/samples/depth (seeds 1000000-1000011)"


def time_forward(module, size: tuple[int, int], threads: int, repeats: int = 20) -> dict:
    """Median and minimum wall time of one forward pass on a random 1x3xHxW input (CPU)."""
    import platform
    import time

    import torch

    x = torch.rand(1, 3, *size)
    module.eval()
    times = []
    with torch.inference_mode():
        module(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "input": [1, 3, *size],
        "median_s": round(times[len(times) // 2], 4),
        "min_s": round(times[0], 4),
        "threads": threads,
        "device": f"cpu ({platform.processor() or platform.machine()})",
        "command": COMMAND,
    }


def training_stage(meta: dict) -> dict:
    """One training run, from the metadata the training command wrote into its weights."""
    import platform

    command = meta["command"].replace("/tmp/d5/train", "data/depth_train")
    n = int(meta["train_pairs"])
    stage = {
        "command": command,
        "data": f"python -m uqcore make-scenes --n {n} --seed 0 --out data/depth_train (seeds 0-{n - 1}, 160x128)",
        "steps": int(meta["steps"]),
        "seed": int(meta["seed"]),
        "loss": meta["loss"],
        "train_pairs": n,
        "train_seconds": float(meta["train_seconds"]),
        "hardware": f"CPU ({platform.processor() or platform.machine()}), 1 torch thread, shared 2-core machine",
        "train_mean_depth_m": float(meta["train_mean_depth"]),
    }
    if "--init " in command:
        stage["init"] = command.split("--init ", 1)[1].split()[0]
    return stage


def base_card(weights: Path, previous: dict | None = None) -> dict:
    """The card's fixed part, from the weights' own metadata (written by the training command).

    Weights fine-tuned from an earlier model (``--init``) keep that model's recipe: ``previous``
    is the card of the weights they started from, and its training becomes the first stage."""
    with safe_open(str(weights), "pt") as f:
        meta = f.metadata()
        params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys()
                     if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    arch = json.loads(meta["arch_kwargs"])
    stage = training_stage(meta)
    if "init" in stage:
        if previous is None:
            raise SystemExit(f"{weights} was fine-tuned from {stage['init']}: pass that model's card with --init-card")
        stages = previous["training"].get("stages") or [previous["training"]]
        stages = [dict(s, stage=i + 1) for i, s in enumerate(stages)]
        stage["init"] = f"{stage['init']} (the weights of stage {len(stages)})"
        stages.append(dict(stage, stage=len(stages) + 1))
        training = {
            "stages": stages,
            "total_steps": sum(s["steps"] for s in stages),
            "total_train_seconds": round(sum(s["train_seconds"] for s in stages), 1),
            "train_pairs": stage["train_pairs"],
            "train_mean_depth_m": stage["train_mean_depth_m"],
            "monitoring": MONITORING,
        }
    else:
        training = dict(stage, monitoring=MONITORING)
    return {
        "name": weights.stem,
        "task": "depth",
        "scale": 1,
        "architecture": "fcrn",
        "arch_kwargs": arch,
        "weights": weights.name,
        "output": "mean",
        "probe_size": [128, 160],
        "in_channels": 3,
        "description": "FCRN-style monocular depth network (residual encoder, up-projection decoder, "
                       f"dropout p={arch.get('dropout')} before the prediction) trained on synthetic indoor scenes "
                       "(uqcore.scenes); see docs/MODELS.md.",
        "input_range": "RGB float32 in [0, 1] (ImageNet normalisation inside the module); output depth in metres "
                       "at the input resolution",
        "parameters": params,
        "training": training,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fcrn", help="bundled model name or card path")
    parser.add_argument("--data", default=str(ROOT / "assets" / "samples" / "depth"))
    parser.add_argument("--mean", type=float, default=None, help="training-mean depth (m) for the baseline")
    parser.add_argument("--write-card", action="store_true", help="store the metrics in the model card")
    parser.add_argument("--new-card", default=None, metavar="WEIGHTS",
                        help="first (re)write the card's fixed part from these weights' metadata")
    parser.add_argument("--init-card", default=None, metavar="CARD",
                        help="with --new-card for fine-tuned weights: the card of the weights they started from")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--time", action="store_true", help="also time one forward pass at the probe size")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.new_card:
        weights = Path(args.new_card)
        previous = json.loads(Path(args.init_card).read_text()) if args.init_card else None
        (weights.parent / f"{weights.stem}.json").write_text(json.dumps(base_card(weights, previous), indent=2) + "\n")
    model = load_model(args.model)
    card_path = Path(args.model) if args.model.endswith(".json") else MODELS_DIR / f"{args.model}.json"
    weights = card_path.parent / model.card["weights"]
    mean = args.mean
    if mean is None:
        with safe_open(str(weights), "pt") as f:
            mean = float(f.metadata()["train_mean_depth"])
    result = evaluate_folder(model.module, args.data, constant=mean)
    rows = [("model", result["model"]), (f"mean depth {mean:.3f} m", result["constant"])]
    print(f"{result['images']} images in {args.data}")
    print(f"{'':>22} " + " ".join(f"{k:>8}" for k in METRIC_NAMES))
    for label, m in rows:
        print(f"{label:>22} " + " ".join(f"{m[k]:8.4f}" for k in METRIC_NAMES))
    ratio = result["model"]["abs_rel"] / result["constant"]["abs_rel"]
    print(f"abs-rel ratio model / mean-depth baseline: {ratio:.3f}")

    timing = None
    if args.time:
        timing = time_forward(model.module, tuple(model.probe_size), args.threads)
        print(f"forward 1x3x{model.probe_size[0]}x{model.probe_size[1]}: median {timing['median_s']:.3f} s "
              f"(min {timing['min_s']:.3f} s, {args.threads} thread(s))")

    if args.write_card:
        card = json.loads(card_path.read_text())
        if timing is not None:
            card["forward_time"] = timing
        try:
            data_rel = str(Path(args.data).resolve().relative_to(ROOT))
        except ValueError:
            data_rel = args.data
        card["metrics"] = {
            "data": data_rel,
            "images": result["images"],
            "definition": "per image over pixels with ground truth, averaged over images; "
            "delta_i = fraction with max(p/g, g/p) < 1.25^i; RMSE in metres",
            "model": {k: round(v, 4) for k, v in result["model"].items()},
            "mean_depth_baseline": {k: round(v, 4) for k, v in result["constant"].items()},
            "train_mean_depth_m": round(mean, 4),
            "abs_rel_ratio_to_baseline": round(ratio, 4),
            "command": COMMAND,
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote metrics into {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
