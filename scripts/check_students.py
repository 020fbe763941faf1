"""Quality bars of the bundled student heads (issue 16), on the bundled evaluation samples.

    .venv/bin/python scripts/check_students.py [--models srresnet,srgan,fcrn] [--write]
    .venv/bin/python scripts/check_students.py --models srgan --data heldout --head HEAD

For each bundled model with a bundled head (``assets/models/<name>.student.safetensors``) it
scores the head's teacher at 8 samples and the student on ``assets/samples/sr`` or
``assets/samples/depth`` (never used in training) with ``uqcore.evaluate`` -- the one scorer -- and
prints, per model, the pixel-level correlation with the error, the image-level (mean) correlation
and the pixel-level AUSE of both, their ratios, and whether the bars hold:
student pixel corr >= 1.0x teacher's, mean corr >= 0.9x, pixel AUSE <= 1.05x.
``--write`` stores the numbers in each head's card under ``quality`` and puts the report's
"One-pass student" section (``uqcore.paper.student``, the section ``reproduce`` writes from those
cards) into docs/RESULTS.md, replacing the one there.
``--data heldout`` scores on a validation set that is neither training data nor the evaluation
samples, for choosing among heads without looking at the evaluation samples: the held-out images of
``uqcore.paper.heldout`` (SR: the scikit-image images of ``SR_HELDOUT``, centre-cropped to
``HELDOUT_CROP`` like the bundled samples' largest side; depth: ``HELDOUT_SCENES`` rendered scenes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore  # noqa: E402
from uqcore.datasets.folders import load_pairs, make_lr  # noqa: E402
from uqcore.models.registry import MODELS_DIR  # noqa: E402
from uqcore.paper.heldout import SR_HELDOUT, depth_heldout, sr_heldout  # noqa: E402
from uqcore.datasets.folders import centre_crop  # noqa: E402
from uqcore.paper.student import markdown_lines  # noqa: E402
from uqcore.models.student_files import card_path  # noqa: E402

SAMPLES = {"sr": ROOT / "assets/samples/sr", "depth": ROOT / "assets/samples/depth"}
BARS = {"corr_pixel": (">=", 1.0), "corr_mean": (">=", 0.9), "ause_pixel": ("<=", 1.05)}
COMMAND = "python scripts/check_students.py --write"
ALL = "srresnet,srgan,fcrn"
HELDOUT_CROP = 384   # the bundled SR samples' largest side
HELDOUT_SCENES = 12  # as many as the bundled depth set


def heldout_pairs(model, crop: int = HELDOUT_CROP) -> tuple[list[str], list]:
    """The validation set of ``--data heldout`` for ``model``'s task: (names, [(input, target)])."""
    if model.task == "sr":
        names, images = sr_heldout(len(SR_HELDOUT))
        return names, [(lr, hr[0]) for lr, hr in (make_lr(centre_crop(img, crop), model.scale)
                                                  for img in images)]
    return depth_heldout(HELDOUT_SCENES, model)


