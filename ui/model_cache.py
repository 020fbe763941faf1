"""Models for the pages: loaded once per process and shared by every browser session
(``st.cache_resource``; the core samples one ``UQModel`` safely from many threads), the session's
own models and student heads over them, and their layer tables.
"""

from __future__ import annotations

import dataclasses

import streamlit as st
import torch

import uqcore
from ui.keys import CUSTOM_MODELS, STUDENT_MODELS, STUDENT_TOKENS
from ui.run_control import show_error


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def get_model(name: str) -> uqcore.UQModel:
    return uqcore.load_model(name)


def base_model(name: str) -> uqcore.UQModel:
    """The model as loaded: the session's own model of that name, else the cached bundled one."""
    custom = st.session_state.get(CUSTOM_MODELS, {})
    return custom[name] if name in custom else get_model(name)


def model_for(name: str) -> uqcore.UQModel:
    """The model every page uses: with this session's student head when it has one for it."""
    base = base_model(name)
    own = st.session_state.get(STUDENT_MODELS, {}).get(name)
    if own is None or own.module is base.module:
        return base if own is None else own
    if name in st.session_state.get(CUSTOM_MODELS, {}):  # the own model was replaced: its head goes
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
        dict(name=i.name, kind=i.kind, shape="×".join(map(str, i.shape[1:])), parameters=i.parameter_count, label=i.label())
        for i in uqcore.list_layers(get_model(name))
    ]


def layers_for(name: str) -> list[dict]:
    """The model's injection points; when the probe run fails (a broken model), say why and stop
    the page instead of crashing it."""
    custom = st.session_state.get(CUSTOM_MODELS, {})
    try:
        if name in custom:
            return [dict(name=i.name, kind=i.kind, shape="×".join(map(str, i.shape[1:])), parameters=i.parameter_count,
                         label=i.label()) for i in uqcore.list_layers(custom[name])]
        return layer_table(name)
    except uqcore.InputError as exc:
        show_error(exc)
        st.stop()


def device_label() -> str:
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU ({torch.get_num_threads()} threads)"
