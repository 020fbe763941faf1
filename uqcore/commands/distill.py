"""distil a one-pass student head from a training-free teacher on unlabeled images

    python -m uqcore distill --model srresnet --images data/sr_train --out runs/srresnet.student.safetensors \\
        [--teacher transform|noise|dropout|mc_dropout|ensemble] [--layer L --strength S] [--samples M] \\
        [--features L1,L2] [--steps K] [--crop P] [--batch B] [--loss gaussian|laplace] [--rank-weight W] \\
        [--seed 0] [--ckpt PATH] [--ckpt-every N] [--resume] [--threads T] [--device cpu]
    python -m uqcore distill --model M --from-checkpoint RUN.ckpt.pt --out HEAD.safetensors [--images DIR]
        the head as it was at a stopped run's checkpoint (uqcore.student.checkpoint)

Writes the head (safetensors) and its card (``.json`` beside it); see :mod:`uqcore.student.train`.
Use it with ``uqcore.load_model(MODEL, student=OUT)`` and ``estimate(..., method="student")``.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from uqcore.student.train import TEACHERS, distill
from uqcore.training.losses import LOSSES


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="bundled model name, model card or model file / spec")
    parser.add_argument("--images", default=None,
                        help="folder of unlabeled training images (never the evaluation set); required unless "
                             "--from-checkpoint")
    parser.add_argument("--from-checkpoint", default=None, metavar="CKPT",
                        help="write the head of this distill checkpoint (a run stopped early) instead of training")
    parser.add_argument("--out", required=True, help="output head, .safetensors (the card is written beside it as .json)")
    parser.add_argument("--teacher", choices=TEACHERS, default=None,
                        help="teacher method (default: transform for SR, the card's recommended setting otherwise)")
    parser.add_argument("--layer", default=None, help="teacher layer (noise / dropout)")
    parser.add_argument("--strength", type=float, default=None, help="teacher strength (noise / dropout)")
    parser.add_argument("--samples", type=int, default=None, help="teacher samples per crop (default 8)")
    parser.add_argument("--features", default=None, help="comma-separated feature layers (default: the last two blocks)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--crop", type=int, default=32, help="crop side at the model's input resolution")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--loss", choices=LOSSES, default="gaussian")
    parser.add_argument("--rank-weight", type=float, default=0.0, help="weight of the pairwise ranking term (0: off)")
    parser.add_argument("--error-weight", type=float, default=0.0,
                        help="SR only: weight of a ranking term against the model's actual error on the crop "
                             "(the training image is its own ground truth; 0: off, distil from the teacher alone)")
    parser.add_argument("--jitter", type=float, default=0.2, help="colour-jitter amplitude (seed 002: 0.2)")
    parser.add_argument("--hidden", type=int, default=16, help="head width at the feature resolution")
    parser.add_argument("--last-kernel", type=int, default=1, choices=(1, 3),
                        help="kernel of the conv reading the last feature map at output resolution")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ckpt", default=None, help="checkpoint path (default: <out stem>.ckpt.pt)")
    parser.add_argument("--ckpt-every", type=int, default=250)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from uqcore.models import load_model  # lazy: the registry is only needed by the command

    model = load_model(args.model, student=False)
    if args.from_checkpoint:
        from uqcore.models.student_files import save_student
        from uqcore.student.checkpoint import head_from_checkpoint

        head, card = head_from_checkpoint(model, args.from_checkpoint, args.images)
        save_student(head, args.out, card)
        print(f"{args.out}: step {card['training']['steps']} of {card['training']['steps_planned']}")
        return 0
    if not args.images:
        print("distill: --images is required (unless --from-checkpoint)", file=sys.stderr)
        return 2
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    argv = sys.argv[2:] if sys.argv[1:2] == ["distill"] else None
    command = ("python -m uqcore distill " + " ".join(shlex.quote(a) for a in argv) if argv is not None
               else f"python -m uqcore distill --model {args.model} ... (called in-process)")
    result = distill(model, args.images, args.out, teacher=args.teacher, layer=args.layer, strength=args.strength,
                     samples=args.samples, features=features, steps=args.steps, crop=args.crop, batch=args.batch,
                     lr=args.lr, seed=args.seed, loss=args.loss, rank_weight=args.rank_weight,
                     error_weight=args.error_weight, jitter=args.jitter, hidden=args.hidden,
                     last_kernel=args.last_kernel, ckpt=args.ckpt, ckpt_every=args.ckpt_every, resume=args.resume,
                     threads=args.threads, device=args.device, progress=not args.quiet, card={"command": command})
    print(f"wrote {result.path} ({result.steps_done} steps, {result.card['training']['seconds']} s)")
    return 0
