"""The dashboard's glue between Streamlit and the core: cached models, cached results, runs
that show progress and can be stopped.

Models are cached process-wide (``st.cache_resource``): every browser session shares one
``UQModel``, which the core samples safely from many threads. Results are cached per session
in a small LRU keyed by everything that changes them, so revisiting settings or changing only
display options never recomputes, and one session's results never show in another's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st
import torch

import uqcore
from uqcore.models.registry import SAMPLES_DIR  # the gallery (checkout or installed wheel)

RESULT_CACHE_SIZE = 24
SHARED_CACHE_SIZE = 64


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def get_model(name: str) -> uqcore.UQModel:
    return uqcore.load_model(name)


# name -> this session's copy of the model with a student head of its own (ui.student); the
# cached model itself is shared by every session and never gets one attached.
STUDENT_MODELS = "student_models"
STUDENT_TOKENS = "student_tokens"  # name -> an id of that head (part of result keys)


def base_model(name: str) -> uqcore.UQModel:
    """The model as loaded: the session's own model of that name, else the cached bundled one."""
    custom = st.session_state.get("custom_models", {})
    return custom[name] if name in custom else get_model(name)


def model_for(name: str) -> uqcore.UQModel:
    """The model every page uses: with this session's student head when it has one for it."""
    base = base_model(name)
    own = st.session_state.get(STUDENT_MODELS, {}).get(name)
    if own is None or own.module is base.module:
        return base if own is None else own
    if name in st.session_state.get("custom_models", {}):  # the own model was replaced: its head goes
        drop_student(name)
        return base
    # the cache reloaded the bundled model: the same network, so the same head fits it
    own = dataclasses.replace(base, card=dict(base.card), student=own.student, student_card=own.student_card)
    st.session_state[STUDENT_MODELS][name] = own
    return own


def drop_student(name: str) -> None:
    st.session_state.get(STUDENT_MODELS, {}).pop(name, None)
    st.session_state.get(STUDENT_TOKENS, {}).pop(name, None)


def head_token(name: str) -> str:
    """An id of this session's own head for model ``name`` ("" without one): part of every
    result key that a head changes, so a new head never shows an old head's result."""
    return st.session_state.get(STUDENT_TOKENS, {}).get(name, "")


@st.cache_data(show_spinner=False, max_entries=64)
def layer_table(name: str) -> list[dict]:
    return [
        dict(name=i.name, kind=i.kind, shape="×".join(map(str, i.shape[1:])), parameters=i.parameters, label=i.label())
        for i in uqcore.list_layers(get_model(name))
    ]


def layers_for(name: str) -> list[dict]:
    """The model's injection points; when the probe run fails (a broken model), say why and stop
    the page instead of crashing it."""
    custom = st.session_state.get("custom_models", {})
    try:
        if name in custom:
            return [dict(name=i.name, kind=i.kind, shape="×".join(map(str, i.shape[1:])), parameters=i.parameters,
                         label=i.label()) for i in uqcore.list_layers(custom[name])]
        return layer_table(name)
    except uqcore.InputError as exc:
        show_error(exc)
        st.stop()


def device_label() -> str:
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def sample_files(task: str) -> list[Path]:
    folder = SAMPLES_DIR / task
    if task == "depth":
        return sorted(p for p in folder.glob("*.png") if not p.stem.endswith("_depth"))
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")) if folder.exists() else []


@st.cache_data(show_spinner=False, max_entries=256)
def thumbnail(path: str, side: int = 144) -> bytes:
    """A small PNG of a gallery image: the browser gets kilobytes, not the full-size sample."""
    from io import BytesIO

    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        buffer = BytesIO()
        img.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def depth_file_for(rgb: Path) -> Path | None:
    for suffix in ("_depth.png", "_depth.npy"):
        candidate = rgb.with_name(rgb.stem + suffix)
        if candidate.exists():
            return candidate
    return None


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


# The stores: results, and figures drawn from them (a figure is about 0.65 MB; the shared store
# holds SHARED_CACHE_SIZE of each kind).
RESULTS, FIGURES = "_results", "_figures"


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


