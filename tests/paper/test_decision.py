"""Decision data: the best column is chosen on the calibration + held-out images, never the test split."""

import numpy as np
import pytest

import uqcore.metrics as M
from uqcore.paper.decision import decision_values
from uqcore.paper.discussion import best, column_values


def test_decision_values_from_residuals():
    rng = np.random.default_rng(0)
    images = []
    for _ in range(4):
        res = rng.normal(0, 0.05, (3, 200))
        images.append((res, np.abs(res).mean(0) + rng.uniform(0, 0.02, 200)))
    out = decision_values(images)
    # the metrics take [H, W] maps: the same pixels as a 1 x N map
    expect = np.mean([M.pearson(np.abs(r).mean(0)[None], v[None]) for r, v in images])
    assert out["decision_corr_pixel"] == pytest.approx(expect) and out["n_decision"] == 4
    assert out["decision_ause_pixel"] == pytest.approx(np.mean([M.ause(np.abs(r).mean(0)[None], v[None]) for r, v in images]))
    me = np.array([np.abs(r).mean() for r, _ in images])
    mv = np.array([v.mean() for _, v in images])
    assert out["decision_corr_mean"] == pytest.approx(M.pearson(me, mv, level="mean"))


def _row(method, samples, test_corr, decision_corr):
    return {"method": method, "samples": samples, "level": "pixel", "corr": test_corr, "ause": 0.1,
            "decision_corr_pixel": decision_corr, "decision_ause_pixel": 0.1}


def test_best_column_is_chosen_on_decision_data_and_reported_on_test():
    cols = column_values([_row("noise", 8, 0.50, 0.30), _row("noise", 32, 0.40, 0.35)])
    value, col = best(cols, ("noise",), "Corr pixel")
    assert col == ("noise", 32) and value == pytest.approx(0.40)  # not the test split's 0.50
    # patch / block choices use the pixel-level decision value; no decision value: not chosen
    cols = column_values([dict(_row("noise", 8, 0.5, float("nan")), level="patch")])
    assert best(cols, ("noise",), "Corr patch") == (pytest.approx(float("nan"), nan_ok=True), None)
    # the paper's tables carry no decision values: their own numbers choose
    paper = {("noise", 8): {"Corr pixel": 0.2}, ("noise", 32): {"Corr pixel": 0.3}}
    assert best(paper, ("noise",), "Corr pixel") == (0.3, ("noise", 32))
