"""A student head from a ``python -m uqcore distill`` checkpoint (``--ckpt-every``): the head as it
was at the checkpoint's step, for a run stopped before its last step (CPU time), with a card that
says so (``training.steps`` = that step, ``steps_planned`` = the run's). ``python -m uqcore distill
--from-checkpoint CKPT --model M --out HEAD [--images DIR]`` writes it.

The head's learning rate had not decayed to its end value at that step (cosine schedule over the
planned steps), so such a head is not the head the full run would give.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

from uqcore.engine.student_head import StudentHead
from uqcore.models.student_files import config_for, freeze
from uqcore.student.train import training_images
from uqcore.training.common import load_checkpoint


def head_from_checkpoint(model: Any, ckpt: str | Path, images: str | Path | None = None
                         ) -> tuple[StudentHead, dict[str, Any]]:
    """(frozen head, card) of ``model``'s distillation checkpoint ``ckpt``; ``images``: the run's
    training folder (its names go into the card)."""
    ckpt = Path(ckpt)
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
                                                  "(python -m uqcore distill --from-checkpoint)"}}
    return freeze(head), card
