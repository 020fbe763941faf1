"""The typed results of :class:`uqcore.scoring.scorer.Scorer`: one level's numbers, a calibration's
interval columns and the dataset summary (:meth:`Scorer.compute <uqcore.scoring.scorer.Scorer.compute>`).

Rows and CSV files take them flat (:meth:`DatasetSummary.common`, :meth:`DatasetSummary.level`),
in the column order the tables have always had."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class _Fields:
    """A flat summary whose fields are its row's columns."""

    def values(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class LevelSummary(_Fields):
    """One level's numbers (pixel / patch / block averaged over images; mean across images):
    AUSE (normalised curves), AUSE of the raw curves, AURG, Pearson and Spearman correlation."""

    ause: float
    ause_raw: float
    aurg: float
    corr: float
    spearman: float


@dataclass(frozen=True)
class IntervalSummary(_Fields):
    """A fitted interval calibration over pooled values: ``coverage`` (fraction of values inside
    the interval), ``interval_width`` (mean, output units), ``ence`` (of the raw variance) and
    ``ence_calibrated`` (of the calibration's variance)."""

    coverage: float
    interval_width: float
    ence: float
    ence_calibrated: float


@dataclass(frozen=True)
class DatasetSummary:
    """What :meth:`Scorer.compute <uqcore.scoring.scorer.Scorer.compute>` returns.

    levels: {level: LevelSummary} for every level of ``uqcore.scoring.scorer.LEVELS``;
    nll, ence: all scored images (raw variance); variance_scale: the σ-scale fitted on the fit
    images (NaN where it cannot be fitted); nll_heldout, calibration_error, ence_heldout: the
    held-out (test) images, raw; nll_scaled, calibration_error_scaled, ence_scaled: the same with
    the σ-scaled variance; quality: the prediction's quality averaged over images (PSNR / SSIM or
    the depth metrics); aligned: a relative-depth model's predictions were aligned to the targets;
    seconds_per_image, samples_drawn (mean, rounded); intervals: a calibrated scorer's
    :class:`IntervalSummary` over all scored images (its ``ence`` is then the summary's ``ence``)."""

    levels: dict[str, LevelSummary]
    nll: float
    variance_scale: float
    nll_heldout: float
    calibration_error: float
    ence_heldout: float
    nll_scaled: float
    calibration_error_scaled: float
    ence_scaled: float
    ence: float
    quality: dict[str, float] = field(default_factory=dict)
    aligned: bool = False
    seconds_per_image: float = 0.0
    samples_drawn: int = 0
    intervals: IntervalSummary | None = None

    def level(self, name: str) -> dict[str, float]:
        """One level's numbers as a row's columns."""
        return self.levels[name].values()

    def common(self) -> dict[str, Any]:
        """The level-independent numbers as a row's columns, in the tables' column order."""
        out: dict[str, Any] = {"nll": self.nll, "variance_scale": self.variance_scale, "nll_heldout": self.nll_heldout,
                               "calibration_error": self.calibration_error, "ence_heldout": self.ence_heldout,
                               "nll_scaled": self.nll_scaled, "calibration_error_scaled": self.calibration_error_scaled,
                               "ence_scaled": self.ence_scaled}
        if self.intervals is not None:
            out.update(self.intervals.values())
        else:
            out["ence"] = self.ence
        out.update(self.quality)
        out.update(aligned=self.aligned, seconds_per_image=self.seconds_per_image, samples_drawn=self.samples_drawn)
        return out

    def values(self) -> dict[str, dict[str, Any]]:
        """{level: its numbers, ..., "common": :meth:`common`}: the summary as plain dicts."""
        return {**{name: s.values() for name, s in self.levels.items()}, "common": self.common()}
