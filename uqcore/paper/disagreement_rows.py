"""``disagreements.csv``: every table cell whose 95 % bootstrap interval excludes the paper's value.

One row per cell (table, model, column, metric, level) with columns :data:`FIELDS`: ``table``
(ours), ``model`` (the model that produced the column), ``method`` and ``samples`` (the column),
``metric`` (``corr``; ``ause``, the normalised AUSE; ``ause_raw``, the same curves in the error's
units; ``nll``, level ``all``), ``level``, the paper's value, ours and our interval ``lo`` / ``hi``.

Computed from the per-image rows (``results_per_image.csv``, the single source of every table
number) with the tables' own interval (:func:`uqcore.scoring.summary_ci.interval`: same fields,
same statistic, same seeded resamples), so a row's ``ours`` / ``lo`` / ``hi`` are the table's cell.
Per-image rows written before the unnormalised AUSE existed lack ``ause_raw_<level>``; it is
filled from the normalised AUSE and the image's mean error (:func:`uqcore.metrics.ause_in_error_units`:
the two conventions differ by exactly that factor).

    python -m uqcore.paper.disagreement_rows docs/results_per_image.csv   # -> docs/disagreements.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from uqcore import metrics as M
from uqcore.paper.values import paper_column
from uqcore.scoring import summary_ci
from uqcore.scoring.scorer import IMAGE_LEVELS, LEVELS

FIELDS = ("table", "model", "method", "samples", "metric", "level", "paper", "ours", "lo", "hi")
DISAGREEMENT_METRICS = ("corr", "ause", "ause_raw", "nll")
FILE_NAME = "disagreements.csv"
PAPER_ROW = {"corr": "Corr {level}", "ause": "AUSE {level}", "ause_raw": "AUSE {level}", "nll": "NLL"}
NLL_LEVEL = "all"


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def with_raw_ause(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``ause_raw_<level>`` filled where missing (module docstring)."""
    out = []
    for r in rows:
        r = dict(r)
        for lv in IMAGE_LEVELS:
            key = f"ause_raw_{lv}"
            if not math.isfinite(_number(r.get(key))):
                r[key] = float(M.ause_in_error_units(_number(r.get(f"ause_{lv}")), _number(r.get("mean_error"))))
        out.append(r)
    return out


def _numeric(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """CSV rows (strings, "" for none) with the interval fields as floats."""
    fields = summary_ci.IMAGE_FIELDS
    return [{**r, **{k: _number(r.get(k)) for k in fields if k in r}} for r in rows]


def columns(per_image: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str, int], list[dict[str, Any]]]:
    """{(table, model, method, samples): its per-image rows in test-split order}."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for r in per_image:
        groups.setdefault((str(r["table"]), str(r["model"]), str(r["method"]), int(r["samples"])), []).append(r)
    return {k: sorted(v, key=lambda r: int(r["index"])) for k, v in groups.items()}


def cells(per_image: Iterable[dict[str, Any]], *, steps: int = 50) -> list[dict[str, Any]]:
    """Every cell of a column the paper also has: :data:`FIELDS` plus ``outside`` (the paper's
    value outside [lo, hi]; False where there is no interval)."""
    rows = with_raw_ause(_numeric(per_image))
    out = []
    for (table, model, method, n), images in columns(rows).items():
        paper = paper_column(table, method, n)
        if paper is None:
            continue
        for metric in DISAGREEMENT_METRICS:
            for lv in (LEVELS if metric != "nll" else (NLL_LEVEL,)):
                iv = summary_ci.interval(images, metric, lv if metric != "nll" else "pixel", steps=steps)
                p = paper[PAPER_ROW[metric].format(level=lv)]
                bounded = math.isfinite(iv.lo) and math.isfinite(iv.hi)
                out.append({"table": table, "model": model, "method": method, "samples": n, "metric": metric,
                            "level": lv, "paper": p, "ours": iv.estimate, "lo": iv.lo, "hi": iv.hi,
                            "outside": bounded and not iv.lo <= p <= iv.hi})
    return out


def disagreements(per_image: Iterable[dict[str, Any]], *, steps: int = 50) -> list[dict[str, Any]]:
    """The rows of ``disagreements.csv``: the cells whose interval excludes the paper's value."""
    return [{k: c[k] for k in FIELDS} for c in cells(per_image, steps=steps) if c["outside"]]


def write(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]) for k in FIELDS})
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with Path(path).open(newline="") as fh:
        return list(csv.DictReader(fh))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="write disagreements.csv from a results_per_image.csv")
    ap.add_argument("per_image", type=Path, help="results_per_image.csv of a reproduce run")
    ap.add_argument("--out", type=Path, default=None, help=f"default: {FILE_NAME} beside the input")
    args = ap.parse_args(argv)
    all_cells = cells(read_csv(args.per_image))
    rows = [{k: c[k] for k in FIELDS} for c in all_cells if c["outside"]]
    out = write(rows, args.out or args.per_image.with_name(FILE_NAME))
    print(f"{len(rows)} cells outside their interval -> {out}")
    from uqcore.paper.disagreements import convention_lines, count_table  # the Discussion's own summary

    print("\n".join(["", *count_table(all_cells), "", *convention_lines(all_cells)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
