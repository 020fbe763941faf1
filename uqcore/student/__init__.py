"""The one-pass student (issue 16): a small head on the frozen network, distilled from a
training-free teacher on unlabeled images, that predicts the teacher's per-pixel variance in the
same forward pass as the prediction.

* :mod:`uqcore.student.head`  -- ``StudentHead`` (the convolutions), ``HeadConfig``, feature capture;
* :mod:`uqcore.student.files` -- ``save_student`` / ``load_student`` (safetensors + JSON card),
  ``attach_student`` (with the fit check), the bundled heads' naming;
* :mod:`uqcore.student.train` -- ``distill()`` (teacher samples through ``uqcore.estimate``,
  Gaussian / Laplace NLL around the frozen prediction, colour jitter, checkpoints, resume);
* :mod:`uqcore.student.command` -- ``python -m uqcore distill``.

Names are resolved on first use, so importing one submodule does not import the others.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "StudentHead": "uqcore.student.head",
    "HeadConfig": "uqcore.student.head",
    "save_student": "uqcore.student.files",
    "load_student": "uqcore.student.files",
    "attach_student": "uqcore.student.files",
    "read_card": "uqcore.student.files",
    "distill": "uqcore.student.train",
    "default_feature_layers": "uqcore.student.train",
    "default_teacher": "uqcore.student.train",
    "DistillResult": "uqcore.student.train",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'uqcore.student' has no attribute {name!r}")
