"""Calibrated per-pixel error bars: σ-scaling, isotonic recalibration, conformal intervals.

A variance map says *where* a network is unsure; a calibration says *how far off* it is. A
:class:`Calibration` is fitted on (input, target) pairs for one model and one method setting
(method, layer, strength, samples; the seed is recorded) and turns that setting's maps into
per-pixel intervals ``lower <= y <= upper`` at a stated level:

``cal = uqcore.calibrate(model, pairs, method="noise", layer="body.5", strength=0.05, samples=8,
level=0.9, kind="conformal")``, ``lower, upper = cal.interval(uqcore.estimate(model, x, ...))``,
``cal.save("cal.json")``, ``uqcore.load_calibration("cal.json")``;
``python -m uqcore calibrate --model M --data DIR --method noise --kind conformal --level 0.9 --out cal.json``.

Notation: ŷ the prediction (the method's prediction source, :mod:`uqcore.engine.methods`), v the
per-pixel variance of the map, σ = sqrt(v + eps) with ``eps`` = :data:`uqcore.scoring.scorer.EPS`
(1e-6, the same Gaussian N(ŷ, v + eps) as the NLL), r = y − ŷ per value (pixel × channel; the
variance is shared by the channels). Every kind gives an interval ŷ + [a·σ', b·σ'] whose offsets
depend on the pixel's variance only, so ``width`` is one [H, W] map.

Kinds, what each guarantees and under which assumption (α = 1 − level):

* ``"sigma"`` -- σ-scaling: the scorer's rule (:func:`uqcore.scoring.scorer.fit_scale`): the scale s
  minimising the Gaussian NLL of s·v + eps on the calibration pixels; interval ŷ ± z·sqrt(s·v + eps)
  with z the standard normal (1+level)/2 quantile. **No coverage guarantee**: it is right only
  if the standardised residuals are Gaussian with one common scale.
* ``"isotonic"`` -- two monotone maps fitted on the calibration values. (1) The **isotonic
  variance map** g (:func:`uqcore.calibration.fit.variance_map`): the non-decreasing (PAV)
  regression of the squared residual on the raw variance over equal-count variance bins, so that
  σ̃² = g(v) + eps estimates E[r² | v] -- this is what can lower ENCE, which compares RMSE and RMV
  bin by bin; one global scale (σ-scaling, or Kuleshov's map alone) cannot change the ratio
  between bins. The number of bins (5 to 100) is chosen by cross-validation over calibration
  *images* (out-of-fold ENCE, one-standard-error rule), never on test data; ``variance_bins=None`` leaves g out (σ̃ = σ,
  as calibrations of version 1 were). (2) Kuleshov et al. 2018, "Accurate Uncertainties for
  Deep Learning Using Calibrated Regression", on r/σ̃: the probability integral transform
  p = Φ(r/σ̃) of every calibration value, and R = the isotonic regression of the empirical
  frequency P̂(p) = #{p_j <= p}/N on p. The recalibrated CDF of a new pixel is
  F'(y) = R(Φ((y − ŷ)/σ̃)) and its interval the central one, [F'^{-1}(α/2), F'^{-1}(1 − α/2)]
  (asymmetric where the residuals are biased). Because P̂ is non-decreasing in p, the isotonic
  fit equals P̂ itself (ties share one value; the tests check this against
  ``scipy.optimize.isotonic_regression``), and since Φ is monotone R∘Φ is the empirical CDF G of
  the standardised residuals z = r/σ̃. It is stored in z (not in p, where Φ rounds every
  |z| > 8.3 to exactly 0 or 1 in float64, and raw training-free maps have |z| in the tens) as
  :data:`ISOTONIC_KNOTS` + 1 knots at equally spaced levels of G (the smallest and largest z
  included), linearly interpolated. **Guarantee**: asymptotic, marginal calibration at every
  level as the number of calibration values grows, if calibration and new values are i.i.d.;
  no finite-sample bound (and g, fitted on the same values, makes it approximate). Its variance
  (for ENCE) is m2·σ̃², m2 = the mean of z² over the calibration values (the second moment of G).
* ``"conformal"`` -- split conformal prediction: nonconformity s = |r|/σ over the N calibration
  values, q = the ⌈(N+1)·level⌉-th smallest s (the ⌈(N+1)(1−α)⌉/N empirical quantile), interval
  ŷ ± q·σ. **Guarantee** P(y in interval) >= level for a new *value* if the calibration values
  and the new one are exchangeable. Pixels of one image are not exchangeable (neighbours share
  errors; one image can be harder than another), so with pixels pooled over images this
  holds only approximately -- what is exchangeable is images: if the calibration images and the
  new image are exchangeable, the pooled quantile converges to the right one as the number of
  calibration images grows, but a few calibration images give no finite-sample bound and the
  coverage of one new image can be far from the level. Calibrate on as many *images* as you
  can: in the paper run, 4 images left the pooled test coverage within ±3 points of 90 % for
  only 39–73 % of the ways of choosing them; with 11 (SR) / 52 (depth) images all 27 columns
  were within, and 51–85 % of the choices (docs/CALIBRATION.md, docs/RESULTS.md). Its Gaussian-equivalent variance (for
  ENCE) is (q/z)²·σ², the Gaussian whose central ``level`` interval is the conformal one.
* ``"risk"`` -- conformal risk control over images (Angelopoulos et al. 2022, "Conformal Risk
  Control", the image-level loss of "Image-to-Image Regression with Distribution-Free
  Uncertainty Quantification"): the loss of image i at λ is L_i(λ) = the fraction of its valid
  values outside ŷ ± λσ (non-increasing in λ, at most 1), and λ̂ = the smallest λ with
  n/(n+1)·mean_i L_i(λ) + 1/(n+1) <= α over the n calibration images. **Guarantee**: if the
  images are exchangeable, E[fraction of a new image's values outside] <= α, exactly, for any n
  -- in expectation over calibration and new image (the RCPS variant of the image-to-image paper
  instead bounds it with probability 1 − δ via a concentration bound, which needs many more
  images). It needs n >= 1/α − 1 images (9 at level 0.9); fewer raise an InputError.

Memory: a calibration keeps at most ``max_values`` (default :data:`MAX_VALUES`) values
(pixels × channels). :func:`calibrate` caps every image at an equal share (``max_values`` / the
number of images) as it goes; :meth:`Calibration.from_residuals` does the same when the total is
over the limit. A capped image keeps a seeded random subset of its valid pixels
(``numpy.random.default_rng([seed, image index])``, without replacement, all channels of a
chosen pixel); a random subsample of exchangeable values is exchangeable, so the guarantees above
are unchanged. The JSON records how many values were used and how many were available.

Depth: outputs are resized to the ground truth as for scoring, and only pixels with valid
ground truth (:func:`uqcore.metrics.valid_mask`) are fitted on and scored.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import distributed as _distributed
from uqcore.engine import methods as _methods
from uqcore import metrics as M
from uqcore.errors import InputError
from uqcore.progress import Progress
from uqcore.engine.layers import method_setting
from uqcore.engine.model import as_model, model_identity
from uqcore.engine.estimate import estimate
from uqcore.calibration.fit import (DEFAULT_KIND, DEFAULT_LEVEL, FITTED_KEYS, ISOTONIC_KNOTS, KINDS, MAX_VALUES,
                                    VARIANCE_BINS, Vectors, apply_variance_map, check_kind, check_level, fit_values,
                                    normal_quantile, subsample)
from uqcore.scoring.scorer import EPS, ENCE_BINS, aligned, at_target, interval_values, prepare_target, residual_vectors

__all__ = ["Calibration", "calibrate", "load_calibration", "fit_values", "fingerprint", "model_identity",
           "pair_statistics", "KINDS", "DEFAULT_KIND", "DEFAULT_LEVEL", "MAX_VALUES", "ISOTONIC_KNOTS", "VARIANCE_BINS",
           "FORMAT", "VERSION"]

FORMAT = "uqcore-calibration"
VERSION = 2              # 2: the isotonic kind may carry a variance map (version 1 files are read as before)
READABLE_VERSIONS = (1, 2)




# -- the object -----------------------------------------------------------------------------------
@dataclass
class Calibration:
    """A fitted calibration (module docstring). ``model``: name, task, scale and weights
    fingerprint of its model; ``setting``: method (evaluation name), engine, prediction source,
    layer, strength, samples (requested), samples_drawn (per calibration image), seed;
    ``images``: names of the calibration images; ``fitted``: the kind's values; ``values``:
    how many values were used / available."""

    kind: str
    level: float
    fitted: dict[str, Any]
    eps: float = EPS
    model: dict[str, Any] = field(default_factory=dict)
    setting: dict[str, Any] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    values: dict[str, int] = field(default_factory=dict)
    created: str = ""

    def __post_init__(self) -> None:
        check_kind(self.kind)
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
        if self.kind in ("conformal", "risk"):
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
        level = self._level(level)
        f = self.fitted
        if self.kind == "sigma":
            half = self._z(level) * np.sqrt(f["scale"] * v + self.eps)
            return -half, half
        if self.kind == "isotonic":
            sigma = np.sqrt(apply_variance_map(f.get("variance_map"), v, self.eps))
            a, b = np.interp([(1.0 - level) / 2.0, (1.0 + level) / 2.0], f["cdf"], f["z"])
            return a * sigma, b * sigma
        half = (f["q"] if self.kind == "conformal" else f["lambda"]) * np.sqrt(v + self.eps)
        return -half, half

    def calibrated_variance(self, variance: Any) -> np.ndarray:
        """The calibrated per-pixel variance (what ENCE compares with the squared error): σ-scaling
        s·v + eps; isotonic: the recalibrated distribution's second moment about ŷ, m2·σ̃² (σ̃² =
        g(v) + eps with the variance map, v + eps without);
        conformal / risk: the Gaussian-equivalent (q/z)²·(v + eps), z the level's normal quantile."""
        v = np.asarray(variance, dtype=np.float64)
        f = self.fitted
        if self.kind == "sigma":
            return f["scale"] * v + self.eps
        if self.kind == "isotonic":
            return f["second_moment"] * apply_variance_map(f.get("variance_map"), v, self.eps)
        q = f["q"] if self.kind == "conformal" else f["lambda"]
        return (q / self._z(self.level)) ** 2 * (v + self.eps)

    def recalibrate(self, p: Any) -> np.ndarray:
        """Isotonic only: Kuleshov's recalibration map R(p) of predicted CDF levels p = Φ(r/σ̃) in [0, 1]
        (non-decreasing, R(0) = 0, R(1) = 1)."""
        if self.kind != "isotonic":
            raise InputError(f"recalibrate() is the isotonic map; this calibration is {self.kind!r}")
        z = normal_quantile(np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0))
        return np.interp(z, self.fitted["z"], self.fitted["cdf"], left=0.0, right=1.0)

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
        f = self.fitted
        vmap = f.get("variance_map")
        unit = "σ̃" if vmap else "σ"
        value = {"sigma": lambda: f"variance scale {f['scale']:.4g}",
                 "conformal": lambda: f"q = {f['q']:.4g} σ",
                 "risk": lambda: f"λ = {f['lambda']:.4g} σ",
                 "isotonic": lambda: (f"quantiles {np.interp((1 - self.level) / 2, f['cdf'], f['z']):.4g} {unit} / "
                                      f"{np.interp((1 + self.level) / 2, f['cdf'], f['z']):.4g} {unit}"
                                      + (f" (isotonic variance map, {vmap['bins']} bins)" if vmap else ""))}[self.kind]()
        return (f"{self.kind} calibration at level {self.level:g} for {self.model.get('name', 'a model')} "
                f"({self.describe_setting()}): {value}; {self.values.get('used', '?')} values of "
                f"{len(self.images)} image(s)")


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration written by :meth:`Calibration.save`; an InputError says what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; write one with python -m uqcore calibrate ... --out {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a calibration JSON file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not a uqcore calibration (no \"format\": \"{FORMAT}\")")
    if data.get("version") not in READABLE_VERSIONS:
        raise InputError(f"{path} is a version {data.get('version')} calibration; this uqcore reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    fitted = data.get("fitted")
    if not isinstance(fitted, dict):
        raise InputError(f"{path} has no fitted values")
    try:
        return Calibration(kind=data.get("kind"), level=data.get("level"), fitted=fitted,
                           eps=float(data.get("eps", EPS)),
                           model=dict(data.get("model") or {}), setting=dict(data.get("setting") or {}),
                           images=list(data.get("images") or []), values=dict(data.get("values") or {}),
                           created=str(data.get("created", "")))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path} is not a valid calibration: {exc}") from None


# -- fitting on a model -----------------------------------------------------------------------------


def _named_pairs(pairs: Any, names: Sequence[str] | None) -> tuple[list[str], list[tuple[Any, Any]]]:
    out, found = [], []
    for i, p in enumerate(pairs):
        if not isinstance(p, (tuple, list)) or len(p) not in (2, 3):
            raise InputError(f"pairs[{i}] must be an (input, target) or (name, input, target) tuple")
        found.append(str(p[0]) if len(p) == 3 else f"pair {i}")
        out.append((p[-2], p[-1]))
    if not out:
        raise InputError("no (input, target) pairs to calibrate on")
    if names is not None:
        if len(names) != len(out):
            raise InputError(f"got {len(names)} names for {len(out)} pairs")
        found = [str(n) for n in names]
    return found, out


def pair_statistics(model: Any, x: Any, target: Any, *, method: str, layer: str | None, strength: float | None,
                    samples: Any, seed: int, budget: int, index: int, device: Any = None,
                    tile: int | None = None) -> dict[str, Any]:
    """One calibration pair's statistics: ``residuals`` [C, N] and ``variance`` [N] (float64, the
    valid pixels, subsampled to ``budget`` values seeded by (``seed``, ``index``)), ``available``
    (values before subsampling) and ``drawn`` (samples) of the setting's estimate on ``x`` (``tile``: in tiles)."""
    var = _methods.variant(method)
    est = estimate(model, x, method=var.engine, layer=layer, strength=strength, samples=samples, seed=seed,
                   device=device, tile=tile)
    res, v = residual_vectors(model, getattr(est, var.prediction), est.variance, target)
    res_kept, v_kept = subsample(res, v, budget, seed, index)
    return {"residuals": res_kept, "variance": v_kept, "available": int(res.size), "drawn": int(est.samples)}


def calibrate(model: Any, pairs: Sequence[Any], method: str = _methods.DEFAULT_METHOD, layer: str | None = None,
              strength: float | None = None, samples: Any = 8, seed: int = 0, level: float = DEFAULT_LEVEL,
              kind: str = DEFAULT_KIND, *, names: Sequence[str] | None = None, device: Any = None,
              progress: Progress | None = None, max_values: int = MAX_VALUES, eps: float = EPS,
              workers: int | None = None, ray_address: str | None = None, store: Any = None,
              resume: bool = False, variance_bins: int | str | None = VARIANCE_BINS,
              tile: int | None = None) -> Calibration:
    """Fit a calibration of ``kind`` ("conformal", "isotonic", "sigma" or "risk"; module
    docstring) for ``model`` and one method setting on (input [1, C, h, w], target) ``pairs``
    (or (name, input, target) triples; targets as for :func:`uqcore.evaluate`).

    method: an engine method or evaluation variant (e.g. "mc_dropout1"); layer / strength: the
    layer method's setting (None: :func:`uqcore.engine.layers.method_setting`'s defaults); samples /
    seed: as for :func:`uqcore.estimate`. ``progress(done, total)`` after each image. At most
    ``max_values`` values (pixels × channels) are kept (a seeded subsample beyond that).
    ``workers`` / ``ray_address`` / ``store`` / ``resume``: the per-pair statistics
    (:func:`pair_statistics`) as units on Ray workers or in a resumable store
    (:func:`uqcore.distributed.map_pairs`, docs/SCALING.md); the same calibration.
    ``variance_bins``: the isotonic kind's variance map (None: Kuleshov's map alone). ``tile``: as for estimate."""
    model = as_model(model)
    check_kind(kind)
    level = check_level(level)
    var = _methods.variant(method)
    if var.engine not in model.methods:
        raise InputError(f"method {method!r} does not apply to model {model.name!r}; it supports "
                         f"{', '.join(model.methods)}")
    names, pairs = _named_pairs(pairs, names)
    lay, st = method_setting(model, var.engine, layer, strength)
    params = {"method": method, "layer": lay, "strength": st, "seed": int(seed),
              "samples": samples if isinstance(samples, str) else int(samples),  # JSON-able: a unit key
              "budget": max(1, int(max_values) // len(pairs))}
    if tile is not None:
        params["tile"] = int(tile)  # only when given: an untiled run's unit keys stay as they were
    if _distributed.uses_units(workers, ray_address, store, resume):
        stats = _distributed.map_pairs(pair_statistics, model, names, pairs, params, kind="calibrate", workers=workers,
                                       ray_address=ray_address, device=device, store=store, resume=resume,
                                       progress=progress)
    else:
        stats = []
        for i, (x, target) in enumerate(pairs):
            stats.append(pair_statistics(model, x, target, index=i, device=device, **params))
            if progress is not None:
                progress(i + 1, len(pairs))
    data: list[Vectors] = [(p["residuals"], p["variance"]) for p in stats]
    drawn = [p["drawn"] for p in stats]
    total = sum(p["available"] for p in stats)
    setting = {"method": method, "engine": var.engine, "prediction": var.prediction, "layer": lay,
               "strength": st, "samples": samples if isinstance(samples, str) else int(samples),
               "samples_drawn": sorted(set(drawn)), "seed": int(seed)}
    cal = Calibration.from_residuals(kind, data, level, eps=eps, max_values=max_values, seed=seed,
                                     variance_bins=variance_bins,
                                     model=model_identity(model), setting=setting, images=names)
    cal.values["available"] = total
    return cal