# -- runs that can be watched and stopped ----------------------------------------------------------
# A run reports what it has so far (``report(partial)``) into the session before each redraw.
# Pressing Stop reruns the script (Streamlit interrupts the running one at its next redraw); the
# Stop button's callback marks the run's key as stopped, so that rerun shows the partial result
# instead of starting again.

def _stop(key: str) -> None:
    st.session_state["_stopped"] = key


def _resume(key: str) -> None:
    if st.session_state.get("_stopped") == key:
        st.session_state["_stopped"] = None
    st.session_state["_run_now"] = key


def stopped_partial(key: str):
    """The partial result of a run that the user stopped, or None."""
    partial = st.session_state.get("_partial")
    if st.session_state.get("_stopped") == key and partial and partial[0] == key:
        return partial[1]
    return None


def stopped_early(key: str) -> bool:
    """The user stopped the run for ``key`` before it had any result to keep (the page then says
    so and offers to run it, instead of starting it again)."""
    return st.session_state.get("_stopped") == key and stopped_partial(key) is None


def run_stoppable(key: str, compute, *, shared: bool = False, label: str = "Working…"):
    """``compute(report, progress)`` under a Stop button; returns its result (stored for ``key``).
    ``report(partial)`` keeps what the run has so far for a Stop; ``progress(done, total)``
    moves the bar."""
    slot = st.empty()
    with slot.container():
        bar_col, stop_col = st.columns([6, 1], vertical_alignment="center")
        bar = bar_col.progress(0.0, text=label)
        stop_col.button("Stop", key=f"stop_{key[:12]}", on_click=_stop, args=(key,), icon=":material/stop:")

    def report(partial) -> None:
        st.session_state["_partial"] = (key, partial)

    try:
        value = compute(report, progress_callback(bar, label.rstrip("…")))
    finally:
        slot.empty()
    remember(key, value, shared=shared)
    st.session_state["_partial"] = None
    return value


def resume_button(key: str, text: str) -> None:
    """Under a stopped result: say so, and offer to run it to the end."""
    left, right = st.columns([6, 1], vertical_alignment="center")
    left.warning(text, icon=":material/stop_circle:")
    right.button("Run to the end", key=f"resume_{key[:12]}", on_click=_resume, args=(key,))


def progress_callback(bar, label: str):
    def update(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done}/{total}")

    return update


def check_upload(file, limit_mb: int, what: str = "uploads") -> None:
    """An InputError for an uploaded file above ``limit_mb`` (the browser enforces the uploader's
    limit too; this is the server-side check)."""
    if file is not None and file.size > limit_mb * 2**20:
        raise uqcore.InputError(f"{file.name} is {file.size / 2**20:,.1f} MB; {what} are limited to {limit_mb} MB")


def show_error(exc: Exception) -> None:
    """Bad input or a failing model: say what is wrong and what to do; keep the app alive."""
    st.error(str(exc), icon="⚠️")


def run_on_click(label: str, name: str, key: str, compute, *, disabled: bool = False,
                 progress_text: str = "Working…", partial_note: str = "results so far"):
    """A table-style run (Compare, Tolerability): results for these settings show at once when
    they were computed before (in this session); otherwise a primary button runs
    ``compute(report, progress)`` under a Stop button. Returns (rows, complete), or stops the
    page with a hint when there is nothing to show yet."""
    rows = lookup(key)
    if rows is not None:
        st.session_state[name] = key
        return rows, True
    pressed = st.button(label, type="primary", disabled=disabled, key=f"{name}_run")
    if st.session_state.get("_run_now") == key:  # "Run to the end" after a Stop
        st.session_state["_run_now"], pressed = None, True
    if pressed:
        st.session_state["_stopped"] = None
        try:
            rows = run_stoppable(key, compute, label=progress_text)
        except uqcore.InputError as exc:
            show_error(exc)
            st.stop()
        st.session_state[name] = key
        return rows, True
    partial = stopped_partial(key)
    if partial:
        resume_button(key, f"Stopped: {partial_note} ({len(partial)}).")
        return partial, False
    previous = st.session_state.get(name)
    if previous and lookup(previous) is not None:
        st.warning(f"The settings changed since the last run; press **{label}** to update the results.")
        return lookup(previous), True
    st.info(f"Choose the settings, then press **{label}**.")
    st.stop()
