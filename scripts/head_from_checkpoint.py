"""A student head from a ``python -m uqcore distill`` checkpoint (``--ckpt-every``): the head as it
was at the checkpoint's step, for a run stopped before its last step (CPU time), with a card that
says so (``training.steps`` = that step, ``steps_planned`` = the run's).

    .venv/bin/python scripts/head_from_checkpoint.py --model esrgan-thick --images data/sr_train \\
        --ckpt runs/students/esrgan-thick-b.ckpt.pt --out runs/students/esrgan-thick-b-step.safetensors

The head's learning rate had not decayed to its end value at that step (cosine schedule over the
planned steps), so such a head is not the head the full run would give.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore  # noqa: E402
from uqcore.models.student_files import config_for, freeze, save_student  # noqa: E402
from uqcore.engine.student_head import StudentHead  # noqa: E402
from uqcore.student.train import training_images  # noqa: E402
from uqcore.training.common import load_checkpoint  # noqa: E402


def head_from_checkpoint(model, ckpt: Path, images: Path | None) -> tuple[StudentHead, dict]:
    state = load_checkpoint(ckpt)
    s = json.loads(state["settings"])
    head = StudentHead(config_for(model, s["features"], hidden=s["hidden"], last_kernel=s["last_kernel"]))
    head.load_state_dict(state["head"])
    names = training_images(images)[0] if images else []
    card = {"model": model.name, "task": model.task,
            "teacher": {"method": s["teacher"], "layer": s["layer"], "strength": s["strength"], "samples": s["samples"]},
            "features": list(s["features"]), "settings": s,
            "training": {"images": len(names), "image_names": names, "steps": int(state["step"]),
                         "steps_planned": s["steps"], "seconds": round(float(state["elapsed"]), 1),
                         "final_loss": state["running"], "hardware": platform.machine(), "threads": 1,
                         "torch": torch.__version__,
                         "stopped_at_checkpoint": f"{ckpt.name}: step {int(state['step'])} of {s['steps']} "
                                                  "(scripts/head_from_checkpoint.py)"}}
    return freeze(head), card


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--images", type=Path, default=None, help="the run's training folder (names go into the card)")
    args = ap.parse_args(argv)
    model = uqcore.load_model(args.model, student=False)
    head, card = head_from_checkpoint(model, args.ckpt, args.images)
    save_student(head, args.out, card)
    print(f"{args.out}: step {card['training']['steps']} of {card['training']['steps_planned']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
