"""Models: the bundled zoo with model cards, and a layer browser for the selected model."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import uqcore
from pages import glue

task, model_name = glue.sidebar()
st.title("Models")

st.subheader("Bundled zoo")
for name in uqcore.list_models():
    card = uqcore.model_card(name)
    summary = card.get("description") or card.get("architecture", "")
    with st.expander(f"**{name}** · {glue.TASKS.get(card['task'], card['task'])} · ×{card.get('scale', 1)} · {summary}"[:200],
                     expanded=name == model_name):
        st.code(json.dumps(card, indent=2, ensure_ascii=False), language="json")

st.subheader(f"Layers of {model_name}")
try:
    model = glue.model_for(model_name)
    rows = glue.layers_for(model_name)
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()
st.caption(f"{model.parameters:,} parameters · methods: {', '.join(model.methods)} · output shapes for a "
           f"{model.probe_size[0]}×{model.probe_size[1]} probe input")
frame = pd.DataFrame(rows)[["name", "kind", "shape", "parameters"]]
query = st.text_input("Filter layers", key="models_filter", placeholder="e.g. body.4 or Conv2d")
if query:
    frame = frame[frame["name"].str.contains(query, regex=False) | frame["kind"].str.contains(query, regex=False)]
st.dataframe(frame, width="stretch", hide_index=True)
