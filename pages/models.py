"""Models: the bundled zoo with model cards, loading your own model, and a layer browser for the
selected model."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import uqcore
from ui import glue, session
from ui.state import TASKS
from ui.state import current as current_setting
from uqcore import limits, methods
from uqcore.models import loaders

MODEL_TYPES = ["pth", "pt", "ckpt", "bin", "safetensors", "ts", "torchscript", "jit", "json"]
TASK_CHOICES = {"detect": "Detect", "sr": "Super-resolution", "depth": "Depth"}
RANGE_CHOICES = {"0-1": "[0, 1]", "0-255": "[0, 255]", "-1-1": "[-1, 1]"}
# Set UQCORE_ALLOW_LOCAL_MODELS=0 when the dashboard is shared: paths and module:factory specs
# read the server's disk and import the server's Python code.
ALLOW_LOCAL = limits.allow_local_models()


def _upload_limit_mb() -> int:
    try:
        return int(st.get_option("server.maxUploadSize"))
    except Exception:  # option missing in an unusual Streamlit setup
        return 200


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "model"
    return cleaned[:100]


def _unique_name(wanted: str) -> str:
    """Never shadow a bundled model; a name already loaded in this session is replaced."""
    zoo = set(uqcore.list_models())
    name = wanted
    count = 2
    while name in zoo:
        name = f"{wanted}-{count}"
        count += 1
    return name


def _from_upload(files, options: dict) -> uqcore.UQModel:
    if not files:
        raise uqcore.InputError("choose a model file to upload first")
    limit = _upload_limit_mb()
    for f in files:
        if f.size > limit * 2**20:
            raise uqcore.InputError(f"{f.name} is {f.size / 2**20:,.1f} MB; uploads are limited to {limit} MB "
                                    "(server.maxUploadSize in .streamlit/config.toml). Give a path instead")
    sidecars = [f for f in files if f.name.lower().endswith(".json")]
    weights = [f for f in files if not f.name.lower().endswith(".json")]
    if len(weights) != 1 or len(sidecars) > 1:
        raise uqcore.InputError("upload exactly one model file, plus at most one .json sidecar for TorchScript")
    folder = Path(tempfile.mkdtemp(prefix="uqcore_upload_"))
    try:
        target = folder / _safe_name(weights[0].name)
        target.write_bytes(weights[0].getvalue())
        if sidecars:  # the sidecar is found by the model file's stem
            target.with_suffix(".json").write_bytes(sidecars[0].getvalue())
        model = loaders.load_user_model(target, max_bytes=limit * 2**20, **options)
        model.card["source"] = f"upload: {weights[0].name}" + (f" + {sidecars[0].name}" if sidecars else "")
        return model
    finally:  # everything is in memory now; the uploaded copy is not kept
        shutil.rmtree(folder, ignore_errors=True)


def _from_spec(spec: str, weights: str, options: dict) -> uqcore.UQModel:
    if not ALLOW_LOCAL:
        raise uqcore.InputError("loading from paths is switched off on this server (UQCORE_ALLOW_LOCAL_MODELS=0)")
    if not spec.strip():
        raise uqcore.InputError("enter a path, a 'package.module:factory' or a Hugging Face model id first")
    if weights.strip():
        options["weights"] = weights.strip()
    return loaders.load_user_model(spec.strip(), **options)


def load_own_model() -> None:
    """Button callback (runs before the page, so it may select the model in the sidebar)."""
    state, setting = st.session_state, current_setting()
    options = {}
    if state.get("own_task", "detect") != "detect":
        options["task"] = state["own_task"]
    if int(state.get("own_scale") or 0) > 0:
        options["scale"] = int(state["own_scale"])
    if state.get("own_range", "0-1") != "0-1":
        options["input_range"] = state["own_range"]
    if (state.get("own_name") or "").strip():
        options["name"] = _safe_name(state["own_name"].strip())
    try:
        if state.get("own_source") == "path":
            model = _from_spec(state.get("own_spec", ""), state.get("own_weights", ""), options)
        else:
            model = _from_upload(state.get("own_upload") or [], options)
    except uqcore.InputError as exc:
        state["own_result"] = {"error": str(exc)}
        return
    except Exception as exc:  # a broken model must not take the page down
        state["own_result"] = {"error": f"could not load the model: {type(exc).__name__}: {exc}"}
        return
    notes = []
    if model.task == "image":  # the dashboard's tasks are sr and depth; a ×1 image model runs as "sr"
        model.task = "sr"
        notes.append("an image-to-image model at ×1: listed under Super-resolution")
    model.name = _unique_name(model.name)
    state.setdefault("custom_models", {})[model.name] = model
    setting.update(task=model.task, model=model.name, resolved_for=None)  # selected on every page
    state["own_result"] = {"name": model.name, "notes": notes}


def remove_own_model(name: str) -> None:
    custom = st.session_state.get("custom_models", {})
    model = custom.pop(name, None)
    if model is not None and current_setting()["model"] == name:
        current_setting().update(model=None, resolved_for=None)  # back to the task's default model
    result = st.session_state.get("own_result") or {}
    if result.get("name") == name:
        st.session_state["own_result"] = None


def own_model_section() -> None:
    st.subheader("Load your own model")
    st.caption(
        "Super-resolution checkpoints of any architecture spandrel recognises (.pth / .pt / .safetensors: ESRGAN, "
        "SwinIR, HAT, EDSR, RCAN, …), TorchScript files (with a .json sidecar giving task / scale / input range), "
        "Hugging Face depth models (a local save_pretrained directory or a hub id) and `package.module:factory` "
        "callables. Weights are read with safetensors or a weights-only loader: a file that would run code is "
        "refused. See docs/OWN_MODELS.md."
    )
    sources = {"upload": "Upload a file", "path": "Path, module:factory or Hugging Face id"}
    if not ALLOW_LOCAL:
        sources.pop("path")
    source = st.radio("Source", list(sources), format_func=sources.get, horizontal=True, key="own_source")
    if source == "path":
        st.text_input("Model", key="own_spec",
                      placeholder="/models/RealESRGAN_x4plus.pth · /models/dpt-hybrid/ · mypkg.nets:build · Intel/dpt-large")
        st.text_input("Weights for a module:factory (optional)", key="own_weights",
                      placeholder="/models/weights.safetensors")
    else:
        st.file_uploader(
            f"Model file (up to {_upload_limit_mb()} MB), plus its .json sidecar for TorchScript",
            type=MODEL_TYPES, accept_multiple_files=True, key="own_upload",
            help="Hugging Face directories cannot be uploaded; give their path instead.",
        )
    c1, c2, c3, c4 = st.columns(4)
    c1.selectbox("Task", list(TASK_CHOICES), format_func=TASK_CHOICES.get, key="own_task",
                 help="Detect: spandrel and Hugging Face say it; otherwise the sidecar, or a probe run guesses it")
    c2.number_input("Scale (0 = detect)", min_value=0, max_value=16, value=0, step=1, key="own_scale")
    c3.selectbox("Input range (TorchScript / factory)", list(RANGE_CHOICES), format_func=RANGE_CHOICES.get,
                 key="own_range", help="What the network expects; the engine keeps feeding [0, 1] and rescales")
    c4.text_input("Name (optional)", key="own_name")
    st.button("Load model", type="primary", key="own_load", on_click=load_own_model)

    result = st.session_state.get("own_result")
    custom = st.session_state.get("custom_models", {})
    if result and result.get("error"):
        glue.show_error(uqcore.InputError(result["error"]))
    elif result and result.get("name") in custom:
        model = custom[result["name"]]
        info = loaders.describe(model)
        st.success(f"Loaded **{model.name}**: {info['architecture']} ({info['format']}) · "
                   f"{TASKS.get(model.task, model.task)} · ×{model.scale} · {model.parameters:,} parameters "
                   "— selected in the sidebar for every page.", icon="✅")
        for note in result.get("notes", []):
            st.caption(note)
        for method, reason in model.disabled_methods.items():
            st.caption(f"{method} is not offered: {reason}.")
    if custom:
        st.markdown("**Your models (this session)**")
        st.dataframe(pd.DataFrame([loaders.describe(m) for m in custom.values()]), width="stretch", hide_index=True)
        for name, model in list(custom.items()):
            with st.expander(f"{name}: detected settings"):
                st.code(json.dumps(model.card, indent=2, ensure_ascii=False, default=str), language="json")
                st.button("Remove", key=f"own_remove_{name}", on_click=remove_own_model, args=(name,))


def card_summary(card: dict) -> None:
    """A model card as a person reads it: what it is, what it was trained on, how good it is, and
    the setting Explore opens on. The full card stays one click away."""
    st.markdown(card.get("description") or card.get("architecture", ""))
    facts = [("Architecture", f"{card.get('architecture', '?')} · ×{card.get('scale', 1)} · "
                              f"{card.get('parameters', 0):,} parameters" + (f" · {card['members']} members"
                                                                            if card.get("members", 1) > 1 else ""))]
    if card.get("input_range"):
        facts.append(("Input / output", card["input_range"]))
    training = card.get("training") or {}
    data = training.get("data") or (training.get("stages") or [{}])[-1].get("data")
    if data:
        folder = data.get("folder", data) if isinstance(data, dict) else data
        count = len(data.get("images", [])) if isinstance(data, dict) else 0
        facts.append(("Training data", f"{folder}" + (f" ({count} images)" if count else "")
                      + (f"; {data['sources']}" if isinstance(data, dict) and data.get("sources") else "")))
    if training.get("total_train_seconds"):
        facts.append(("Training time", f"{training['total_train_seconds'] / 60:,.0f} min"))
    quality = card.get("eval", {}).get("mean") or card.get("metrics", {}).get("model")
    if quality:
        where = card.get("eval", {}).get("set") or card.get("metrics", {}).get("data", "")
        facts.append(("Quality", ", ".join(f"{k} {v:g}" for k, v in quality.items()) + (f" (on {where})" if where else "")))
    rec = card.get("recommended")
    if rec:
        text = rec["method"] + (f" at {rec['layer']}, strength {rec['strength']:g}" if rec.get("layer") else "")
        facts.append(("Recommended setting", f"{text}, {rec.get('samples', 8)} samples — {rec.get('source', '')}"))
    st.markdown("\n".join(f"- **{label}:** {text}" for label, text in facts))
    with st.popover("Full card (JSON)"):
        st.json(card, expanded=1)


setting = session.page_setup()
task, model_name = setting["task"], setting["model"]
st.title("Models")

st.subheader("Bundled zoo")
for name in uqcore.list_models():
    card = uqcore.model_card(name)
    with st.expander(f"**{name}** · {TASKS.get(card['task'], card['task'])} · ×{card.get('scale', 1)}",
                     expanded=name == model_name):
        card_summary(card)

own_model_section()

st.subheader(f"Layers of {model_name}")
try:
    model = glue.model_for(model_name)
    rows = glue.layers_for(model_name) if model.hookable else []
except uqcore.InputError as exc:
    glue.show_error(exc)
    st.stop()
st.caption(f"{model.parameters:,} parameters · methods: {', '.join(model.methods)} · output shapes for a "
           f"{model.probe_size[0]}×{model.probe_size[1]} probe input")
if not rows:
    tree = loaders.module_tree(model)
    st.info("No injection points: " + (model.disabled_methods.get(methods.LAYER_METHODS[0], "") or "the model has no named layers")
            + ". The modules it contains are listed for reference.")
    if tree:
        st.dataframe(pd.DataFrame(tree, columns=["name", "kind"]), width="stretch", hide_index=True)
    st.stop()
frame = pd.DataFrame(rows)[["name", "kind", "shape", "parameters"]]
query = st.text_input("Filter layers", key="models_filter", placeholder="e.g. body.4 or Conv2d")
if query:
    frame = frame[frame["name"].str.contains(query, regex=False) | frame["kind"].str.contains(query, regex=False)]
st.dataframe(frame, width="stretch", hide_index=True)
