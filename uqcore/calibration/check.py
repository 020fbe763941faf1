"""Fit a calibration on part of an image set and check it on the rest (what the dashboard's
Compare page shows in its calibrated-error-bars tab).

:func:`fit_and_check` fits :func:`uqcore.calibrate` on the first ``fit_count`` (input, target)
pairs and scores the others with it: per image the columns of ``evaluate --calibration``
(:data:`uqcore.scoring.scorer.INTERVAL_COLUMNS`: coverage = fraction of valid values inside the
interval, interval_width = mean width in output units, ence = ENCE of the raw variance + eps,
ence_calibrated = ENCE of the calibrated variance), and the reliability diagram data (raw and
calibrated, :meth:`uqcore.calibration.kinds.Calibration.reliability`) over the pooled pixels of the
checked images. When every pair is used for fitting there is nothing held out, and the check
runs on the fitting images themselves (``checked_on == "in-sample"``: coverage there is not
evidence of the guarantee, which is about new images).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uqcore.calibration.intervals import DEFAULT_KIND, DEFAULT_LEVEL, Calibration, calibrate
from uqcore.errors import InputError
from uqcore.metrics import Reliability
from uqcore.engine.model import as_model
from uqcore.engine.estimate import estimate
from uqcore.progress import Progress

HELD_OUT, IN_SAMPLE = "held-out", "in-sample"


@dataclass
class CalibrationCheck:
    """A fitted calibration and how it did: ``rows`` one dict per checked image (image, coverage,
    interval_width, ence, ence_calibrated); ``raw`` / ``calibrated`` the reliability diagram
    data over their pooled valid pixels; ``checked_on`` :data:`HELD_OUT` or :data:`IN_SAMPLE`."""

    calibration: Calibration
    rows: list[dict[str, Any]]
    raw: Reliability
    calibrated: Reliability
    checked_on: str

    def mean(self, column: str) -> float:
        """The mean of ``column`` over the checked images (images weigh equally)."""
        return float(np.mean([r[column] for r in self.rows]))


def fit_and_check(model: Any, pairs: Sequence[tuple[Any, Any]], names: Sequence[str], fit_count: int, *,
                  method: str, layer: str | None = None, strength: float | None = None, samples: Any = 8,
                  seed: int = 0, level: float = DEFAULT_LEVEL, kind: str = DEFAULT_KIND, device: Any = None,
                  progress: Progress | None = None) -> CalibrationCheck:
    """Fit ``kind`` at ``level`` for (method, layer, strength, samples, seed) on the first
    ``fit_count`` pairs and check it on the others (or, if none are left, on the same ones).
    ``progress(done, total)`` counts images: fitting, then checking."""
    model = as_model(model)
    pairs, names = list(pairs), [str(n) for n in names]
    if len(names) != len(pairs):
        raise InputError(f"got {len(names)} names for {len(pairs)} pairs")
    if not 1 <= int(fit_count) <= len(pairs):
        raise InputError(f"fit on between 1 and {len(pairs)} images (all there are); got {fit_count}")
    fit_count = int(fit_count)
    held_out = len(pairs) > fit_count
    check = range(fit_count, len(pairs)) if held_out else range(fit_count)
    total = fit_count + len(check)

    def fitted(done: int, _: int) -> None:
        if progress is not None:
            progress(done, total)

    cal = calibrate(model, pairs[:fit_count], method=method, layer=layer, strength=strength, samples=samples,
                    seed=seed, level=level, kind=kind, names=names[:fit_count], device=device, progress=fitted)
    s = cal.setting
    estimates, targets, rows = [], [], []
    for done, i in enumerate(check, start=fit_count + 1):
        x, target = pairs[i]
        est = estimate(model, x, method=s["engine"], layer=s["layer"], strength=s["strength"], samples=samples,
                       seed=seed, device=device)
        rows.append({"image": names[i], **cal.score(model, est, target)})
        estimates.append(est)
        targets.append(target)
        if progress is not None:
            progress(done, total)
    raw, calibrated = cal.reliability(model, estimates, targets)
    return CalibrationCheck(
        calibration=cal, rows=rows, raw=raw, calibrated=calibrated, checked_on=HELD_OUT if held_out else IN_SAMPLE
    )
