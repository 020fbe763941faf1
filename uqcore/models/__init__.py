"""Model wrapper, zoo registry and loaders."""

from uqcore.models.base import UQModel, wrap
from uqcore.models.registry import list_models, load_model, model_card

__all__ = ["UQModel", "wrap", "list_models", "load_model", "model_card"]
