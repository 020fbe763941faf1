"""The one module between Streamlit and the core: cached models, cached results, the sidebar.

Models are cached process-wide (``st.cache_resource``): every browser session shares one
``UQModel``, which the core samples safely from many threads. Results are cached per session
in a small LRU keyed by everything that changes them, so revisiting settings or changing only
display options never recomputes, and one session's results never show in another's.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st
import torch

import uqcore
from uqcore.models.registry import ASSETS

TASKS = {"sr": "Super-resolution", "depth": "Depth"}
DEFAULT_MODEL = {"sr": "srresnet", "depth": "fcrn"}
RESULT_CACHE_SIZE = 24
SHARED_CACHE_SIZE = 64
SAMPLES_DIR = ASSETS / "samples"


def init_session() -> None:
    """Session defaults (called by app.py before any page runs)."""
    defaults = {"task": "sr", "custom_models": {}, "explore_carry": None}
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def get_model(name: str) -> uqcore.UQModel:
    return uqcore.load_model(name)


def model_for(name: str) -> uqcore.UQModel:
    custom = st.session_state.get("custom_models", {})
    return custom[name] if name in custom else get_model(name)


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


def sidebar() -> tuple[str, str]:
    """Task, model and device, on every page. Returns (task, model name)."""
    with st.sidebar:
        task = st.radio("Task", list(TASKS), format_func=TASKS.get, key="task", horizontal=True)
        names = uqcore.list_models(task) + [
            n for n, m in st.session_state.get("custom_models", {}).items() if m.task == task
        ]
        if not names:
            st.error(f"No {TASKS[task].lower()} model is available; see the Models page.")
            st.stop()
        key = f"model_{task}"
        if st.session_state.get(key) not in names:
            st.session_state[key] = DEFAULT_MODEL[task] if DEFAULT_MODEL[task] in names else names[0]
        name = st.selectbox("Model", names, key=key)
        st.caption(f"Device: {device_label()}")
    return task, name


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


@st.cache_resource
def _shared_results() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


def cached_result(key: str, compute, *, shared: bool = False):
    """Per-session LRU: return the stored result for ``key`` or compute and store it.

    ``shared``: also look in, and add to, a process-wide LRU. Only for results that involve
    nothing of any user's (a bundled model on a bundled sample), so one visitor's default view
    is every later visitor's too, without recomputing; uploads and own models stay per session.
    """
    store: OrderedDict = st.session_state.setdefault("_results", OrderedDict())
    if key in store:
        store.move_to_end(key)
        return store[key]
    if shared:
        common, lock = _shared_results()
        with lock:
            value = common.get(key)
        if value is None:
            value = compute()
            with lock:
                common[key] = value
                while len(common) > SHARED_CACHE_SIZE:
                    common.popitem(last=False)
    else:
        value = compute()
    store[key] = value
    while len(store) > RESULT_CACHE_SIZE:
        store.popitem(last=False)
    return value


def is_bundled(model_name: str, prefix: str) -> bool:
    """True when the page's input is a bundled sample and the model a bundled one."""
    return (st.session_state.get(f"{prefix}_source") == "Bundled sample"
            and model_name not in st.session_state.get("custom_models", {}))


def progress_callback(bar, label: str):
    def update(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done}/{total}")

    return update


def show_error(exc: Exception) -> None:
    """Bad input or a failing model: say what is wrong and what to do; keep the app alive."""
    st.error(str(exc), icon="⚠️")


def run_on_click(label: str, name: str, key: str, compute, *, disabled: bool = False, progress_text: str = "Working…"):
    """A primary button that runs ``compute(progress)`` (cached per session under ``key``) and
    keeps the latest result in ``st.session_state[name]``. Returns the rows, or stops the page
    with a hint when nothing has run yet; warns when the settings changed since the last run."""
    if st.button(label, type="primary", disabled=disabled, key=f"{name}_run"):
        def run():
            bar = st.progress(0.0, text=progress_text)
            try:
                return compute(progress_callback(bar, progress_text.rstrip("…")))
            finally:
                bar.empty()

        try:
            st.session_state[name] = (key, cached_result(key, run))
        except uqcore.InputError as exc:
            show_error(exc)
            st.stop()
    saved = st.session_state.get(name)
    if not saved:
        st.info(f"Choose the settings, then press **{label}**.")
        st.stop()
    saved_key, rows = saved
    if saved_key != key:
        st.warning(f"The settings changed since the last run; press **{label}** to update the results.")
    return rows
