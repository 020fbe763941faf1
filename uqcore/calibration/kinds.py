"""The fitted calibration: one interface (:class:`Calibration`), one class per kind.

What each kind computes and guarantees is in :mod:`uqcore.calibration.intervals`' docstring; the
kinds differ only in the interval's offsets around the prediction, the calibrated variance and
how the fitted values read. Everything else -- checking that a calibration belongs to a model and
setting (:meth:`Calibration.mismatch`), intervals of an estimate, widths, scores, reliability
data, the JSON file -- is shared. A saved file names its kind; :data:`CALIBRATIONS` maps that
name to the class (``Calibration(kind=...)`` and ``load_calibration`` pick from it).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from uqcore.engine import methods as _methods
from uqcore import metrics as M
from uqcore.errors import InputError
from uqcore.engine.model import as_model, model_identity
from uqcore.calibration.fit import (DEFAULT_LEVEL, FITTED_KEYS, MAX_VALUES, VARIANCE_BINS, Vectors,
                                    apply_variance_map, check_kind, check_level, fit_values, normal_quantile,
                                    subsample)
from uqcore.scoring.scorer import EPS, ENCE_BINS, aligned, at_target, interval_values, prepare_target, residual_vectors

FORMAT = "uqcore-calibration"
VERSION = 2              # 2: the isotonic kind may carry a variance map (version 1 files are read as before)
READABLE_VERSIONS = (1, 2)


# The class of each kind, by its ``KIND`` (register_calibration); Calibration(kind=...) picks from it.
CALIBRATIONS: dict[str, type[Calibration]] = {}


def register_calibration(cls: type[Calibration]) -> type[Calibration]:
    """Class decorator: ``cls`` is the calibration of kind ``cls.KIND`` (what a saved file's
    ``kind`` names)."""
    CALIBRATIONS[cls.KIND] = cls
    return cls


@dataclass
class Calibration:
    """A fitted calibration (:mod:`uqcore.calibration.intervals`' docstring): one interface, one
    subclass per kind (:class:`SigmaCalibration`, :class:`IsotonicCalibration`,
    :class:`ConformalCalibration`, :class:`RiskCalibration`). ``Calibration(kind=..., ...)`` and
    :meth:`from_residuals` return the kind's subclass (:data:`CALIBRATIONS`).

    ``model``: name, task, scale and weights fingerprint of its model; ``setting``: method
    (evaluation name), engine, prediction source, layer, strength, samples (requested),
    samples_drawn (per calibration image), seed; ``images``: names of the calibration images;
    ``fitted``: the kind's values; ``values``: how many values were used / available.

    A subclass gives ``KIND``, ``FIXED_LEVEL`` (True where the fit holds only for its own level),
    :meth:`half_offsets` (the interval around the prediction), :meth:`variance_of` (the calibrated
    variance) and :meth:`fitted_text`; everything else is shared."""

    KIND: ClassVar[str] = ""
    FIXED_LEVEL: ClassVar[bool] = False

    kind: str
    level: float
    fitted: dict[str, Any]
    eps: float = EPS
    model: dict[str, Any] = field(default_factory=dict)
    setting: dict[str, Any] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    values: dict[str, int] = field(default_factory=dict)
    created: str = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Calibration:
        if cls is Calibration:  # the kind's class; an unknown kind gets check_kind's error below
            cls = CALIBRATIONS.get(kwargs.get("kind", args[0] if args else None), cls)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if self.kind != self.KIND:
            raise InputError(f"a {type(self).__name__} is of kind {self.KIND!r}, not {self.kind!r}")
        self.level = check_level(self.level)
        missing = [k for k in FITTED_KEYS[self.kind] if k not in self.fitted]
        if missing:
            raise InputError(f"the {self.kind} calibration lacks its fitted value(s) {', '.join(missing)}")

    @classmethod
    def from_residuals(cls, kind: str, data: Sequence[Vectors], level: float = DEFAULT_LEVEL, *, eps: float = EPS,
                       max_values: int = MAX_VALUES, seed: int = 0, variance_bins: int | str | None = VARIANCE_BINS,
                       **fields: Any) -> Calibration:
        """Fit ``kind`` on per-image (signed residuals target − prediction [C, N], variance [N])
        vectors, subsampled to ``max_values`` as :func:`calibrate` does; ``variance_bins``:
        the isotonic kind's variance map (:func:`uqcore.calibration.fit.fit_values`; None: none);
        ``fields``: model, setting, images (what the JSON records)."""
        data = [(np.atleast_2d(np.asarray(r, dtype=np.float64)), np.asarray(v, dtype=np.float64).ravel())
                for r, v in data]
        total = sum(r.size for r, _ in data)
        if total > max_values:
            budget = max(1, int(max_values) // max(len(data), 1))
            data = [subsample(r, v, budget, seed, i) for i, (r, v) in enumerate(data)]
        fitted = fit_values(kind, data, level, eps, variance_bins=variance_bins)
        used = sum(r.size for r, _ in data)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(kind=kind, level=level, fitted=fitted, eps=eps, values={"used": used, "available": total},
                   created=stamp, **fields)

    # -- the interval -------------------------------------------------------------------------
    def _z(self, level: float) -> float:
        return float(normal_quantile((1.0 + level) / 2.0))

    def _level(self, level: float | None) -> float:
        if level is None or abs(float(level) - self.level) < 1e-12:
            return self.level
        if self.FIXED_LEVEL:
            raise InputError(f"this {self.kind} calibration was fitted for level {self.level:g}; fit another one for "
                             f"level {level:g}")
        return check_level(level)

    def offsets(self, variance: Any, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi), float64 like ``variance``: the interval around the prediction is
        [ŷ + lo, ŷ + hi]. ``level``: another level (σ-scaling and isotonic only)."""
        v = np.asarray(variance.detach().cpu().numpy() if isinstance(variance, torch.Tensor) else variance,
                       dtype=np.float64)
        if (v < 0).any():
            raise InputError("the variance has negative values; pass the variance map of estimate()")
        return self.half_offsets(v, self._level(level))

    def half_offsets(self, v: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of :meth:`offsets` for a checked float64 variance and level (the kind's rule)."""
        raise NotImplementedError

    def calibrated_variance(self, variance: Any) -> np.ndarray:
        """The calibrated per-pixel variance (what ENCE compares with the squared error; the kind's
        :meth:`variance_of`)."""
        return self.variance_of(np.asarray(variance, dtype=np.float64))

    def variance_of(self, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fitted_text(self) -> str:
        """The fitted value(s) for people, e.g. ``q = 2.31 σ``."""
        raise NotImplementedError

    def recalibrate(self, p: Any) -> np.ndarray:
        """Kuleshov's recalibration map: only the isotonic kind has one."""
        raise InputError(f"recalibrate() is the isotonic map; this calibration is {self.kind!r}")

    def bounds(self, prediction: Any, variance: Any, level: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(lower, upper) float32 [C, H, W] for a prediction [C, H, W] and variance [H, W] (no
        setting check: :meth:`interval` is the checked entry point)."""
        p = prediction.detach().cpu().double() if isinstance(prediction, torch.Tensor) else torch.as_tensor(
            np.asarray(prediction, dtype=np.float64))
        if p.dim() == 2:
            p = p[None]
        lo, hi = self.offsets(variance, level)
        if lo.shape != tuple(p.shape[-2:]):
            raise InputError(f"the variance is {lo.shape} but the prediction is {tuple(p.shape)}; pass the "
                             "estimate's own maps")
        return (p + torch.from_numpy(lo)[None]).float(), (p + torch.from_numpy(hi)[None]).float()

    def interval(self, estimate: Any, *, model: Any = None,
                 level: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(lower, upper) per-pixel maps [C, H', W'] (float32, CPU) around the estimate's
        prediction (the calibrated method's prediction source). Raises an InputError when the
        estimate (or ``model``, if given) is not the one this calibration was fitted for."""
        self.check(model, estimate=estimate)
        return self.bounds(getattr(estimate, self.setting.get("prediction", _methods.ORIGINAL)), estimate.variance,
                           level)

    def width(self, estimate: Any, *, model: Any = None, level: float | None = None,
              target: Any = None) -> torch.Tensor:
        """Interval width map [H', W'] (output units); the same for every channel. With the
        ``target`` of a relative-depth ``model``: of its variance aligned to it, as it was fitted."""
        self.check(model, estimate=estimate)
        variance = estimate.variance
        if target is not None and model is not None and aligned(as_model(model)):
            source = getattr(estimate, self.setting.get("prediction", _methods.ORIGINAL))
            variance = at_target(as_model(model), source, variance, prepare_target("depth", target))[1]
        lo, hi = self.offsets(variance, level)
        return torch.from_numpy(hi - lo).float()

    def _residuals(self, model: Any, estimate: Any, target: Any) -> Vectors:
        self.check(model, estimate=estimate)
        return residual_vectors(as_model(model), getattr(estimate, self.setting.get("prediction", _methods.ORIGINAL)),
                                estimate.variance, target)

    def score(self, model: Any, estimate: Any, target: Any) -> dict[str, float]:
        """coverage, interval_width, ence, ence_calibrated of one image (valid pixels; depth
        outputs resized to the target), as ``evaluate --calibration`` reports them."""
        return interval_values(self, *self._residuals(model, estimate, target))

    def outside(self, model: Any, estimate: Any, target: Any) -> np.ndarray:
        """[H, W] at the target's size: the fraction of a pixel's channels outside the interval
        (0 or 1 for one channel); NaN where the ground truth is invalid (depth)."""
        self.check(model, estimate=estimate)
        model = as_model(model)
        t = prepare_target(model.task, target)
        tc = t if t.ndim == 3 else t[None]
        # at the target's size, and aligned to it for a relative-depth model, as the scorer has it
        pred, var = at_target(model, getattr(estimate, self.setting.get("prediction", _methods.ORIGINAL)),
                              estimate.variance, t)
        lower, upper = self.bounds(pred, var)
        lo, hi = lower.double().numpy(), upper.double().numpy()
        if lo.shape[-2:] != tc.shape[-2:]:
            raise InputError(f"the output is {lo.shape[-2]}x{lo.shape[-1]} but the target is "
                             f"{tc.shape[-2]}x{tc.shape[-1]}")
        out = ((tc < lo) | (tc > hi)).mean(axis=0)
        if model.task == "depth":
            out[~M.valid_mask(t)] = np.nan
        return out

    def reliability(self, model: Any, estimates: Sequence[Any], targets: Sequence[Any],
                    bins: int = ENCE_BINS) -> tuple[M.Reliability, M.Reliability]:
        """Reliability diagram data (raw variance + eps, calibrated variance) over the pooled valid
        pixels of (estimate, target) pairs: equal-count bins of the raw variance (for both),
        RMV vs RMSE per bin."""
        parts = [self._residuals(model, e, t) for e, t in zip(estimates, targets)]
        if not parts:
            raise InputError("give at least one (estimate, target) pair")
        r2 = np.concatenate([(r ** 2).mean(0) for r, _ in parts])
        v = np.concatenate([v for _, v in parts])
        return (M.reliability_vectors(r2, v, bins=bins, eps=self.eps),
                M.reliability_vectors(r2, self.calibrated_variance(v), bins=bins, order_by=v))

    # -- belonging to a model and setting ------------------------------------------------------
    def describe_setting(self) -> str:
        s = self.setting
        if not s:
            return "no recorded setting"
        parts = [str(s.get("method"))]
        if s.get("layer") is not None:
            parts.append(f"layer {s['layer']}, strength {float(s['strength']):g}")
        if s.get("samples") is not None:
            parts.append(f"{s['samples']} samples")
        return ", ".join(parts)

    def mismatch(self, model: Any = None, *, estimate: Any = None, method: str | None = None, layer: str | None = None,
                 strength: float | None = None, samples: Any = None) -> str | None:
        """Why this calibration does not apply to ``model`` / ``estimate`` / the given setting
        (a message naming both sides and the fix), or None when it does. Unrecorded fields and
        arguments left None are not compared; the seed is recorded but not compared (another seed
        draws other samples of the same perturbation)."""
        fix = " Fit a calibration for it (uqcore.calibrate / python -m uqcore calibrate) or load the matching one."
        if model is not None and self.model.get("fingerprint"):
            ident = model_identity(model)
            if ident["fingerprint"] != self.model["fingerprint"]:
                return (f"this calibration was fitted for model {self.model.get('name')!r} (weights "
                        f"{self.model['fingerprint']}), not for {ident['name']!r} (weights {ident['fingerprint']})."
                        + fix)
        s = self.setting
        if not s:
            return None
        if estimate is not None:
            method = method if method is not None else estimate.method
            layer, strength = estimate.layer, estimate.strength
            drawn = s.get("samples_drawn") or []
            if drawn and isinstance(s.get("samples"), int) and estimate.samples not in drawn:
                return (f"this calibration was fitted on maps of {', '.join(map(str, drawn))} drawn sample(s) "
                        f"({self.describe_setting()}); the estimate has {estimate.samples}." + fix)
        if method is not None:
            var = _methods.variant(method)
            if var.engine != s.get("engine"):
                return f"this calibration is for {self.describe_setting()}, not for method {method!r}." + fix
            if estimate is None and var.prediction != s.get("prediction"):
                return (f"this calibration is for {s.get('method')!r} (prediction: {s.get('prediction')}), not for "
                        f"{method!r} (prediction: {var.prediction}).") + fix
            if _methods.spec(var.engine).needs_layer:
                if layer is not None and layer != s.get("layer"):
                    return f"this calibration is for {self.describe_setting()}; the setting has layer {layer}." + fix
                if strength is not None and not math.isclose(float(strength), float(s.get("strength")), rel_tol=1e-9):
                    return (f"this calibration is for {self.describe_setting()}; the setting has strength "
                            f"{float(strength):g}." + fix)
        if samples is not None and isinstance(s.get("samples"), int) and samples != s["samples"]:
            return f"this calibration is for {self.describe_setting()}; the setting has {samples} samples." + fix
        return None

    def check(self, model: Any = None, **setting: Any) -> None:
        """Raise an InputError with :meth:`mismatch`'s message unless the calibration applies."""
        reason = self.mismatch(model, **setting)
        if reason is not None:
            raise InputError(reason)

    # -- files --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "level": self.level, "eps": self.eps,
                "model": self.model, "setting": self.setting, "images": list(self.images), "values": self.values,
                "created": self.created, "fitted": self.fitted}

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON (model, setting, calibration images, level, kind, fitted values)."""
        path = Path(path)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False))
        return path

    def summary(self) -> str:
        """One line for people: kind, level, model, setting, fitted value, data."""
        value = self.fitted_text()
        return (f"{self.kind} calibration at level {self.level:g} for {self.model.get('name', 'a model')} "
                f"({self.describe_setting()}): {value}; {self.values.get('used', '?')} values of "
                f"{len(self.images)} image(s)")


# -- one class per kind ---------------------------------------------------------------------------
@register_calibration
class SigmaCalibration(Calibration):
    """σ-scaling: ŷ ± z·sqrt(s·v + eps), z the normal (1+level)/2 quantile; variance s·v + eps."""

    KIND = "sigma"

    def half_offsets(self, v, level):
        half = self._z(level) * np.sqrt(self.fitted["scale"] * v + self.eps)
        return -half, half

    def variance_of(self, v):
        return self.fitted["scale"] * v + self.eps

    def fitted_text(self) -> str:
        return f"variance scale {self.fitted['scale']:.4g}"


@register_calibration
class IsotonicCalibration(Calibration):
    """Isotonic: the variance map σ̃² = g(v) + eps (v + eps without one) and Kuleshov's map of the
    standardised residuals (an asymmetric central interval); variance m2·σ̃², the recalibrated
    distribution's second moment about ŷ."""

    KIND = "isotonic"

    def _sigma2(self, v: np.ndarray) -> np.ndarray:
        return apply_variance_map(self.fitted.get("variance_map"), v, self.eps)

    def _quantiles(self, level: float) -> np.ndarray:
        return np.interp([(1.0 - level) / 2.0, (1.0 + level) / 2.0], self.fitted["cdf"], self.fitted["z"])

    def half_offsets(self, v, level):
        sigma = np.sqrt(self._sigma2(v))
        a, b = self._quantiles(level)
        return a * sigma, b * sigma

    def variance_of(self, v):
        return self.fitted["second_moment"] * self._sigma2(v)

    def recalibrate(self, p: Any) -> np.ndarray:
        """Kuleshov's recalibration map R(p) of predicted CDF levels p = Φ(r/σ̃) in [0, 1]
        (non-decreasing, R(0) = 0, R(1) = 1)."""
        z = normal_quantile(np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0))
        return np.interp(z, self.fitted["z"], self.fitted["cdf"], left=0.0, right=1.0)

    def fitted_text(self) -> str:
        vmap = self.fitted.get("variance_map")
        unit = "σ̃" if vmap else "σ"
        lo, hi = np.interp([(1 - self.level) / 2, (1 + self.level) / 2], self.fitted["cdf"], self.fitted["z"])
        return (f"quantiles {lo:.4g} {unit} / {hi:.4g} {unit}"
                + (f" (isotonic variance map, {vmap['bins']} bins)" if vmap else ""))


@register_calibration
class ConformalCalibration(Calibration):
    """Split conformal: ŷ ± q·sqrt(v + eps) for its own level only; Gaussian-equivalent variance
    (q/z)²·(v + eps), z the level's normal quantile."""

    KIND = "conformal"
    FIXED_LEVEL = True
    FACTOR = "q"      # the fitted multiple of σ
    SYMBOL = "q"

    def half_offsets(self, v, level):
        half = self.fitted[self.FACTOR] * np.sqrt(v + self.eps)
        return -half, half

    def variance_of(self, v):
        return (self.fitted[self.FACTOR] / self._z(self.level)) ** 2 * (v + self.eps)

    def fitted_text(self) -> str:
        return f"{self.SYMBOL} = {self.fitted[self.FACTOR]:.4g} σ"


@register_calibration
class RiskCalibration(ConformalCalibration):
    """Conformal risk control over images: ŷ ± λ·sqrt(v + eps), as the conformal interval with λ for q."""

    KIND = "risk"
    FACTOR = "lambda"
    SYMBOL = "λ"
