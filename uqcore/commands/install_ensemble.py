"""``python -m uqcore install-ensemble``: bundle the finished ensemble members.

    python -m uqcore install-ensemble --candidates runs/sr [--steps 2500] [--write]

A member is ``runs/sr/ens.N.safetensors`` from ``scripts/train_baselines.sh`` whose recorded step
count (safetensors metadata ``steps``) reaches ``--steps`` (srresnet's budget; unfinished runs have
no weights file yet, or fewer steps). Each finished member N replaces
``assets/models/srresnet-ens.N.safetensors``; the card's ``config.weights`` / ``members`` list every
bundled member and ``provenance.training.runs[N]`` becomes the member's recorded run. Without
``--write`` it only prints what it would install. Afterwards the eval numbers are the earlier
members': rerun ``python -m uqcore quality sr --models srresnet-ens --write``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

TARGET = "srresnet-ens"
MEMBER = re.compile(r"^ens\.(\d+)\.safetensors$")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidates", type=Path, default=Path("runs/sr"), help="folder of the trained members")
    parser.add_argument("--steps", type=int, default=2500, help="a member is finished at this many steps (default 2500)")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where the bundled cards and weights are (default: the checkout's assets/models)")
    parser.add_argument("--write", action="store_true", help="copy the members and rewrite the card")


def finished_members(folder: Path, steps: int) -> dict[int, Path]:
    """``{index: weights}`` of the members in ``folder`` that recorded at least ``steps`` steps."""
    from uqcore.paper.selection import weights_metadata

    found = {}
    for path in sorted(Path(folder).glob("ens.*.safetensors")):
        match = MEMBER.match(path.name)
        if match and int(weights_metadata(path).get("steps", 0)) >= steps:
            found[int(match.group(1))] = path
    return found


def install(card: Any, members: dict[int, Path], models: Path) -> list[str]:
    """Copy the members beside the card and make its weights, member count and runs theirs;
    returns the card's weights list."""
    from uqcore.paper.selection import training_record, weights_metadata

    weights = card.config["weights"]
    weights = list(weights) if isinstance(weights, list) else [weights]
    runs = list(card.provenance.setdefault("training", {}).get("runs") or [])
    for index, path in sorted(members.items()):
        name = f"{TARGET}.{index}.safetensors"
        (models / name).unlink(missing_ok=True)  # replace the file (a link is not followed)
        shutil.copyfile(path, models / name)
        while len(weights) <= index:
            weights.append(f"{TARGET}.{len(weights)}.safetensors")
        weights[index] = name
        while len(runs) <= index:
            runs.append({})
        runs[index] = training_record(path)
        meta = weights_metadata(path)
        if "arch_kwargs" in meta:
            card.config["arch_kwargs"] = json.loads(meta["arch_kwargs"])
    missing = [w for w in weights if not (models / w).is_file()]
    if missing:
        raise SystemExit(f"members {missing} are not bundled and not finished; nothing written")
    card.config["weights"], card.config["members"] = weights, len(weights)
    training = card.provenance["training"]
    training["runs"] = runs
    training["total_train_seconds"] = round(sum(float(r.get("train_seconds") or 0) for r in runs), 1)
    return weights


def run(args: argparse.Namespace) -> int:
    from uqcore.models.card import read_card
    from uqcore.models.registry import MODELS_DIR

    models = args.models_dir or MODELS_DIR
    members = finished_members(args.candidates, args.steps)
    print(json.dumps({"finished": {str(i): str(p) for i, p in members.items()}, "steps": args.steps}, indent=1))
    if not members:
        print(f"no finished member (ens.N.safetensors with >= {args.steps} steps) in {args.candidates}", file=sys.stderr)
        return 1
    if args.write:
        from uqcore.training.cards import sr_card

        card = read_card(models / f"{TARGET}.json")
        weights = install(card, members, models)
        card.save()
        sr_card(TARGET, models).save()  # config and provenance from the members' own training metadata
        print(f"wrote {card.path} ({len(weights)} members); rerun python -m uqcore quality sr --models {TARGET} --write",
              file=sys.stderr)
    return 0
