"""Decision data: what the paper run chooses columns on, never the test split.

Every column is also estimated on its calibration images (the calibration split plus the held-out
calibration images of :mod:`uqcore.paper.heldout`); the scorer keeps their signed residuals and
variances (:meth:`uqcore.scoring.scorer.Scorer.add_fit_image`). From those this module computes
the column's ``decision_*`` values, with the definitions of :mod:`uqcore.metrics` (error = the
channel-mean absolute residual):

* ``decision_corr_pixel`` / ``decision_ause_pixel``: the mean over those images of the pixel-level
  Pearson correlation / normalised AUSE;
* ``decision_corr_mean`` / ``decision_ause_mean``: the mean level across those images (one point
  per image: mean error, mean variance);
* ``n_decision``: how many images.

The residuals are flattened valid pixels, so patch and block levels are not available here: a
choice at those levels uses the pixel-level value. The Discussion's "best column" of a method
(:func:`uqcore.paper.discussion.best`) is the one with the best decision value; the test split
only reports the chosen column's numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uqcore.metrics.correlation import pearson_vectors
from uqcore.metrics.sparsification import sparsification_vectors
from uqcore.scoring.scorer import Vectors
from uqcore.scoring.stats import finite_mean

STEPS = 50


def decision_values(images: Sequence[Vectors], steps: int = STEPS) -> dict[str, float]:
    """The ``decision_*`` values (module docstring) of a column from its calibration images'
    (signed residuals [C, N], variance [N])."""
    corr, ause, me, mv = [], [], [], []
    for res, v in images:
        err = np.abs(np.asarray(res, dtype=np.float64)).mean(0)
        v = np.asarray(v, dtype=np.float64)
        corr.append(pearson_vectors(err, v) if err.size >= 2 else np.nan)
        ause.append(sparsification_vectors(err, v, steps).ause if err.size >= 2 else np.nan)
        me.append(err.mean() if err.size else np.nan)
        mv.append(v.mean() if v.size else np.nan)
    out = {"decision_corr_pixel": finite_mean(corr), "decision_ause_pixel": finite_mean(ause),
           "decision_corr_mean": float("nan"), "decision_ause_mean": float("nan"), "n_decision": len(images)}
    me_a, mv_a = np.array(me), np.array(mv)
    ok = np.isfinite(me_a) & np.isfinite(mv_a)
    if ok.sum() >= 3:
        out["decision_corr_mean"] = pearson_vectors(me_a[ok], mv_a[ok])
        out["decision_ause_mean"] = sparsification_vectors(me_a[ok], mv_a[ok], steps).ause
    return out
