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

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uqcore import distributed as _distributed
from uqcore.engine import methods as _methods
from uqcore.errors import InputError
from uqcore.progress import Progress
from uqcore.engine.layers import method_setting
from uqcore.engine.model import as_model, model_identity
from uqcore.engine.estimate import estimate
from uqcore.calibration.fit import (DEFAULT_KIND, DEFAULT_LEVEL, ISOTONIC_KNOTS, KINDS, MAX_VALUES,  # noqa: F401
                                    VARIANCE_BINS, Vectors, check_kind, check_level, fit_values, subsample)
from uqcore.calibration.kinds import (CALIBRATIONS, FORMAT, READABLE_VERSIONS, VERSION, Calibration,  # noqa: F401
                                      ConformalCalibration, IsotonicCalibration, RiskCalibration, SigmaCalibration,
                                      register_calibration)
from uqcore.scoring.scorer import EPS, residual_vectors

__all__ = ["Calibration", "calibrate", "load_calibration", "fit_values", "model_identity",
           "pair_statistics", "KINDS", "DEFAULT_KIND", "DEFAULT_LEVEL", "MAX_VALUES", "ISOTONIC_KNOTS", "VARIANCE_BINS",
           "FORMAT", "VERSION", "CALIBRATIONS", "register_calibration", "SigmaCalibration", "IsotonicCalibration",
           "ConformalCalibration", "RiskCalibration"]


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration written by :meth:`Calibration.save`: the class of its saved ``kind``
    (:data:`uqcore.calibration.kinds.CALIBRATIONS`); an InputError says what is wrong."""
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
    kind = check_kind(data.get("kind"))
    try:
        return CALIBRATIONS[kind](kind=kind, level=data.get("level"), fitted=fitted,
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



