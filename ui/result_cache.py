"""Results cached per session in a small LRU keyed by everything that changes them, so revisiting
settings or changing only display options never recomputes, and one session's results never show
in another's; results that involve nothing of any user's are also kept process-wide.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import streamlit as st
import torch

from ui.keys import RESULTS

RESULT_CACHE_SIZE = 24
SHARED_CACHE_SIZE = 64  # of each kind (results, figures)


def digest(*parts) -> str:
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, torch.Tensor):
            h.update(part.detach().cpu().contiguous().numpy().tobytes())
            h.update(str(tuple(part.shape)).encode())
        elif isinstance(part, (bytes, bytearray)):
            h.update(part)
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


@st.cache_resource
def _shared_store(name: str) -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


def lookup(key: str, *, shared: bool = False, store_name: str = RESULTS):
    """The value stored for ``key`` in ``store_name`` (a result, or a figure drawn from one): this
    session's LRU, then, for ``shared`` ones, the process-wide one; None if absent."""
    store: OrderedDict = st.session_state.setdefault(store_name, OrderedDict())
    if key in store:
        store.move_to_end(key)
        return store[key]
    if shared:
        common, lock = _shared_store(store_name)
        with lock:
            value = common.get(key)
        if value is not None:
            _keep(store, key, value, RESULT_CACHE_SIZE)
        return value
    return None


def remember(key: str, value, *, shared: bool = False, store_name: str = RESULTS) -> None:
    """Store a finished result (or a figure drawn from one) in ``store_name``. ``shared``: also
    process-wide, for values that involve nothing
    of any user's (a bundled model on a bundled sample), so one visitor's default view is every
    later visitor's too; uploads and own models stay per session."""
    _keep(st.session_state.setdefault(store_name, OrderedDict()), key, value, RESULT_CACHE_SIZE)
    if shared:
        common, lock = _shared_store(store_name)
        with lock:
            _keep(common, key, value, SHARED_CACHE_SIZE)


def _keep(store: OrderedDict, key: str, value, size: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > size:
        store.popitem(last=False)


def cached_result(key: str, compute, *, shared: bool = False, store_name: str = RESULTS):
    """Return the stored result for ``key`` or compute and store it."""
    value = lookup(key, shared=shared, store_name=store_name)
    if value is None:
        value = compute()
        remember(key, value, shared=shared, store_name=store_name)
    return value
