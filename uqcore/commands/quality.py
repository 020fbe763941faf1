"""``python -m uqcore quality``: the bundled models' measured quality (:mod:`uqcore.paper.quality`).

    python -m uqcore quality sr [--models srresnet,srgan,...] [--write]
        PSNR / SSIM vs bicubic on assets/samples/sr -> each card's measured.eval
    python -m uqcore quality students [--models srresnet,srgan,fcrn] [--crop 384] [--write]
    python -m uqcore quality students --models srgan --head HEAD
        each student head vs its teacher on decision images (uqcore.paper.heldout; never
        assets/samples) -> the head card's measured.quality; --head scores a candidate head (no --write)
    python -m uqcore quality depth [--models fcrn] [--time] [--write]
        abs-rel, RMSE, log10, delta1-3 on assets/samples/depth against the training-mean depth
        (measured.metrics); --time: one forward at the probe size (measured.forward_time)
    python -m uqcore quality explore --models esrgan-thick [--images a.png,b.png] [--skip-bar] [--write]
        Explore's first computations timed (measured.explore_seconds) and transform (8)'s pixel
        correlation on the bundled SR samples (measured.uq_check)
    python -m uqcore quality unseen --models esrgan-thick,srresnet-llm-head [--crop 384] [--write]
        PSNR gain over bicubic on the reserved unseen photos (python -m uqcore data unseen) -> each
        card's measured.unseen_check

Prints one line per model; ``--write`` records the numbers with this command line and the date
(:meth:`uqcore.models.card.ModelCard.set_measured`). Nothing else is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SR_MODELS = "srresnet,srgan,srresnet-ens,srresnet-mcdrop,srresnet-llm,srresnet-llm-head"
STUDENT_MODELS = "srresnet,srgan,fcrn"
UNSEEN_MODELS = "esrgan-thick,srresnet-llm-head"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("sr", "students", "unseen", "explore", "depth"),
                        help="sr: models on the eval set; students: heads; unseen: models on the unseen photos; "
                             "explore: Explore's timings and the transform bar; depth: depth models on the eval set")
    parser.add_argument("--models", default=None,
                        help=f"comma-separated (default sr: {SR_MODELS}; students: {STUDENT_MODELS})")
    parser.add_argument("--head", default=None, help="students: score this head (.safetensors) instead of the bundled one")
    parser.add_argument("--crop", type=int, default=None, help="students, SR: centre crop of the decision images (HR px)")
    parser.add_argument("--limit", type=int, default=None, help="students: only the first N decision images")
    parser.add_argument("--root", default="/tmp/uqcore-unseen", help="unseen: where the unseen photos are unpacked")
    parser.add_argument("--reference", default="srresnet", help="unseen: the model a variance head's PSNR is compared with")
    parser.add_argument("--images", default="", help="explore: comma-separated bundled samples for the bar (default all)")
    parser.add_argument("--time", action="store_true", help="depth: also time one forward pass at the probe size")
    parser.add_argument("--skip-bar", action="store_true", help="explore: only the timings")
    parser.add_argument("--write", action="store_true", help="record the numbers in the cards")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def command_line(args: argparse.Namespace, name: str) -> str:
    parts = ["python -m uqcore quality", args.what, "--models", name]
    if args.crop:
        parts += ["--crop", str(args.crop)]
    if args.limit:
        parts += ["--limit", str(args.limit)]
    if getattr(args, "images", ""):
        parts += ["--images", args.images]
    if getattr(args, "skip_bar", False):
        parts += ["--skip-bar"]
    if getattr(args, "time", False):
        parts += ["--time"]
    return " ".join(parts + ["--write"])


def run(args: argparse.Namespace) -> int:
    import torch

    from uqcore.models.card import read_card
    from uqcore.models.registry import MODELS_DIR
    from uqcore.paper import quality as Q

    torch.set_num_threads(max(1, args.threads))
    if args.head and (args.write or args.what != "students"):
        print("--head scores one candidate student head and writes nothing", file=sys.stderr)
        return 2
    default = {"sr": SR_MODELS, "students": STUDENT_MODELS, "unseen": UNSEEN_MODELS, "explore": "esrgan-thick",
               "depth": "fcrn"}[args.what]
    names = [m.strip() for m in (args.models or default).split(",") if m.strip()]
    ok = True
    for name in names:
        if args.what == "depth":
            _depth(args, name, command_line(args, name))
            continue
        if args.what == "explore":
            _explore(args, name, command_line(args, name))
            continue
        if args.what == "unseen":
            from uqcore.datasets.sources import unseen_photos

            value = Q.unseen_check(name, unseen_photos(Path(args.root)), crop=args.crop or 384, reference=args.reference)
            print(f"{name}: mean PSNR gain over bicubic {value['psnr_gain_mean']:+.3f} dB", flush=True)
            path, key = MODELS_DIR / f"{name}.json", "unseen_check"
        elif args.what == "sr":
            value = Q.sr_eval(name)
            print(f"{name}: " + json.dumps(value["mean"]), flush=True)
            path, key = MODELS_DIR / f"{name}.json", "eval"
        else:
            value = Q.student_quality(name, head=args.head, crop=args.crop or Q.HELDOUT_CROP, limit=args.limit)
            print(f"{name}: " + json.dumps({k: value[k] for k in ("teacher", "student", "ratio", "bars")}), flush=True)
            ok &= all(value["bars"].values())
            path = MODELS_DIR / f"{name}.student.json"
            key = "quality"
        if args.write:
            card = read_card(path)
            card.set_measured(key, value, command=command_line(args, name))
            card.save()
    return 0 if ok else 1


def _explore(args: argparse.Namespace, name: str, command: str) -> None:
    from uqcore.models.registry import SAMPLES_DIR, load_model
    from uqcore.paper import quality as Q

    model = load_model(name)
    paths = sorted((SAMPLES_DIR / "sr").glob("*.png"))
    subset = [SAMPLES_DIR / "sr" / n for n in args.images.split(",") if n]
    found = {"explore_seconds": Q.explore_seconds(model, paths[0])}
    print(f"{name}: explore seconds {found['explore_seconds']}", flush=True)
    if not args.skip_bar:
        found["uq_check"] = Q.transform_bar(model, subset or paths)
        print(f"{name}: transform (8) pixel correlation {found['uq_check']['transform_8_corr_pixel_mean']}", flush=True)
    if args.write:
        _record(name, found, command)


def _record(name: str, found: dict, command: str) -> None:
    """Each measured entry of ``found`` into the bundled model's card, naming ``command``."""
    from uqcore.models.card import read_card
    from uqcore.models.registry import MODELS_DIR

    card = read_card(MODELS_DIR / f"{name}.json")
    for key, value in found.items():
        card.set_measured(key, value, command=command)
    card.save()


def _depth(args: argparse.Namespace, name: str, command: str) -> None:
    import torch

    from uqcore.models.registry import SAMPLES_DIR, load_model
    from uqcore.paper import quality as Q

    found = {"metrics": Q.depth_metrics(name, SAMPLES_DIR / "depth")}
    found["metrics"]["data"] = "assets/samples/depth"
    print(f"{name}: {json.dumps(found['metrics']['model'])} abs-rel ratio to the mean-depth baseline "
          f"{found['metrics']['abs_rel_ratio_to_baseline']}", flush=True)
    if args.time:
        model = load_model(name, student=False)
        found["forward_time"] = Q.time_forward(model.module, tuple(model.probe_size), torch.get_num_threads())
        print(f"{name}: forward median {found['forward_time']['median_s']} s", flush=True)
    if args.write:
        _record(name, found, command)
