"""The bundled zoo's architectures, the registry (``list_models``, ``load_model``, ``model_card``) and
``loaders/`` (one file per user-model format). The model wrapper (``UQModel``, ``wrap``) is the
engine's, :mod:`uqcore.engine.model`; it resolves here too.

Names are resolved on first use: importing ``uqcore.engine.model`` (which the student head, the
layers and ``estimate`` need) must not import the registry, which attaches bundled student heads
(``uqcore.models.student_files`` imports ``uqcore.engine.model``)."""

from __future__ import annotations

from uqcore.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "uqcore.engine.model": ["UQModel", "wrap"],
    "uqcore.models.registry": ["list_models", "load_model", "model_card"],
})
