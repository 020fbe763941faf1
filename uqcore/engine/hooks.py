"""The one place forward hooks are registered.

Hooks are registered inside ``forward_hooks(...)`` and removed in ``finally``, so after any call,
success or exception, the model carries no hooks. A cached model is shared by every browser
session (each runs in its own thread), so a hook must only act for the caller that registered
it: each registration gets a token, the token is switched on in the caller's ``contextvars``
context, and the hook does nothing when it fires in any other context (another thread's forward
pass through the same module).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from torch import nn

# fn(module, inputs, output) -> replacement output or None
PostHook = Callable[[nn.Module, tuple, object], object]
# fn(module, inputs) -> None (observation only)
PreHook = Callable[[nn.Module, tuple], None]

_ACTIVE: ContextVar[frozenset[int]] = ContextVar("uqcore_active_hooks", default=frozenset())
_TOKENS = itertools.count()


def _guarded(token: int, fn):
    def hook(*args):
        if token in _ACTIVE.get():
            return fn(*args)
        return None

    return hook


@contextmanager
def forward_hooks(
    post: Mapping[nn.Module, PostHook] | None = None,
    pre: Mapping[nn.Module, PreHook] | None = None,
) -> Iterator[None]:
    """Register forward (post) and pre-forward hooks that act only in the calling context."""
    token = next(_TOKENS)
    handles = []
    reset = _ACTIVE.set(_ACTIVE.get() | {token})
    try:
        for module, fn in (pre or {}).items():
            handles.append(module.register_forward_pre_hook(_guarded(token, fn)))
        for module, fn in (post or {}).items():
            handles.append(module.register_forward_hook(_guarded(token, fn)))
        yield
    finally:
        for handle in handles:
            handle.remove()
        _ACTIVE.reset(reset)


def hook_count(module: nn.Module) -> int:
    """Number of forward / pre-forward hooks left anywhere in ``module`` (0 after every call)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())
