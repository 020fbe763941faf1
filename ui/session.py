"""The shared sidebar and the rules that keep the current setting valid for its model.

Every page starts with :func:`page_setup`: :func:`resolve` corrects what does not fit the chosen
model (a method it lacks, a layer it does not have), then the sidebar's task and model widgets
are drawn from the setting, so they show the same values on every page.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import uqcore
from uqcore.engine import methods
from uqcore.engine.estimate import sample_cap
from ui import gallery, keys, model_cache, run_control, state

DEFAULT_MODEL = {"sr": "srresnet", "depth": "fcrn"}


def model_names(task: str) -> list[str]:
    custom = st.session_state.get(keys.CUSTOM_MODELS, {})
    return uqcore.list_models(task) + [n for n, m in custom.items() if m.task == task]


def recommended(model: uqcore.UQModel) -> dict[str, Any]:
    """The model card's recommended setting (bundled models: from the paper run's tolerability
    sweeps on the calibration split); own models start on their first method."""
    return dict(model.card.get("recommended") or {"method": model.methods[0], "samples": 8})


def method_options(model: uqcore.UQModel) -> tuple[list[str], str]:
    """The Method control's options (the engine methods this model offers, from the method table,
    registered methods included) and its help text (each method's help line from the table)."""
    names = list(model.methods)
    return names, "\n\n".join(f"**{m}**: {methods.HELP[m]}" for m in names)


def variant_options(model: uqcore.UQModel) -> tuple[list[str], str]:
    """Compare's evaluation names for this model: each engine method, or its variants where it has
    some (MC-dropout: MC-drop1 / MC-drop2), with their help lines."""
    names: list[str] = []
    for m in model.methods:
        names += [v for v in methods.variants_of(m) if v != m] or [m]
    return names, "\n\n".join(f"**{m}**: {methods.variant(m).help}" for m in names)


def _apply_recommended(setting: dict, model: uqcore.UQModel) -> None:
    rec = recommended(model)
    setting.update(method=rec["method"], layer=rec.get("layer"), strength=rec.get("strength"),
                   samples=int(rec.get("samples", 8)))


def _layer_names(name: str) -> list[str]:
    return [row["name"] for row in model_cache.layers_for(name)]


def resolve() -> None:
    """Make the setting valid: a model of its task, a method the model offers, a layer it has, a
    strength for the method, a bundled sample of the task. A model change (or a first visit)
    starts from the model's recommended setting; a view restored from a URL keeps its own."""
    setting = state.current()
    names = model_names(setting["task"])
    if not names:
        st.error(f"No {state.TASKS[setting['task']].lower()} model is available; see the Models page.")
        st.stop()
    if setting["model"] not in names:
        remembered = st.session_state.setdefault(keys.LAST_MODEL, {}).get(setting["task"])
        default = DEFAULT_MODEL[setting["task"]]
        setting["model"] = remembered if remembered in names else default if default in names else names[0]
    st.session_state.setdefault(keys.LAST_MODEL, {})[setting["task"]] = setting["model"]
    try:
        model = model_cache.model_for(setting["model"])
    except uqcore.InputError as exc:
        run_control.show_error(exc)
        st.stop()
    if setting.get("resolved_for") != setting["model"]:
        if not setting.pop("from_url", False):
            _apply_recommended(setting, model)
        setting["resolved_for"] = setting["model"]
    if setting["method"] not in model.methods:
        _apply_recommended(setting, model)
        if setting["method"] not in model.methods:
            setting["method"] = model.methods[0]
    method = setting["method"]
    spec = methods.spec(method)
    if spec.needs_layer:
        layers = _layer_names(setting["model"])
        if setting["layer"] not in layers:
            rec = recommended(model)
            setting["layer"] = rec["layer"] if rec.get("layer") in layers else layers[len(layers) // 2]
        strength = setting["strength"]
        if strength is None or strength <= 0 or (spec.feature == methods.FEATURE_DROPOUT and strength >= 1):
            rec = recommended(model)
            setting["strength"] = rec["strength"] if rec.get("method") == method else spec.default_strength
    setting["samples"] = min(max(1, int(setting["samples"])), state.MAX_SAMPLES)
    samples = gallery.sample_files(setting["task"])
    if setting["source"] == "sample" and samples and setting["sample"] not in [p.stem for p in samples]:
        setting["sample"] = samples[0].stem


def samples_to_draw(model: uqcore.UQModel, setting: dict) -> int:
    """What ``estimate`` will actually draw for the setting (the Samples control shows this); with
    Auto on, the most it may draw."""
    cap = sample_cap(model, setting["method"])
    return min(state.MAX_SAMPLES if setting.get("auto") else int(setting["samples"]), cap)


def _task_changed() -> None:
    state.update(model=None, sample=None, resolved_for=None)


def _model_changed() -> None:
    state.update(resolved_for=None)


def page_setup() -> dict[str, Any]:
    """The start of every page: the setting made valid, the sidebar, the URL; returns the setting."""
    state.init()
    st.session_state.setdefault(keys.CUSTOM_MODELS, {})
    resolve()
    sidebar()
    state.to_url()
    return state.current()


def sidebar() -> None:
    """Task, model and device, drawn on every page from the setting (see :func:`page_setup`)."""
    setting = state.current()
    with st.sidebar:
        state.bound(st.radio, "Task", "task", options=list(state.TASKS), format_func=state.TASKS.get,
                    horizontal=True, after=_task_changed)
        state.bound(st.selectbox, "Model", "model", options=model_names(setting["task"]), after=_model_changed)
        st.caption(f"Device: {model_cache.device_label()}")


def cap_note(model: uqcore.UQModel, method: str) -> str | None:
    """Why the Samples control stops where it does, for methods with a fixed sample set."""
    cap, sampling = sample_cap(model, method), methods.spec(method).sampling
    if sampling == methods.SAMPLING_TRANSFORM and model.task == "depth":
        return (f"{method} draws {cap} samples on depth: the identity and a horizontal flip (a depth network is not "
                "rotation-invariant, so rotated or upside-down inputs would measure the wrong thing).")
    if sampling == methods.SAMPLING_TRANSFORM:
        return f"{method} draws at most {cap} samples: the {cap} rotations and flips of the image (dihedral group)."
    if sampling == methods.SAMPLING_MEMBERS:
        return f"{method} draws one sample per member: at most {cap} here."
    return None


def student_note(model: uqcore.UQModel, method: str) -> str | None:
    """Where the student head comes from: its teacher and training (from its card)."""
    if methods.spec(method).sampling != methods.SAMPLING_STUDENT or model.student is None:
        return None
    card = model.student_card
    teacher, training = card.get("teacher") or {}, card.get("training") or {}
    text = "student: a head on the frozen model, one forward pass"
    if teacher.get("method"):
        text += f", distilled from {teacher['method']}" + (f" at {teacher['layer']}" if teacher.get("layer") else "") + (
            f" ({teacher['samples']} samples)" if teacher.get("samples") else "")
    if training.get("images"):
        text += f" on {training['images']} images, {training.get('steps', '?')} steps"
    return text + ". Train or replace it on the Models page."
