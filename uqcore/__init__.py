"""uqcore: training-free uncertainty estimation for dense regression networks.

Public API (module map and layers in docs/ARCHITECTURE.md; where each name lives: ``_LAZY`` below):
``list_models``, ``load_model``, ``wrap``, ``list_layers``, ``estimate`` (with ``region=`` / ``tile=``: exact boxes and tiles, ``receptive_field``,
``output_shape``), ``sweep``, ``evaluate``, ``calibrate``, ``load_calibration``, ``read_image``, ``read_depth``,
``metrics``, ``InputError``; the one-pass student (``uqcore.student``): ``distill`` (train a head on
unlabeled images), ``attach_student`` / ``load_model(..., student=PATH)``, then
``estimate(model, x, method="student")``.
Submodules are imported on first use so that ``import uqcore`` stays cheap.
"""

from __future__ import annotations

import importlib

from uqcore.errors import InputError

_LAZY = {
    "list_models": "uqcore.models",
    "load_model": "uqcore.models",
    "model_card": "uqcore.models",
    "wrap": "uqcore.models",
    "UQModel": "uqcore.models",
    "list_layers": "uqcore.engine.layers",
    "estimate": "uqcore.engine.estimate",
    "Estimate": "uqcore.engine.estimate",
    "receptive_field": "uqcore.engine.receptive",
    "output_shape": "uqcore.engine.receptive",
    "sweep": "uqcore.datasets.sweep",
    "evaluate": "uqcore.datasets.evaluate",
    "calibrate": "uqcore.calibration.intervals",
    "load_calibration": "uqcore.calibration.intervals",
    "Calibration": "uqcore.calibration.intervals",
    "read_image": "uqcore.io",
    "read_depth": "uqcore.io",
    "distill": "uqcore.student.train",
    "attach_student": "uqcore.student.files",
    "load_student": "uqcore.student.files",
}
# submodules as attributes (``uqcore.metrics``, ``from uqcore import plots``): name -> module. The
# names of the flat layout before issue 26 (``sampler``, ``tolerability``, ...) still resolve to the
# module that holds that code now.
_SUBMODULES = {
    "engine": "uqcore.engine", "models": "uqcore.models", "metrics": "uqcore.metrics", "scoring": "uqcore.scoring",
    "calibration": "uqcore.calibration", "datasets": "uqcore.datasets", "distributed": "uqcore.distributed",
    "student": "uqcore.student", "plots": "uqcore.plots", "io": "uqcore.io", "limits": "uqcore.limits",
    "methods": "uqcore.engine.methods", "perturb": "uqcore.engine.perturb", "hooks": "uqcore.engine.hooks",
    "layers": "uqcore.engine.layers", "tiling": "uqcore.engine.tiling", "receptive": "uqcore.engine.receptive",
    "positions": "uqcore.engine.positions", "memory": "uqcore.engine.memory", "sampler": "uqcore.engine.estimate",
    "evaluation": "uqcore.datasets.evaluate", "tolerability": "uqcore.datasets.sweep",
}

__all__ = ["InputError", *_LAZY, *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'uqcore' has no attribute {name!r}")
