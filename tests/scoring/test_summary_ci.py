"""uqcore.scoring.summary_ci: intervals of a dataset summary from its per-image rows; evaluate --ci."""

import csv
import math

import numpy as np
import pytest

from tests.support import png_folder, write_tiny_card
from uqcore import metrics as M
from uqcore.scoring import stats
from uqcore.scoring import summary_ci


def toy_images(n=12, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        me = rng.uniform(0.01, 0.1)
        row = {"method": "noise", "samples": 8, "image": f"im{i}", "nll": rng.normal(2, 0.3),
               "mean_error": me, "mean_variance": me * rng.uniform(0.5, 1.5)}
        for lv in ("pixel", "patch", "block"):
            row[f"corr_{lv}"], row[f"ause_{lv}"] = rng.uniform(0.2, 0.6), rng.uniform(0.05, 0.2)
        out.append(row)
    return out


def test_intervals_bracket_the_summary_values_and_use_the_summary_definitions():
    imgs = toy_images()
    me = np.array([r["mean_error"] for r in imgs])
    mv = np.array([r["mean_variance"] for r in imgs])
    corr = summary_ci.interval(imgs, "corr", "mean", n_resamples=400)
    assert corr.estimate == pytest.approx(M.pearson(me, mv, level="mean"))
    assert corr.lo <= corr.estimate <= corr.hi
    ause = summary_ci.interval(imgs, "ause", "mean", n_resamples=100)
    assert ause.estimate == pytest.approx(M.sparsification(me, mv, level="mean").ause)
    # the pixel level: a mean over images, its interval the plain bootstrap of those values
    pix = summary_ci.interval(imgs, "corr", "pixel", n_resamples=400, seed=1)
    ref = stats.bootstrap([np.array([r["corr_pixel"] for r in imgs])], n_resamples=400, seed=1)
    assert (pix.estimate, pix.lo, pix.hi) == pytest.approx((ref.estimate, ref.lo, ref.hi))
    nll = summary_ci.interval(imgs, "nll")
    assert nll.estimate == pytest.approx(np.mean([r["nll"] for r in imgs]))


def test_mean_level_is_flagged_below_its_minimum_n():
    assert summary_ci.level_note("mean", 4) and "4 here" in summary_ci.level_note("mean", 4)
    assert summary_ci.level_note("mean", summary_ci.MIN_IMAGES["mean"]) is None
    assert summary_ci.level_note("pixel", 1) is None
    row = {"method": "noise", "samples": 8, "level": "mean", "corr": -0.25}
    few = summary_ci.add_intervals([row], toy_images(4))[0]
    assert few["level_note"] and math.isnan(few["corr_lo"])
    assert summary_ci.cell(few, "corr").startswith("n/a: needs ≥ 10 images")
    many = summary_ci.add_intervals([dict(row, level="pixel", corr=0.4)], toy_images(12))[0]
    assert many["level_note"] == "" and many["corr_lo"] < many["corr_hi"]
    assert summary_ci.cell(many, "corr").startswith("0.400 [")


def test_paired_difference_of_two_columns():
    a = toy_images(20, seed=1)
    b = [dict(r, corr_pixel=r["corr_pixel"] - 0.1) for r in a]
    d = summary_ci.difference(a, b, "corr", "pixel", n_resamples=500)
    assert d.estimate == pytest.approx(0.1) and not d.contains(0)
    same = summary_ci.difference(a, a, "corr", "mean", n_resamples=500)
    assert same.estimate == pytest.approx(0.0) and same.contains(0)


def test_cli_evaluate_ci(tmp_path, capsys):
    from uqcore.cli import main

    data = png_folder(tmp_path / "hr", 4)
    card = write_tiny_card(tmp_path)
    out = tmp_path / "res.csv"
    assert main(["evaluate", "--model", str(card), "--data", str(data), "--methods", "noise", "--samples", "2",
                 "--layer", "body.1", "--strength", "0.03", "--ci", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "95% bootstrap intervals" in printed and "n/a: needs ≥ 10 images" in printed
    rows = list(csv.DictReader(out.open()))
    pixel = [r for r in rows if r["level"] == "pixel"][0]
    assert float(pixel["corr_lo"]) <= float(pixel["corr"]) <= float(pixel["corr_hi"])
    assert pixel["n_ci"] == "4" and [r for r in rows if r["level"] == "mean"][0]["level_note"]


def test_metric_bars_show_intervals_and_no_bar_for_a_meaningless_level():
    import pandas as pd

    from uqcore import plots

    rows = [{"method": "noise", "samples": 8, "level": "mean", "corr": -0.25},
            {"method": "noise", "samples": 8, "level": "pixel", "corr": 0.4}]
    frame = pd.DataFrame(summary_ci.add_intervals(rows, toy_images(4), n_resamples=200))
    fig = plots.metric_bars(frame, "corr")
    mean, pixel = fig.data
    assert np.isnan(np.asarray(mean.y, dtype=float)).all()
    assert pixel.y[0] == pytest.approx(0.4) and pixel.error_y.array[0] > 0
