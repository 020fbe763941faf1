"""The bundled architectures, registered by name (timm-style):

    @register_architecture("srresnet")
    class SRResNet(nn.Module): ...

A model card's ``config.architecture`` names one of them; :func:`build_architecture` builds it with
``config.arch_kwargs``. The registry (:mod:`uqcore.models.registry`) imports the modules that
register the bundled ones; this module imports none of them (no cycle)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from uqcore.errors import InputError

_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}
T = TypeVar("T", bound=Callable[..., nn.Module])


def register_architecture(name: str) -> Callable[[T], T]:
    """Class or factory decorator: cards may name it as ``architecture: name``. A name is
    registered once (a second, different registration is a programming error)."""

    def decorate(factory: T) -> T:
        known = _ARCHITECTURES.get(name)
        if known is not None and known is not factory and _qualname(known) != _qualname(factory):
            raise ValueError(f"architecture {name!r} is already registered ({_qualname(known)})")
        _ARCHITECTURES[name] = factory
        return factory

    return decorate


def _qualname(factory: Callable[..., Any]) -> str:
    return f"{factory.__module__}.{getattr(factory, '__qualname__', factory)}"


def list_architectures() -> list[str]:
    return sorted(_ARCHITECTURES)


def architecture(name: str) -> Callable[..., nn.Module]:
    if name not in _ARCHITECTURES:
        raise InputError(f"unknown architecture {name!r}; known: {', '.join(list_architectures())}")
    return _ARCHITECTURES[name]


def build_architecture(name: str, **kwargs: Any) -> nn.Module:
    """The network ``name`` built with ``kwargs`` (a card's ``arch_kwargs``)."""
    return architecture(name)(**kwargs)
