"""The bundled zoo's architectures, the registry (``list_models``, ``load_model``, ``model_card``) and
``loaders/`` (one file per user-model format). The model wrapper (``UQModel``, ``wrap``) is the
engine's, :mod:`uqcore.engine.model`; it resolves here too.

Names are resolved on first use: importing ``uqcore.engine.model`` (which the student head, the
layers and ``estimate`` need) must not import the registry, which attaches bundled student heads
(``uqcore.models.student_files`` imports ``uqcore.engine.model``)."""

from __future__ import annotations

import importlib

_LAZY = {"UQModel": "uqcore.engine.model", "wrap": "uqcore.engine.model", "list_models": "uqcore.models.registry",
         "load_model": "uqcore.models.registry", "model_card": "uqcore.models.registry"}

__all__ = ["UQModel", "wrap", "list_models", "load_model", "model_card"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'uqcore.models' has no attribute {name!r}")