def measure(name: str, seed: int = 0, head: str | None = None, data: str = "samples",
            crop: int = HELDOUT_CROP, images: tuple[str, ...] = ()) -> dict:
    model = uqcore.load_model(name, student=head)
    if model.student is None:
        raise SystemExit(f"{name} has no bundled student head")
    teacher = model.student_card["teacher"]
    names, pairs = load_pairs(SAMPLES[model.task], model) if data == "samples" else heldout_pairs(model, crop)
    if images:  # a subset of the samples, for a model too heavy for the CPU time at hand
        missing = set(images) - set(names)
        if missing:
            raise SystemExit(f"--images: not among the samples: {sorted(missing)}")
        pairs = [pair for n, pair in zip(names, pairs) if n in images]
    rows = uqcore.evaluate(model, pairs, methods=[teacher["method"], "student"], samples=[8],
                           layer=teacher["layer"], strength=teacher["strength"], seed=seed)
    value = {(r["method"], r["level"]): r for r in rows}
    where = str(SAMPLES[model.task].relative_to(ROOT)) if data == "samples" else "uqcore.paper.heldout"
    out = {"data": where, "images": len(pairs), **({"image_names": list(images)} if images else {}), "command": COMMAND,
           "teacher_setting": f"{teacher['method']} (8 samples)" + (f" at {teacher['layer']}, {teacher['strength']}"
                                                            if teacher["layer"] else "")}
    for who in (teacher["method"], "student"):
        key = "teacher" if who != "student" else "student"
        out[key] = {"corr_pixel": value[(who, "pixel")]["corr"], "corr_mean": value[(who, "mean")]["corr"],
                    "ause_pixel": value[(who, "pixel")]["ause"],
                    "seconds_per_image": value[(who, "pixel")]["seconds_per_image"]}
    out["ratio"] = {k: out["student"][k] / out["teacher"][k] for k in BARS}
    out["bars"] = {k: (out["ratio"][k] >= b if op == ">=" else out["ratio"][k] <= b) for k, (op, b) in BARS.items()}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=ALL)
    parser.add_argument("--write", action="store_true", help="store the numbers in each head's card")
    parser.add_argument("--head", default=None, help="score this head (.safetensors) instead of the bundled one "
                        "(one model in --models; not with --write): the ablations of docs/RESULTS.md")
    parser.add_argument("--data", choices=("samples", "heldout"), default="samples",
                        help="samples: the bundled evaluation samples; heldout: the validation set (not with --write)")
    parser.add_argument("--crop", type=int, default=HELDOUT_CROP,
                        help=f"--data heldout, SR: centre crop side in HR pixels (default {HELDOUT_CROP}; smaller "
                             "for a model too heavy for the CPU time at hand, e.g. esrgan-thick: 128)")
    parser.add_argument("--images", default="", help="--data samples: comma-separated sample names to score "
                        "instead of all (not with --write), e.g. for esrgan-thick on a CPU")
    args = parser.parse_args()
    images = tuple(n for n in args.images.split(",") if n)
    if images and args.write:
        parser.error("--images scores a subset; --write stores the whole set's numbers")
    if args.head and (args.write or "," in args.models):
        parser.error("--head scores one model's head and writes nothing")
    if args.write and args.data != "samples":
        parser.error("--write stores the evaluation samples' numbers only")
    print(f"{'model':10s} {'':8s} {'corr px':>8s} {'corr mean':>9s} {'AUSE px':>8s} {'s/img':>7s}")
    ok = True
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        q = measure(name, head=args.head, data=args.data, crop=args.crop, images=images)
        for who in ("teacher", "student"):
            v = q[who]
            print(f"{name:10s} {who:8s} {v['corr_pixel']:8.4f} {v['corr_mean']:9.4f} {v['ause_pixel']:8.4f} "
                  f"{v['seconds_per_image']:7.4f}")
        r = q["ratio"]
        marks = {k: "ok" if q["bars"][k] else "MISSED" for k in BARS}
        print(f"{name:10s} {'ratio':8s} {r['corr_pixel']:8.3f} {r['corr_mean']:9.3f} {r['ause_pixel']:8.3f}   "
              f"bars: corr px >= 1.0 {marks['corr_pixel']}, corr mean >= 0.9 {marks['corr_mean']}, "
              f"AUSE px <= 1.05 {marks['ause_pixel']}   (teacher: {q['teacher_setting']})")
        ok &= all(q["bars"].values())
        if args.write:
            path = card_path(MODELS_DIR / f"{name}.student.safetensors")
            card = json.loads(path.read_text())
            card["quality"] = q
            path.write_text(json.dumps(card, indent=1) + "\n")
    if args.write:  # every bundled head's stored numbers, not only the models re-scored now
        write_results_section(ALL.split(","))
    return 0 if ok else 1


def write_results_section(models: list[str], path: Path = ROOT / "docs" / "RESULTS.md") -> None:
    """Replace (or insert before the discussion) the "One-pass student" section of RESULTS.md."""
    text = path.read_text()
    head = "## One-pass student (issue 16)"
    section = "\n".join(markdown_lines(models))
    if head in text:
        start = text.index(head)
        end = text.index("\n## ", start + len(head)) + 1
        text = text[:start] + section + "\n" + text[end:]
    else:
        at = text.index("## Discussion")
        text = text[:at] + section + "\n" + text[at:]
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
