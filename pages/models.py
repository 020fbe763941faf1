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
from uqcore.models.card import ModelCard
from ui import keys, model_cache, run_control, session
from ui import student as student_ui
from ui.state import TASKS
from ui.state import current as current_setting
from uqcore import limits
from uqcore.engine.layers import default_layer
from uqcore.engine import methods
from uqcore.models import loaders

MODEL_TYPES = ["pth", "pt", "ckpt", "bin", "safetensors", "ts", "torchscript", "jit", "onnx", "json"]
TASK_CHOICES = {"detect": "Detect", "sr": "Super-resolution", "depth": "Depth"}
RANGE_CHOICES = {"0-1": "[0, 1]", "0-255": "[0, 255]", "-1-1": "[-1, 1]"}
DEPTH_KIND_CHOICES = {"detect": "Detect", "metric": "Metric", "relative": "Relative (scale, shift)",
                      "disparity": "Inverse depth (scale, shift)"}


def _allow_local() -> bool:
    """Paths and module:factory specs read the server's disk and import the server's Python code:
    on by default only while the server listens on loopback (UQCORE_ALLOW_LOCAL_MODELS decides
    when set)."""
    return limits.allow_local_models(limits.is_loopback(st.get_option("server.address")))


def _server_upload_mb() -> int:
    """The server's hard cap on any upload (server.maxUploadSize), in MB."""
    try:
        return int(st.get_option("server.maxUploadSize"))
    except Exception:  # option missing in an unusual Streamlit setup
        return 200


def _upload_limit_mb() -> int:
    """Model checkpoints: UQCORE_MAX_MODEL_BYTES, under the server's hard cap (server.maxUploadSize)."""
    return limits.model_upload_mb(_server_upload_mb())


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
        run_control.check_upload(f, limit, "model uploads (UQCORE_MAX_MODEL_BYTES, at most server.maxUploadSize in "
                                    ".streamlit/config.toml)")
    sidecars = [f for f in files if f.name.lower().endswith(".json")]
    weights = [f for f in files if not f.name.lower().endswith(".json")]
    if len(weights) != 1 or len(sidecars) > 1:
        raise uqcore.InputError("upload exactly one model file, plus at most one .json sidecar for TorchScript / ONNX")
    folder = Path(tempfile.mkdtemp(prefix="uqcore_upload_"))
    try:
        target = folder / _safe_name(weights[0].name)
        target.write_bytes(weights[0].getvalue())
        if sidecars:  # the sidecar is found by the model file's stem
            target.with_suffix(".json").write_bytes(sidecars[0].getvalue())
        # the exact byte limit (the MB figure above is rounded up for the uploader)
        model = loaders.load_user_model(target, max_bytes=limits.model_upload_bytes(_server_upload_mb()), **options)
        model.card["source"] = f"upload: {weights[0].name}" + (f" + {sidecars[0].name}" if sidecars else "")
        return model
    finally:  # everything is in memory now; the uploaded copy is not kept
        shutil.rmtree(folder, ignore_errors=True)


def _factory_help() -> str:
    """The path field's help: the allowed factory modules, or why UQCORE_FACTORY_MODULES is unusable
    (a malformed value must not take the page down; loading then refuses with the same message)."""
    try:
        allowed = ", ".join(limits.factory_modules())
        return f"Factories load from these modules only: {allowed} (UQCORE_FACTORY_MODULES)"
    except uqcore.InputError as exc:
        return f"No factory can be loaded: {exc}"


def _from_spec(spec: str, weights: str, options: dict) -> uqcore.UQModel:
    if not _allow_local():
        raise uqcore.InputError("loading from server paths and factories is switched off on this server (it listens "
                                "beyond loopback, or UQCORE_ALLOW_LOCAL_MODELS=0); upload the model file instead")
    if not spec.strip():
        raise uqcore.InputError("enter a path, a 'package.module:factory' or a Hugging Face model id first")
    if weights.strip():
        options["weights"] = weights.strip()
    # factories only from the allowed modules, checked before anything is imported
    return loaders.load_user_model(spec.strip(), factory_modules=limits.factory_modules(), **options)


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
    if state.get("own_depth_kind", "detect") != "detect":
        options["depth_kind"] = state["own_depth_kind"]
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
    state.setdefault(keys.CUSTOM_MODELS, {})[model.name] = model
    setting.update(task=model.task, model=model.name, resolved_for=None)  # selected on every page
    state["own_result"] = {"name": model.name, "notes": notes}


