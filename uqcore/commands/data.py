"""``python -m uqcore data WHAT``: rebuild the project's image data reproducibly, offline (Debian
packages from the configured apt mirror; :mod:`uqcore.datasets.sources` says what and from where).

    python -m uqcore data sr-train [--data data]            # -> data/sr_train/ (+ MANIFEST.json)
    python -m uqcore data sr-eval [--out assets/samples/sr] # the twelve scikit-image crops
    python -m uqcore data sr-test [--out assets/samples/sr] # the seventeen wp_*.png test photos
    python -m uqcore data unseen [--root /tmp/uqcore-unseen]          # the reserved unseen photos
    python -m uqcore data triage-photos [--root ...] [--out /tmp/uqcore-triage]   # docs/TRIAGE.md's inputs
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

WHAT = ("sr-train", "sr-eval", "sr-test", "unseen", "triage-photos")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=WHAT)
    parser.add_argument("--data", type=Path, default=Path("data"), help="downloads and the training folder (data/)")
    parser.add_argument("--out", type=Path, default=None,
                        help="sr-eval / sr-test: default assets/samples/sr; triage-photos: default /tmp/uqcore-triage")
    parser.add_argument("--root", type=Path, default=Path("/tmp/uqcore-unseen"), help="unseen / triage-photos: where "
                        "the reserved photos are unpacked")


def run(args: argparse.Namespace) -> int:
    from uqcore.datasets import sources as S
    from uqcore.models.registry import SAMPLES_DIR

    if args.what == "sr-train":
        train = S.build_train(S.sr_train_debs(args.data), args.data / "sr_train")
        print(f"training images: {len(train)} -> {args.data / 'sr_train'}")
    elif args.what == "sr-eval":
        out = args.out or SAMPLES_DIR / "sr"
        print(json.dumps(S.build_eval(out), indent=1))
    elif args.what == "sr-test":
        out = args.out or SAMPLES_DIR / "sr"
        print("\n".join(S.build_test(S.sr_test_debs(args.data), out)))
    elif args.what == "unseen":
        photos = S.unseen_photos(args.root)
        print(f"{len(photos)} unseen photos in {args.root}")
    else:
        out = args.out or Path("/tmp/uqcore-triage")
        photos = S.unseen_photos(args.root)
        S.triage_pairs(photos, out / "pairs16")
        S.triage_folder(photos, out / "folder300")
        print(f"{len(photos)} photos -> {len(list((out / 'pairs16' / 'lr').glob('*.png')))} pairs, "
              f"{len(list((out / 'folder300').glob('*.png')))} LR images in {out}")
    return 0
