"""Record (and, for srresnet, redo) the choice of each bundled student head on validation data
disjoint from assets/samples (issue 25, item 4): the card's ``"selection"`` field.

    .venv/bin/python scripts/select_students.py --models srresnet,fcrn,srgan --write

* ``srresnet``: the four variants of its ablations (retrained by ``STUDENTS=1 bash
  scripts/train_sr_fair.sh`` into runs/students/, the bundled one is assets/models/) are scored
  with ``scripts/check_students.py --models srresnet --data heldout --head HEAD``; the highest
  student pixel correlation wins (the first bar). If it is not the bundled head, its weights and
  card are installed as assets/models/srresnet.student.* (then rerun ``check_students.py --write``).
* ``srgan``: was already chosen that way; its ablations' stored validation numbers are restated.
* ``fcrn``: one configuration was trained (the distill defaults), nothing was chosen among heads;
  the bundled head is scored on the validation scenes so the card names them.
Validation data: :mod:`uqcore.paper.heldout` (SR: the 7 scikit-image images of ``SR_HELDOUT``
centre-cropped to 384 px; depth: 12 rendered scenes with seeds from ``DEPTH_SEED``), used by
nothing else but choices like these and the paper run's calibrated error bars.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from uqcore.models.registry import MODELS_DIR  # noqa: E402
from uqcore.paper.heldout import DEPTH_SEED, SR_HELDOUT  # noqa: E402

METRIC = ("student corr_pixel on the validation set (scripts/check_students.py --data heldout), highest wins; "
          "corr_mean and AUSE pixel recorded")
SR_DATA = [f"skimage:{Path(f).stem}" for f, _ in SR_HELDOUT]
SRRESNET = {  # name -> (head, distill options; all: --steps 800 --crop 32 --batch 2 --seed 0)
    "gaussian + 1x ranking vs the error (bundled before issue 25)": (None, "--error-weight 1"),
    "gaussian NLL only": ("runs/students/srresnet-m1.safetensors", "--last-kernel 1"),
    "laplace NLL only": ("runs/students/srresnet-l2.safetensors", "--loss laplace"),
    "gaussian + 1x ranking vs the teacher": ("runs/students/srresnet-r.safetensors", "--rank-weight 1"),
}


def card_file(model: str) -> Path:
    return MODELS_DIR / f"{model}.student.json"


def scores(q: dict) -> dict:
    return {"student": {k: round(q["student"][k], 4) for k in ("corr_pixel", "corr_mean", "ause_pixel")},
            "ratio": {k: round(q["ratio"][k], 3) for k in ("corr_pixel", "corr_mean", "ause_pixel")}}


def srresnet_selection(measure) -> tuple[dict, str | None]:
    """Score every available candidate on the validation images; (selection, head to install)."""
    cands = []
    for name, (head, opts) in SRRESNET.items():
        if head is not None and not (ROOT / head).exists():
            continue
        q = measure("srresnet", head=None if head is None else str(ROOT / head), data="heldout")
        cands.append({"name": name, "head": head or "assets/models/srresnet.student.safetensors",
                      "distill_options": opts, **scores(q),
                      "check": "python scripts/check_students.py --models srresnet --data heldout"
                               + (f" --head {head}" if head else "")})
    best = max(cands, key=lambda c: c["student"]["corr_pixel"])
    missing = [n for n, (h, _) in SRRESNET.items() if h is not None and not (ROOT / h).exists()]
    sel = {"data": SR_DATA, "data_note": "uqcore.paper.heldout.SR_HELDOUT, centre-cropped to 384 px",
           "metric": METRIC, "candidates": cands, "chosen": best["name"],
           "command": "STUDENTS=1 bash scripts/train_sr_fair.sh; python scripts/select_students.py --models srresnet --write"}
    if missing:
        sel["not_scored"] = {"candidates": missing, "why": "weights not trained (runs/students/ missing them); "
                                                        "train with STUDENTS=1 bash scripts/train_sr_fair.sh and rerun"}
    install = None if best["head"].startswith("assets/") else best["head"]
    return sel, install


def srgan_selection(card: dict) -> dict:
    cands = [{"name": a["variant"], "head": a["head"], "command": a["command"],
              "student": a["validation"]["student"], "ratio": a["validation"]["ratio"], "check": a["validation"]["check"]}
             for a in card.get("ablations", []) if "validation" in a]
    best = max(cands, key=lambda c: c["student"]["corr_pixel"])
    return {"data": SR_DATA, "data_note": "uqcore.paper.heldout.SR_HELDOUT, centre-cropped to 384 px",
            "metric": METRIC, "candidates": cands, "chosen": best["name"],
            "command": "the validation numbers of the ablations (their 'validation.check' commands)"}


def fcrn_selection(measure, n_scenes: int) -> dict:
    q = measure("fcrn", data="heldout")
    return {"data": [f"scene_{DEPTH_SEED + i}" for i in range(n_scenes)],
            "data_note": "uqcore.paper.heldout.depth_heldout: rendered scenes, seeds disjoint from training "
                         "(0-7199), monitoring (2000000-2000023) and assets/samples/depth (1000000-1000011)",
            "metric": METRIC, "chosen": "the bundled head (distill defaults)",
            "candidates": [{"name": "the bundled head (distill defaults)", **scores(q),
                            "check": "python scripts/check_students.py --models fcrn --data heldout"}],
            "note": "one configuration was trained; no head was chosen among variants. Its teacher setting is "
                    "fcrn's recommended setting (chosen on the paper run's calibration split)."}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="srresnet,srgan,fcrn")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    import check_students as cs
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        path = card_file(model)
        card = json.loads(path.read_text())
        install = None
        if model == "srresnet":
            sel, install = srresnet_selection(cs.measure)
        elif model == "srgan":
            sel = srgan_selection(card)
        else:
            sel = fcrn_selection(cs.measure, cs.HELDOUT_SCENES)
        print(model, json.dumps(sel, indent=1))
        if args.write:
            if install:
                src = ROOT / install
                shutil.copyfile(src, MODELS_DIR / f"{model}.student.safetensors")
                card = json.loads(src.with_suffix(".json").read_text()) | {
                    k: card[k] for k in ("ablations",) if k in card}
                card["head"] = f"{model}.student.safetensors"
            card["selection"] = sel
            path.write_text(json.dumps(card, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
