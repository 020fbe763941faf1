"""uqcore: training-free uncertainty estimation for dense regression networks.

Public API (module map and layers in docs/ARCHITECTURE.md; where each name lives: ``_NAMES_BY_MODULE`` below):
``list_models``, ``load_model``, ``wrap``, ``list_layers``, ``estimate`` (with ``region=`` / ``tile=``: exact boxes and tiles, ``receptive_field``,
``output_shape``), ``sweep``, ``evaluate``, ``calibrate``, ``load_calibration``, ``read_image``, ``read_depth``,
``metrics``, ``InputError``; the one-pass student (``uqcore.student``): ``distill`` (train a head on
unlabeled images), ``attach_student`` / ``load_model(..., student=PATH)``, then
``estimate(model, x, method="student")``.
Submodules are imported on first use so that ``import uqcore`` stays cheap.
"""

from __future__ import annotations

from uqcore.errors import InputError
from uqcore.lazy import lazy_exports

_NAMES_BY_MODULE = {
    "uqcore.models": ["list_models", "load_model", "model_card", "wrap", "UQModel"],
    "uqcore.engine.layers": ["list_layers"],
    "uqcore.engine.estimate": ["estimate", "Estimate"],
    "uqcore.engine.receptive": ["receptive_field", "output_shape"],
    "uqcore.datasets.sweep": ["sweep"],
    "uqcore.datasets.evaluate": ["evaluate"],
    "uqcore.calibration.intervals": ["calibrate", "load_calibration", "Calibration"],
    "uqcore.io": ["read_image", "read_depth"],
    "uqcore.student.train": ["distill"],
    "uqcore.models.student_files": ["attach_student", "load_student"],
}
# subpackages and base modules as attributes (``uqcore.metrics``, ``from uqcore import plots``): name -> module
_SUBMODULES = {
    "engine": "uqcore.engine", "models": "uqcore.models", "metrics": "uqcore.metrics", "scoring": "uqcore.scoring",
    "calibration": "uqcore.calibration", "datasets": "uqcore.datasets", "distributed": "uqcore.distributed",
    "student": "uqcore.student", "plots": "uqcore.plots", "io": "uqcore.io", "limits": "uqcore.limits",
}

__getattr__, _EXPORTS = lazy_exports(__name__, _NAMES_BY_MODULE, _SUBMODULES)
__all__ = ["InputError", *_EXPORTS]