def remove_own_model(name: str) -> None:
    custom = st.session_state.get(keys.CUSTOM_MODELS, {})
    model = custom.pop(name, None)
    student_ui.remove(name)
    if model is not None and current_setting()["model"] == name:
        current_setting().update(model=None, resolved_for=None)  # back to the task's default model
    result = st.session_state.get("own_result") or {}
    if result.get("name") == name:
        st.session_state["own_result"] = None


def own_model_section() -> None:
    st.subheader("Load your own model")
    st.caption(
        "Super-resolution checkpoints of any architecture spandrel recognises (.pth / .pt / .safetensors: ESRGAN, "
        "SwinIR, HAT, EDSR, RCAN, …), TorchScript files and ONNX exports with dynamic height and width (each with an "
        "optional .json sidecar giving task / scale / input range), "
        "Hugging Face depth models (a local save_pretrained directory or a hub id) and `package.module:factory` "
        "callables. Weights are read with safetensors or a weights-only loader: a file that would run code is "
        "refused. See docs/OWN_MODELS.md."
    )
    sources = {"upload": "Upload a file", "path": "Path, module:factory or Hugging Face id"}
    if not _allow_local():
        sources.pop("path")
        st.caption("This server listens beyond loopback, so models load from uploads only (server paths and "
                   "factories are off; UQCORE_ALLOW_LOCAL_MODELS=1 turns them on).")
    source = st.radio("Source", list(sources), format_func=sources.get, horizontal=True, key="own_source")
    if source == "path":
        st.text_input("Model", key="own_spec",
                      placeholder="/models/RealESRGAN_x4plus.pth · /models/dpt-hybrid/ · mypkg.nets:build · Intel/dpt-large",
                      help=_factory_help())
        st.text_input("Weights for a module:factory (optional)", key="own_weights",
                      placeholder="/models/weights.safetensors")
    else:
        st.file_uploader(
            f"Model file (up to {_upload_limit_mb()} MB), plus its .json sidecar for TorchScript / ONNX",
            type=MODEL_TYPES, accept_multiple_files=True, key="own_upload", max_upload_size=_upload_limit_mb(),
            help="Hugging Face directories cannot be uploaded; give their path instead.",
        )
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.selectbox("Task", list(TASK_CHOICES), format_func=TASK_CHOICES.get, key="own_task",
                 help="Detect: spandrel and Hugging Face say it; otherwise the sidecar, or a probe run guesses it")
    c2.number_input("Scale (0 = detect)", min_value=0, max_value=16, value=0, step=1, key="own_scale")
    c3.selectbox("Input range (TorchScript / ONNX / factory)", list(RANGE_CHOICES), format_func=RANGE_CHOICES.get,
                 key="own_range", help="What the network expects; the engine keeps feeding [0, 1] and rescales")
    c4.selectbox("Depth kind (depth models)", list(DEPTH_KIND_CHOICES), format_func=DEPTH_KIND_CHOICES.get,
                 key="own_depth_kind", help="Relative and inverse-depth predictions are aligned to the ground truth "
                                            "(least-squares scale and shift) before the error and every error-based "
                                            "metric. Detect: the sidecar or the Hugging Face config, else metric")
    c5.text_input("Name (optional)", key="own_name")
    st.button("Load model", type="primary", key="own_load", on_click=load_own_model)

    result = st.session_state.get("own_result")
    custom = st.session_state.get(keys.CUSTOM_MODELS, {})
    if result and result.get("error"):
        run_control.show_error(uqcore.InputError(result["error"]))
    elif result and result.get("name") in custom:
        model = custom[result["name"]]
        info = loaders.describe(model)
        st.success(f"Loaded **{model.name}**: {info['architecture']} ({info['format']}) · "
                   f"{TASKS.get(model.task, model.task)} · ×{model.scale} · {model.parameter_count:,} parameters "
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
    origin = card.get("origin")
    if isinstance(origin, dict):  # third-party weights (python -m uqcore import-upscalerjs)
        facts.append(("Origin", f"{origin.get('package')} {origin.get('version', '')}, licence "
                                f"{origin.get('license', '?')} (third-party weights, not trained here)"))
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
        measured = card.get("eval") or card.get("metrics") or {}
        by = f"; `{measured['command']}`, {measured['date']}" if measured.get("command") and measured.get("date") else ""
        facts.append(("Quality", ", ".join(f"{k} {v:g}" for k, v in quality.items())
                      + (f" (on {where}{by})" if where else "")))
    rec = card.get("recommended")
    if rec:
        text = rec["method"] + (f" at {rec['layer']}, strength {rec['strength']:g}" if rec.get("layer") else "")
        facts.append(("Recommended setting", f"{text}, {rec.get('samples', 8)} samples — {rec.get('source', '')}"))
    st.markdown("\n".join(f"- **{label}:** {text}" for label, text in facts))
    with st.popover("Full card (JSON)"):
        st.json(card_sections(card), expanded=1)


def card_sections(card: dict) -> dict:
    """The card as stored: config (what loading needs), provenance, measured (each number with the
    command that wrote it); a card that is not a bundled model's shows as it is."""
    try:
        return ModelCard.from_dict(card).to_dict()
    except uqcore.InputError:
        return card


def head_summary(name: str, model: uqcore.UQModel) -> None:
    """The head attached to the model: where it comes from, its teacher and training, downloads."""
    own, card = student_ui.session_head(name), model.student_card
    teacher, training = card.get("teacher") or {}, card.get("training") or {}
    where = own["origin"] if own else "bundled with the model"
    text = f"**Student head attached** ({where})"
    if teacher:
        text += f": distilled from {teacher.get('method')}" + (
            f" at {teacher['layer']}, strength {teacher['strength']:g}" if teacher.get("layer") else "") + (
            f", {teacher.get('samples')} samples" if teacher.get("samples") else "")
    if training:
        text += f"; {training.get('images', '?')} images, {training.get('steps', '?')} steps"
    if card.get("features"):
        text += f"; reads {', '.join(card['features'])}"
    st.markdown(text + ". Explore and Compare offer `student` (one forward pass, no samples).")
    c1, c2, c3 = st.columns([1, 1, 2])
    stem = Path(student_ui.head_file_name(name)).stem
    if own and own["head"]:
        c1.download_button("Head (.safetensors)", own["head"], f"{stem}.safetensors", key="student_dl_head",
                           on_click="ignore")
    c2.download_button("Card (JSON)", own["card"] if own else json.dumps(card, indent=1, default=str),
                       f"{stem}.json", "application/json", key="student_dl_card", on_click="ignore")
    if own:
        c3.button("Remove this head", key="student_remove", on_click=student_ui.remove, args=(name,))


def train_form(name: str, model: uqcore.UQModel) -> dict:
    """The training settings (defaults from ``uqcore.student.default_teacher``); returns them."""
    start = student_ui.defaults(model)
    choices = student_ui.teachers(model)
    c1, c2, c3, c4 = st.columns([1.2, 2.4, 1.2, 1])
    teacher = c1.selectbox("Teacher", choices, index=choices.index(start["teacher"]) if start["teacher"] in choices else 0,
                           key=f"student_teacher_{name}", help="The training-free method whose samples the head learns")
    options = dict(teacher=teacher, layer=None, strength=None)
    if methods.spec(teacher).needs_layer:
        layers = [r["name"] for r in model_cache.layers_for(name)]
        layer = start["layer"] if start["teacher"] == teacher else default_layer(model)
        layer = layer if layer in layers else layers[len(layers) // 2]
        options["layer"] = c2.selectbox("Teacher layer", layers, index=layers.index(layer), key=f"student_layer_{name}")
        options["strength"] = c3.number_input(methods.spec(teacher).strength_name.capitalize(), min_value=0.0,
                                              value=student_ui.teacher_strength(model, teacher), format="%.4f",
                                              key=f"student_strength_{name}_{teacher}")
    else:
        c2.selectbox("Teacher layer", ["not used by this teacher"], disabled=True, key="student_layer_off")
    options["samples"] = int(c4.number_input("Samples", min_value=2, max_value=64, value=start["samples"],
                                             key=f"student_samples_{name}", help="Teacher samples per crop"))
    d1, d2, d3 = st.columns(3)
    options["steps"] = int(d1.number_input("Steps", min_value=1, max_value=20000, value=start["steps"],
                                           key=f"student_steps_{name}", help="The CLI's default is 1000"))
    options["crop"] = int(d2.number_input("Crop (input pixels)", min_value=8, max_value=256, value=start["crop"],
                                          key=f"student_crop_{name}"))
    options["seed"] = int(d3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key=f"student_seed_{name}"))
    return options


def student_section(name: str) -> None:
    """Train a one-pass student head for the selected model on uploaded images, or upload one."""
    st.subheader(f"One-pass student head for {name}")
    st.caption("A small head on the frozen network, distilled from a training-free teacher on unlabeled images, that "
               "predicts the variance in the same forward pass as the prediction (the model's output is unchanged). "
               "A head trained or uploaded here is attached for this browser session only.")
    try:
        model = model_cache.model_for(name)
    except uqcore.InputError as exc:
        run_control.show_error(exc)
        return
    if not model.hookable:
        st.info(f"{name} cannot carry a student head: {model.disabled_methods.get('noise', 'its layers cannot be hooked')}.")
        return
    message_box = st.container()
    train_tab, upload_tab = st.tabs(["Train a head", "Upload a head"])
    with train_tab:
        st.file_uploader("Training images (unlabeled; not your evaluation images)", type=student_ui.IMAGE_TYPES,
                         accept_multiple_files=True, key="student_images", max_upload_size=limits.IMAGE_UPLOAD_MB)
        options = train_form(name, model)
        st.caption("The same run headless (any number of steps, checkpoints, --resume):")
        st.code(student_ui.cli_line(model, options), language="bash", wrap_lines=True)
        if st.button("Train head", type="primary", key="student_train"):
            try:
                student_ui.watch(student_ui.start(name, st.session_state.get("student_images") or [], options))
            except uqcore.InputError as exc:
                st.session_state["student_message"] = dict(kind="error", text=str(exc), name=name)
    with upload_tab:
        st.file_uploader("Student head (.safetensors, from python -m uqcore distill), plus its .json card",
                         type=["safetensors", "json"], accept_multiple_files=True, key="student_upload",
                         max_upload_size=limits.IMAGE_UPLOAD_MB)
        if st.button("Attach head", key="student_attach"):
            try:
                text = student_ui.attach_upload(name, st.session_state.get("student_upload") or [])
                st.session_state["student_message"] = dict(kind="success", text=text, name=name)
            except uqcore.InputError as exc:
                st.session_state["student_message"] = dict(kind="error", text=str(exc), name=name)
    st.session_state["student_message"] = student_ui.settle() or st.session_state.get("student_message")
    with message_box:
        message = st.session_state.get("student_message")
        if message and message.get("name") == name:
            getattr(st, message["kind"])(message["text"])
        model = model_cache.model_for(name)
        if model.student is not None:
            head_summary(name, model)


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
student_section(model_name)

st.subheader(f"Layers of {model_name}")
try:
    model = model_cache.model_for(model_name)
    rows = model_cache.layers_for(model_name) if model.hookable else []
except uqcore.InputError as exc:
    run_control.show_error(exc)
    st.stop()
st.caption(f"{model.parameter_count:,} parameters · methods: {', '.join(model.methods)} · output shapes for a "
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
