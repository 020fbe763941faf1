"""The dashboard's one source of truth for the current setting, and widgets bound to it.

Streamlit forgets a widget's value when a page that does not draw it runs, so no setting lives
in a widget key: the setting is a plain dict in ``st.session_state`` that every page reads and
writes, widgets are drawn from it (:func:`bound`) and write back to it when the user changes
them. The URL mirrors it (:func:`to_url`), and a new session opened on such a URL starts from it
(:func:`init`), so a view can be bookmarked and shared.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st

SETTING = "setting"
TASKS = {"sr": "Super-resolution", "depth": "Depth"}
DEFAULTS: dict[str, Any] = dict(task="sr", model=None, source="sample", sample=None, method=None, layer=None,
                                strength=None, samples=8, seed=0, auto=False, region=None)
SOURCES = ("sample", "upload")
MAX_SAMPLES = 64


def _parse(field: str, text: str) -> Any:
    """One URL value -> the setting's type; ValueError when it cannot be one."""
    if field in ("samples", "seed"):
        value = int(text)
        if not 0 <= value < 2**31:
            raise ValueError(text)
        return value
    if field == "strength":
        value = float(text)
        if not math.isfinite(value) or value < 0:
            raise ValueError(text)
        return value
    if field == "region":  # "top,left,height,width" in output pixels (Explore's inspected region)
        value = tuple(int(v) for v in text.split(","))
        if len(value) != 4 or min(value) < 0 or min(value[2:]) < 1:
            raise ValueError(text)
        return value
    if field == "auto":
        if text.lower() not in ("1", "0", "true", "false"):
            raise ValueError(text)
        return text.lower() in ("1", "true")
    if field == "task" and text not in TASKS:
        raise ValueError(text)
    if field == "source" and text not in SOURCES:
        raise ValueError(text)
    return text


def init() -> None:
    """Create the session's setting once, from the URL's query parameters where they parse
    (what does not fit the models is corrected later by ``ui.session.resolve``)."""
    if SETTING in st.session_state:
        return
    setting = dict(DEFAULTS)
    ignored = []
    for field in DEFAULTS:
        if field in st.query_params:
            try:
                setting[field] = _parse(field, st.query_params[field])
            except ValueError:
                ignored.append(field)
    # a URL that names a method or model is a view to restore, not a visit to give defaults
    setting["from_url"] = any(f in st.query_params for f in ("model", "method", "layer", "strength"))
    st.session_state[SETTING] = setting
    st.session_state["url_ignored"] = ignored


def current() -> dict[str, Any]:
    init()
    return st.session_state[SETTING]


def update(**changes: Any) -> None:
    current().update(changes)


def to_url() -> None:
    """Mirror the setting into the address bar (only what differs, so no needless updates)."""
    setting = current()
    wanted = {f: _text(setting[f]) for f in DEFAULTS if setting.get(f) is not None}
    if setting.get("source") == "upload":
        wanted.pop("sample", None)  # an upload cannot be bookmarked; the URL says "upload"
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _write_back(store: str, field: str, key: str, after: Callable[[], None] | None) -> None:
    st.session_state[store][field] = st.session_state[key]
    if after is not None:
        after()


_UNSET = object()


def bound(widget: Callable, label: str, field: str, *, store: str = SETTING,
          after: Callable[[], None] | None = None, shown: Any = _UNSET, **kwargs) -> Any:
    """Draw ``widget`` (e.g. ``st.selectbox`` or ``column.slider``) showing
    ``st.session_state[store][field]`` (or ``shown``, when what is used differs from what was
    asked for); a change by the user goes back into that dict, then ``after()`` runs, before
    the page does."""
    key = field if store == SETTING else f"{store}.{field}"  # short keys: tests find widgets by them
    value = st.session_state[store][field] if shown is _UNSET else shown
    if isinstance(value, tuple):
        # a range slider takes its mode from ``value=``, which Streamlit refuses together with a
        # value set through the key; only the page owning the store changes a range, so the
        # widget's own state is current while it is drawn, and ``value=`` restores it after.
        kwargs["value"] = value
    else:
        st.session_state[key] = value
    return widget(label, key=key, on_change=_write_back, args=(store, field, key, after), **kwargs)


def page_store(name: str, defaults: dict[str, Any]) -> str:
    """A page's own settings (e.g. the Tolerability grid), kept across page changes like the
    setting; returns the store's key for :func:`bound`."""
    store = st.session_state.setdefault(name, {})
    for field, value in defaults.items():
        store.setdefault(field, value)
    return name
