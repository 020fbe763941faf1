"""disagreements.csv: from a toy per-image table with planted cells inside and outside the
paper's value, and the landed docs' file against the landed tables."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from uqcore.paper import disagreement_rows as D
from uqcore.paper.values import PAPER_TABLES, paper_column

ROOT = Path(__file__).resolve().parents[2]
PAPER = PAPER_TABLES["srresnet"][("transform", 4)]


def _toy(n=30):
    """Per-image rows of srresnet's Infer-trans (4) column: corr_pixel / ause_pixel / nll planted at
    the paper's value (inside), corr_patch far above and ause_patch far below it (outside)."""
    rng = np.random.default_rng(7)
    spread = rng.permutation(np.linspace(-1.0, 1.0, n))  # mean exactly 0: the paper's value is the estimate
    rows = []
    for i in range(n):
        me = 0.01 + 0.001 * i
        rows.append({"table": "srresnet", "model": "srresnet", "method": "transform", "samples": "4",
                     "index": str(i), "image": f"im{i}",
                     "corr_pixel": PAPER["Corr pixel"] + 0.02 * spread[i],
                     "corr_patch": 0.95 + rng.normal(0, 0.01),
                     "corr_block": "",  # no block level in this toy: no interval, never a row
                     "ause_pixel": PAPER["AUSE pixel"] + 0.01 * spread[i],
                     "ause_patch": 0.005 + rng.normal(0, 0.001),
                     "ause_block": "",
                     "nll": PAPER["NLL"] + spread[i],
                     "mean_error": me, "mean_variance": me * (1 + rng.normal(0, 0.02))})
    # a column the paper does not have: never a row
    rows += [dict(r, method="student", samples="1") for r in rows]
    return rows


def test_planted_cells_inside_and_outside():
    cells = {(c["metric"], c["level"]): c for c in D.cells(_toy())}
    assert {c for c in cells} >= {("corr", "pixel"), ("ause_raw", "pixel"), ("nll", "all")}
    assert not cells[("corr", "pixel")]["outside"] and not cells[("ause", "pixel")]["outside"]
    assert not cells[("nll", "all")]["outside"]
    assert cells[("corr", "patch")]["outside"] and cells[("ause", "patch")]["outside"]
    assert cells[("corr", "mean")]["outside"]  # mean variance tracks mean error: ~1 vs the paper's 0.340
    assert not cells[("corr", "block")]["outside"] and math.isnan(cells[("corr", "block")]["lo"])
    # the unnormalised AUSE was filled from the normalised one times each image's mean error
    raw = cells[("ause_raw", "pixel")]["ours"]
    assert raw == pytest.approx(np.mean([float(r["ause_pixel"]) * r["mean_error"] for r in _toy()[:30]]))
    rows = D.disagreements(_toy())
    assert rows and all(set(r) == set(D.FIELDS) for r in rows)
    assert all(not r["lo"] <= r["paper"] <= r["hi"] for r in rows)
    assert {(r["metric"], r["level"]) for r in rows} == {k for k, c in cells.items() if c["outside"]}
    assert all(r["method"] == "transform" for r in rows)


def test_joint_likelihood_column_is_compared_with_the_papers_llm():
    """Our two likelihood columns (LLM: the stop-gradient head; LLM joint) both stand for the
    paper's one LLM column: a planted joint-LLM column is scored against the paper's LLM values."""
    llm = PAPER_TABLES["srresnet"][("llm", 1)]
    assert paper_column("srresnet", "llm_joint", 1) == llm and paper_column("srresnet", "student", 1) is None
    rows = [dict(r, method="llm_joint", samples="1", model="srresnet-llm",
                 corr_pixel=llm["Corr pixel"] + (float(r["corr_pixel"]) - PAPER["Corr pixel"]))
            for r in _toy() if r["method"] == "transform"]
    cells = {(c["metric"], c["level"]): c for c in D.cells(rows)}
    assert cells[("corr", "pixel")]["paper"] == llm["Corr pixel"] and not cells[("corr", "pixel")]["outside"]
    assert cells[("corr", "patch")]["paper"] == llm["Corr patch"] and cells[("corr", "patch")]["outside"]
    assert {r["method"] for r in D.disagreements(rows)} == {"llm_joint"}


def test_written_from_a_per_image_csv(tmp_path):
    path = tmp_path / "results_per_image.csv"
    toy = _toy()
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(toy[0]))
        w.writeheader()
        w.writerows(toy)
    assert D.main([str(path)]) == 0
    written = list(csv.DictReader((tmp_path / D.FILE_NAME).open()))
    expect = D.disagreements(toy)
    assert [(r["metric"], r["level"]) for r in written] == [(r["metric"], r["level"]) for r in expect]
    assert [float(r["lo"]) for r in written] == pytest.approx([r["lo"] for r in expect], rel=1e-5)


def _num(v):
    return float(v) if v not in ("", None) else float("nan")


@pytest.mark.skipif(not (ROOT / "docs" / D.FILE_NAME).exists(), reason="no landed disagreements.csv")
def test_landed_file_covers_every_corr_and_ause_cell_outside_its_interval():
    rows = list(csv.DictReader((ROOT / "docs" / D.FILE_NAME).open()))
    assert rows and all(not _num(r["lo"]) <= _num(r["paper"]) <= _num(r["hi"]) for r in rows)
    listed = {(r["table"], r["model"], r["method"], int(r["samples"]), r["metric"], r["level"]): r for r in rows}
    need = 0
    for r in csv.DictReader((ROOT / "docs" / "results_rows.csv").open()):
        paper = paper_column(r["table"], r["method"], int(r["samples"]))
        if paper is None:
            continue
        for metric, label in (("corr", "Corr"), ("ause", "AUSE")):
            lo, hi, p = _num(r[f"{metric}_lo"]), _num(r[f"{metric}_hi"]), paper[f"{label} {r['level']}"]
            if math.isfinite(lo) and not lo <= p <= hi:
                need += 1
                key = (r["table"], r["model"], r["method"], int(r["samples"]), metric, r["level"])
                assert key in listed, key
                assert _num(listed[key]["lo"]) == pytest.approx(lo, abs=1e-5)  # the table's own interval
                assert _num(listed[key]["ours"]) == pytest.approx(_num(r[metric]), abs=1e-5)
    assert need > 0
