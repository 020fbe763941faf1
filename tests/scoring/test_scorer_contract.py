"""The Scorer's contract: declared state, update / compute / reset, a typed summary whose row
columns keep the tables' order, and a clear error on zero images."""

from __future__ import annotations

import math

import pytest

import uqcore
from uqcore.errors import InputError
from uqcore.scoring.results import DatasetSummary, LevelSummary
from uqcore.scoring.scorer import LEVELS, Scorer

from tests.support import sr_pairs
from tests.tiny_models import make_tiny_sr


def test_compute_on_no_images_is_an_input_error():
    with pytest.raises(InputError, match="no scored images"):
        Scorer(make_tiny_sr()).compute()


def test_compute_is_typed_and_reset_empties_the_state():
    model = make_tiny_sr()
    scorer = Scorer(model, fit_images=[0], test_images=[1, 2])
    assert scorer.scores == [] and scorer.scale_fit == [] and scorer.calibration is None
    for lr, hr in sr_pairs(3):
        est = uqcore.estimate(model, lr, method="transform", samples=4)
        scorer.update(est.prediction, est.variance, hr, drawn=est.samples)
    summary = scorer.compute()
    assert isinstance(summary, DatasetSummary) and set(summary.levels) == set(LEVELS)
    assert all(isinstance(s, LevelSummary) for s in summary.levels.values())
    assert summary.intervals is None and math.isfinite(summary.nll) and summary.samples_drawn == 4
    common = list(summary.common())
    assert common[:9] == ["nll", "variance_scale", "nll_heldout", "calibration_error", "ence_heldout", "nll_scaled",
                          "calibration_error_scaled", "ence_scaled", "ence"]
    assert common[-3:] == ["aligned", "seconds_per_image", "samples_drawn"] and "psnr" in common
    assert list(summary.level("pixel")) == ["ause", "ause_raw", "aurg", "corr", "spearman"]
    scorer.reset()
    assert scorer.scores == [] and scorer.fit_images == [0]
    with pytest.raises(InputError):
        scorer.compute()
