"""uqcore: training-free uncertainty estimation for dense regression networks.

Public API (module map in docs/ARCHITECTURE.md): ``list_models``, ``load_model``, ``wrap``, ``list_layers``,
``estimate`` (with ``region=`` / ``tile=``: exact boxes and tiles, ``receptive_field``,
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
    "list_layers": "uqcore.layers",
    "estimate": "uqcore.sampler",
    "Estimate": "uqcore.sampler",
    "receptive_field": "uqcore.receptive",
    "output_shape": "uqcore.receptive",
    "sweep": "uqcore.tolerability",
    "evaluate": "uqcore.evaluation",
    "calibrate": "uqcore.calibration",
    "load_calibration": "uqcore.calibration",
    "Calibration": "uqcore.calibration",
    "read_image": "uqcore.io",
    "read_depth": "uqcore.io",
    "distill": "uqcore.student.train",
    "attach_student": "uqcore.student.files",
    "load_student": "uqcore.student.files",
}
_SUBMODULES = {"metrics", "plots", "io", "perturb", "hooks", "sampler", "layers", "models", "methods", "scoring",
               "evaluation", "tolerability", "calibration", "datasets", "student", "tiling",
               "receptive", "positions", "memory"}

__all__ = ["InputError", *_LAZY, *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"uqcore.{name}")
    raise AttributeError(f"module 'uqcore' has no attribute {name!r}")
