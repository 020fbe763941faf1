"""``python -m uqcore triage``: rank a folder of images by uncertainty, without ground truth
(:mod:`uqcore.datasets.triage`).

Writes to ``--out``: ``triage.csv`` (one row per image, appended and flushed as each finishes;
rewritten in name order at the end; skipped files with their reason), ``maps/<rank>_<name>/`` for
the ``--top-k`` most uncertain images, ``report.html`` (self-contained, a sortable gallery),
``summary.json``; with ``--refine K`` also ``refined.csv`` (the teacher's rows of the top K). The
runs are kept in ``--out/run/`` and ``--out/refine_run/``: ``--resume`` continues an interrupted
run, and Ctrl-C keeps every finished row.
"""

from __future__ import annotations

import sys
from pathlib import Path

from uqcore.progress import ProgressBar
from uqcore.commands.options import add_cli_options, add_device_option, add_tile_option, cli_workers


def configure_parser(p) -> None:
    p.add_argument("--model", required=True, help="bundled model name or a model path/spec")
    p.add_argument("--images", required=True, help="the folder of images to rank (model inputs: LR for SR)")
    p.add_argument("--hr", help="ground truth, matched by name (HR images for SR, depth maps for depth): adds the "
                   "mean error per image, the image-level sparsification curve, its AUSE and Spearman")
    p.add_argument("--method", help="how to rank (default: student when the model has a head, else the card's "
                   "recommended method): student, transform, noise, dropout, ...")
    p.add_argument("--layer", help="injection point for noise / dropout (default: the recommended or default layer)")
    p.add_argument("--strength", type=float)
    p.add_argument("--samples", help='a count or "auto" (default: the recommended count, else 8)')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--student", metavar="HEAD", help="your own student head (.safetensors, from distill)")
    p.add_argument("--refine", type=int, default=0, metavar="K",
                   help="re-score the K most uncertain images with the training-free teacher and report how well "
                        "the two rankings agree there (Spearman)")
    p.add_argument("--teacher", help="the refining method (default: the one the student head was distilled from, "
                   "else the card's recommended one; 'recommended': the card's recommended setting)")
    p.add_argument("--top-k", type=int, default=10, metavar="K", help="write the maps of the K most uncertain images")
    p.add_argument("--threshold", type=float, default=None,
                   help="variance above which a pixel counts in share_above (default (2/255)²: a std of 2 grey levels)")
    add_tile_option(p)
    add_device_option(p)
    add_cli_options(p, resume=False)
    p.add_argument("--resume", action="store_true",
                   help="continue the run kept in --out (run/, refine_run/): finished images are not computed again")
    p.add_argument("--out", required=True, help="report folder")


def run(args) -> int:
    import uqcore

    from uqcore.datasets import triage as T
    from uqcore.distributed import Store

    model = uqcore.load_model(args.model, student=args.student)
    samples = None if args.samples is None else args.samples if args.samples == "auto" else int(args.samples)
    setting = T.ranking_setting(model, args.method, args.layer, args.strength, samples, args.seed)
    teacher = T.teacher_setting(model, args.teacher, args.seed) if args.refine else None
    items = T.folder_items(args.images, args.hr)
    workers, ray_address = cli_workers(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run_options = dict(threshold=args.threshold or T.DEFAULT_THRESHOLD, resume=args.resume, workers=workers,
                       ray_address=ray_address, device=args.device, tile=args.tile)
    print(f"ranking {len(items)} files of {args.images} with {setting.text()}", file=sys.stderr)
    try:
        with ProgressBar(len(items), "triage", unit="image") as bar:
            ranking = T.rank_images(model, items, setting, store=Store(out / "run", out / "triage.csv"),
                                    progress=bar, **run_options)
        refinement = None
        if args.refine:
            k = min(args.refine, len(ranking.rows))
            with ProgressBar(k, f"refine ({teacher.method})", unit="image") as bar:
                refinement = T.refine(model, items, ranking, teacher, k, progress=bar,
                                      store=Store(out / "refine_run", out / "refined.csv"), **run_options)
    except KeyboardInterrupt:
        print(f"\ninterrupted: every finished row is in {out / 'triage.csv'}; rerun with --resume to continue",
              file=sys.stderr)
        return 130
    _report(model, args, out, items, ranking, refinement, teacher)
    return 0


def _report(model, args, out: Path, items, ranking, refinement, teacher) -> None:
    from uqcore.datasets import triage as T
    from uqcore.datasets import triage_report as R

    order = T.final_order(ranking, refinement)
    truth = T.truth_summary(ranking.rows)
    numbers = R.summary(ranking, order, refinement, truth, teacher)
    refined = {r["name"] for r in refinement.ranking.rows} if refinement else set()
    top = order[:max(args.top_k, 0)]
    settings = {r["name"]: teacher if r["name"] in refined else ranking.setting for r in top}
    R.write_top_maps(model, items, top, settings, out / "maps", args.device, args.tile)
    R.write_summary(out / "summary.json", numbers)
    options = {"model": args.model, "images": args.images, "ground truth": args.hr or "none",
               "ranked by": ranking.setting.text(), "teacher": teacher.text() if teacher else "none"}
    (out / "report.html").write_text(R.report_html(numbers, order, truth, refinement, options), encoding="utf-8")
    _print(out, numbers, order)


def _print(out: Path, numbers: dict, order: list) -> None:
    print(f"{numbers['ranked']} images ranked, {len(numbers['skipped'])} skipped")
    for s in numbers["skipped"]:
        print(f"  skipped {s['name']}: {s['reason']}")
    print("most uncertain first: " + ", ".join(r["name"] for r in order[:10]) + (" ..." if len(order) > 10 else ""))
    if "refine" in numbers:
        ref = numbers["refine"]
        print(f"refined the top {ref['images']} with {ref['teacher']}: Spearman(student, teacher) "
              f"{ref['spearman']['text']}; teacher {ref['speedup']:.1f}x the student's time")
    if "truth" in numbers:
        t = numbers["truth"]
        print(f"image-level AUSE {t['ause']:.4f}; Spearman(image uncertainty, image error) {t['spearman']['text']}")
        print(t["sentence"][0].upper() + t["sentence"][1:] + ".")
    print(f"wrote {out / 'triage.csv'}, {out / 'report.html'}, {out / 'summary.json'}, {out / 'maps'}")
