"""Runs that can be watched and stopped, and what the user sees when something goes wrong.

A run reports what it has so far (``report(partial)``) into the session before each redraw.
Pressing Stop reruns the script (Streamlit interrupts the running one at its next redraw); the
Stop button's callback marks the run's key as stopped, so that rerun shows the partial result
instead of starting again.
"""

from __future__ import annotations

import streamlit as st

import uqcore
from ui.keys import PARTIAL, RUN_NOW, STOPPED
from ui.result_cache import lookup, remember
from uqcore.progress import Progress


def _stop(key: str) -> None:
    st.session_state[STOPPED] = key


def _resume(key: str) -> None:
    if st.session_state.get(STOPPED) == key:
        st.session_state[STOPPED] = None
    st.session_state[RUN_NOW] = key


def stopped_partial(key: str):
    """The partial result of a run that the user stopped, or None."""
    partial = st.session_state.get(PARTIAL)
    if st.session_state.get(STOPPED) == key and partial and partial[0] == key:
        return partial[1]
    return None


def stopped_early(key: str) -> bool:
    """The user stopped the run for ``key`` before it had any result to keep (the page then says
    so and offers to run it, instead of starting it again)."""
    return st.session_state.get(STOPPED) == key and stopped_partial(key) is None


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
        st.session_state[PARTIAL] = (key, partial)

    try:
        value = compute(report, progress_callback(bar, label.rstrip("…")))
    finally:
        slot.empty()
    remember(key, value, shared=shared)
    st.session_state[PARTIAL] = None
    return value


def resume_button(key: str, text: str) -> None:
    """Under a stopped result: say so, and offer to run it to the end."""
    left, right = st.columns([6, 1], vertical_alignment="center")
    left.warning(text, icon=":material/stop_circle:")
    right.button("Run to the end", key=f"resume_{key[:12]}", on_click=_resume, args=(key,))


def progress_callback(bar, label: str) -> Progress:
    """A st.progress bar as the core's progress protocol (``progress(done, total)``)."""
    def update(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done}/{total}")

    return update


def show_error(exc: Exception) -> None:
    """Bad input or a failing model: say what is wrong and what to do; keep the app alive."""
    st.error(str(exc), icon="⚠️")


def check_upload(file, limit_mb: int, what: str = "uploads") -> None:
    """An InputError for an uploaded file above ``limit_mb`` (the browser enforces the uploader's
    limit too; this is the server-side check)."""
    if file is not None and file.size > limit_mb * 2**20:
        raise uqcore.InputError(f"{file.name} is {file.size / 2**20:,.1f} MB; {what} are limited to {limit_mb} MB")


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
    if st.session_state.get(RUN_NOW) == key:  # "Run to the end" after a Stop
        st.session_state[RUN_NOW], pressed = None, True
    if pressed:
        st.session_state[STOPPED] = None
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
