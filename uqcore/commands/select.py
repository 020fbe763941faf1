"""``python -m uqcore select TARGET``: choose a trained baseline among its candidates on decision
images only (:mod:`uqcore.paper.selection`), print the numbers as JSON, and with ``--write`` install
the chosen weights as ``assets/models/TARGET.safetensors`` and record ``measured.selection`` (and,
for a new choice, ``config.arch_kwargs`` and ``provenance.training.runs``) in its card.

    python -m uqcore select srresnet-mcdrop --candidates runs/sr [--write]
    python -m uqcore select srresnet-llm [--candidates runs/sr] [--write]
    python -m uqcore select srresnet-llm-head [--write]
    python -m uqcore select students --models srresnet [--candidates runs/students] [--crop 384] [--write]

Candidates are ``runs/sr/*.safetensors`` from ``scripts/train_baselines.sh`` (MC-dropout, likelihood
heads); for ``students`` the bundled head of each model and ``runs/students/<model>-*.safetensors``
(``python -m uqcore distill``), scored by :func:`uqcore.paper.quality.student_quality` on the
decision images (rule: the most quality bars met, then the highest pixel-correlation ratio to the
teacher); a candidate recorded by an earlier run whose head is not here keeps its numbers. After ``--write`` the card's eval numbers are those of the earlier weights: rerun
``python -m uqcore quality sr --models TARGET --write``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

TARGETS = ("srresnet-mcdrop", "srresnet-llm", "srresnet-llm-head", "students")
LLM_CANDIDATES = {  # name -> (weights under --candidates, how it was trained)
    "srresnet-llm": {
        "nll (previously bundled)": ("llm-nll.safetensors",
                                     "Gaussian NLL, all layers fine-tuned from srresnet; the weights bundled before "
                                     "commit 3c076e6: git show 3c076e6:assets/models/srresnet-llm.safetensors"),
        "beta-nll 0.5": ("llm-beta05.safetensors", "beta-NLL (beta=0.5), all layers fine-tuned from srresnet"),
        "beta-nll 1.0": ("llm-beta10.safetensors", "beta-NLL (beta=1.0), all layers fine-tuned from srresnet"),
        "frozen mean, lr 1e-2": ("llm-frozen.safetensors",
                                 "Gaussian NLL, only the log-variance channels of the output conv trained on "
                                 "srresnet's frozen mean, lr 1e-2, 400 steps"),
        "frozen mean, lr 2e-3": ("llm-frozen-lr2e-3.safetensors",
                                 "Gaussian NLL, only the log-variance channels of the output conv trained on "
                                 "srresnet's frozen mean, lr 2e-3, 800 steps"),
        "laplace joint, lr 5e-5, 2500 steps": ("llm-laplace-joint.safetensors",
                                               "Laplace NLL (log-variance parametrised), all layers fine-tuned from "
                                               "srresnet at a low learning rate for srresnet's step budget"),
        "laplace beta-nll 0.5 joint, lr 5e-5, 2500 steps": ("llm-laplace-beta05-joint.safetensors",
                                                            "Laplace beta-NLL (beta=0.5), all layers fine-tuned from "
                                                            "srresnet, lr 5e-5"),
        "laplace beta-nll 0.5 joint, lr 1e-5, 2500 steps": ("llm-laplace-beta05-joint-lr1e-5.safetensors",
                                                            "Laplace beta-NLL (beta=0.5), all layers fine-tuned from "
                                                            "srresnet, lr 1e-5 (a fifth of the runs above)"),
    },
    "srresnet-llm-head": {
        "gaussian, 3 convs x 32": ("llm-head-g3x32.safetensors",
                                   "Gaussian NLL of the frozen prediction's residuals, branch of 3 convs of width 32"),
        "laplace, 3 convs x 32": ("llm-head-l3x32.safetensors",
                                  "Laplace NLL (log-variance parametrised), branch of 3 convs of width 32"),
        "gaussian, 6 convs x 64": ("llm-head-g6x64.safetensors", "Gaussian NLL, branch of 6 convs of width 64"),
        "gaussian, 1 conv x 32": ("llm-head-g1x32.safetensors", "Gaussian NLL, branch of 1 conv of width 32"),
    },
}


# srresnet-llm candidates whose mean is srresnet's, untouched (only the log-variance channels of the
# output conv trained): kept in the record, but srresnet-llm is the jointly trained likelihood model.
FROZEN_MEAN = frozenset({"frozen mean, lr 1e-2", "frozen mean, lr 2e-3"})


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=TARGETS, help="the bundled baseline to choose")
    parser.add_argument("--candidates", type=Path, default=None,
                        help="folder of the trained candidates (default runs/sr; students: runs/students)")
    parser.add_argument("--models", default="srresnet,srgan,fcrn,esrgan-thick", help="students: whose heads")
    parser.add_argument("--crop", type=int, default=None, help="students, SR: HR centre crop of the decision images")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where the bundled cards and weights are (default: the checkout's assets/models)")
    parser.add_argument("--images", type=int, default=None, help="only the first N decision images (a quick check)")
    parser.add_argument("--write", action="store_true", help="install the chosen weights and record the selection")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def command_line(args: argparse.Namespace) -> str:
    parts = ["python -m uqcore select", args.target]
    if args.target == "students":
        parts += ["--models", args.models] + (["--crop", str(args.crop)] if args.crop else [])
    if args.target == "srresnet-mcdrop" or args.candidates != _default_candidates(args):
        parts += ["--candidates", str(args.candidates)]
    if args.images:
        parts += ["--images", str(args.images)]
    return " ".join(parts + (["--write"] if args.write else []))


def _default_candidates(args: argparse.Namespace) -> Path:
    return Path("runs/students") if args.target == "students" else Path("runs/sr")


def run(args: argparse.Namespace) -> int:
    import torch

    from uqcore.models.card import read_card
    from uqcore.models.registry import MODELS_DIR

    torch.set_num_threads(max(1, args.threads))
    args.candidates = args.candidates or _default_candidates(args)
    models = args.models_dir or MODELS_DIR
    if args.target == "students":
        return _students(args, models)
    card = read_card(models / f"{args.target}.json")
    if args.target == "srresnet-mcdrop":
        selection, source = _mcdrop(args, models)
    else:
        selection, source = _llm(args, models, card.measured.get("selection") or {})
    print(json.dumps(selection, indent=1))
    chosen = selection["chosen"]
    if chosen is None:
        print("no candidate meets the rule", file=sys.stderr)
        return 1
    if args.write:
        if source is None:
            if chosen != (card.measured.get("selection") or {}).get("chosen"):
                print(f"{chosen!r} wins on recorded numbers but its weights are not here", file=sys.stderr)
                return 1
        else:
            card = _install(card, source, models / f"{args.target}.safetensors")
        card.set_measured("selection", selection, command=selection["command"])
        card.save()
        print(f"wrote {card.path}; rerun python -m uqcore quality sr --models {args.target} --write for its eval",
              file=sys.stderr)
    return 0


def _mcdrop(args: argparse.Namespace, models: Path) -> tuple[dict[str, Any], Path | None]:
    from uqcore.paper import selection as S

    sel = S.mcdrop_selection(args.candidates, models / "srresnet.safetensors", command_line(args),
                             n_images=args.images, progress=lambda line: print(line, file=sys.stderr, flush=True))
    chosen = sel["chosen"]
    return sel, None if chosen is None else args.candidates / f"{chosen}.safetensors"


def _llm(args: argparse.Namespace, models: Path, before: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    from uqcore.paper import selection as S

    candidates = LLM_CANDIDATES[args.target]
    names, pairs = S.decision_pairs(args.images)
    reference = S.score_llm(S.load_candidate(models / "srresnet.safetensors"), pairs)["psnr"]
    rows = {k: S.score_llm(S.load_candidate(args.candidates / w, logvar=True), pairs)
            for k, (w, _) in candidates.items() if (args.candidates / w).exists()}
    recorded = {c["name"]: c for c in before.get("candidates", []) if c["name"] in candidates and c["name"] not in rows}
    if recorded and before.get("reference", {}).get("psnr") != reference:
        recorded = {}  # other decision numbers: not comparable
    pool = {**recorded, **rows}
    if args.target == "srresnet-llm":  # the jointly trained likelihood model: frozen-mean candidates do not count
        chosen = S.select_llm({k: v for k, v in pool.items() if k not in FROZEN_MEAN}, reference,
                              closest_if_none=True)
    else:
        chosen = S.select_llm(pool, reference)
    sel = {
        "command": command_line(args),
        "data": names, "data_note": S.DATA_NOTE,
        "metric": f"mean Gaussian NLL (uqcore.metrics.nll) among candidates whose mean PSNR (Y, 4-px border) is "
                  f"within {S.MARGIN_DB} dB of srresnet's on the same images",
        **({"rule": f"among the jointly trained candidates (all layers; not {', '.join(sorted(FROZEN_MEAN))}): "
                    f"within {S.MARGIN_DB} dB of srresnet's PSNR the lowest NLL; if none is within, the one with "
                    "the highest PSNR (the sharpest mean of them)",
            "within_margin": chosen is not None and pool[chosen]["psnr"] >= reference - S.MARGIN_DB}
           if args.target == "srresnet-llm" else {}),
        "reference": {"model": "srresnet", "psnr": reference},
        "candidates": [*[dict(c, recorded="by an earlier run of this command; weights not in this checkout")
                         for c in recorded.values()],
                       *[{"name": k, "weights": candidates[k][0], "how": candidates[k][1], **r,
                          "training": S.training_record(args.candidates / candidates[k][0])} for k, r in rows.items()]],
        "chosen": chosen,
    }
    source = args.candidates / candidates[chosen][0] if chosen in rows else None
    return sel, source


def _install(card: Any, source: Path, target: Path) -> Any:
    """Copy the chosen weights over the bundled ones; the card's config and provenance are then
    rebuilt from the weights' training metadata (:func:`uqcore.training.cards.sr_card`, the one
    writer of those sections), its measured entries kept. Returns the new card."""
    from uqcore.training.cards import sr_card

    if source.resolve() != target.resolve():
        target.unlink(missing_ok=True)  # replace the file (a link is not followed)
        shutil.copyfile(source, target)
    return sr_card(card.name, target.parent)


def _students(args: argparse.Namespace, models: Path) -> int:
    """Each model's student head among the bundled one and ``--candidates``' heads (module docstring)."""
    from uqcore.models.card import read_card
    from uqcore.paper.quality import HELDOUT_CROP, student_quality

    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        card = read_card(models / f"{model}.student.json")
        before = card.measured.get("selection") or {}
        heads = {"bundled": None, **{p.stem: p for p in sorted(args.candidates.glob(f"{model}-*.safetensors"))}}
        rows, data = {}, None
        for name, head in heads.items():
            q = student_quality(model, head=head, crop=args.crop or HELDOUT_CROP, limit=args.images)
            data = q["data"]
            rows[name] = {"head": str(head) if head else f"assets/models/{model}.student.safetensors",
                          "teacher_setting": q["teacher_setting"], "student": q["student"], "ratio": q["ratio"],
                          "bars": q["bars"]}
        recorded = [dict(c, recorded="by an earlier run; head not here") for c in before.get("candidates", [])
                    if c.get("name") not in rows and before.get("data") == data and "ratio" in c and "bars" in c]
        pool = {**{c["name"]: c for c in recorded}, **rows}
        chosen = max(pool, key=lambda k: (sum(bool(v) for v in pool[k]["bars"].values()), pool[k]["ratio"]["corr_pixel"]))
        sel = {"command": command_line(args), "data": data,
               "data_note": "uqcore.paper.heldout (decision images: neither training data nor assets/samples)",
               "metric": "student vs teacher by uqcore.evaluate (python -m uqcore quality students)",
               "rule": "the most quality bars met (corr_pixel ratio >= 1.0, corr_mean >= 0.9, AUSE ratio <= 1.05), then "
                       "the highest corr_pixel ratio",
               "candidates": [{"name": k, **v} for k, v in pool.items()], "chosen": chosen}
        print(model, json.dumps(sel, indent=1))
        if args.write:
            if chosen not in rows:
                print(f"{model}: {chosen!r} wins on recorded numbers but its head is not here", file=sys.stderr)
                return 1
            if heads[chosen] is not None:
                _install_head(card, heads[chosen], models / f"{model}.student.safetensors")
            card.set_measured("selection", sel, command=sel["command"])
            card.save()
    return 0


def _install_head(card: Any, head: Path, target: Path) -> None:
    """The chosen head and its card's config / provenance replace the bundled one's (ablations kept)."""
    from uqcore.models.card import read_card

    new = read_card(head.with_suffix(".json"))
    target.unlink(missing_ok=True)
    shutil.copyfile(head, target)
    card.config = {**new.config, "head": target.name}
    card.provenance = {**new.provenance, **({"ablations": card.provenance["ablations"]}
                                            if "ablations" in card.provenance else {})}
    card.measured.pop("quality", None)  # the earlier head's: rerun python -m uqcore quality students --write
