"""The dashboard's glue for one-pass student heads: attaching a head for this session,
training one on uploaded images (watched, stoppable), uploading one, the equivalent CLI line.

Cached models are shared by every browser session, so a head is never attached to one: the
session gets its own shallow copy of the model (the same network and per-device copies, its own
card and head) in ``st.session_state[keys.STUDENT_MODELS]``, which ``model_cache.model_for`` returns for
that name on every page. ``model_cache.head_token`` names the head in result keys.

Training runs ``uqcore.student.distill`` in a worker thread while the page redraws a progress bar.
Any rerun (the Stop button, or another widget) interrupts the page; the page's ``finally`` then
sets the run's stop flag, which ``distill(should_stop=...)`` reads before each step, so the run
ends with the head it has so far; the next page run attaches that head and says it was stopped.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import streamlit as st

import uqcore
from ui import keys, model_cache, run_control
from uqcore.engine import methods
from uqcore.limits import IMAGE_UPLOAD_MB
from uqcore.models import student_files as head_files
from uqcore.student.train import TEACHERS, default_teacher, distill

RUN = "student_run"          # the latest training run of this session (a Run)
HEADS = "student_heads"      # name -> what the page shows of the session's head (origin, files)
IMAGE_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp"]
# A short run; the CLI's default is 1000. SRResNet with the transform teacher (8 samples, crop 32)
# took 4.5 s a step on a busy 2-core CPU (a user's trial run), so the dashboard's default stays short.
DEFAULT_STEPS = 100
POLL_SECONDS = 0.25


def teachers(model: uqcore.UQModel) -> list[str]:
    """The sampling methods a head can be distilled from on this model."""
    return [m for m in model.methods if m in TEACHERS]


def defaults(model: uqcore.UQModel) -> dict[str, Any]:
    """The training form's starting values: the core's default teacher, a short run."""
    t = default_teacher(model)
    return dict(teacher=t["method"], layer=t.get("layer"), strength=t.get("strength"), samples=int(t.get("samples") or 8),
                steps=DEFAULT_STEPS, crop=32, seed=0)


def teacher_strength(model: uqcore.UQModel, teacher: str) -> float:
    t = default_teacher(model)
    return float(t["strength"]) if t["method"] == teacher and t.get("strength") else methods.spec(teacher).default_strength


def head_file_name(name: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.student.safetensors"


def cli_line(model: uqcore.UQModel, options: dict[str, Any]) -> str:
    """The ``python -m uqcore distill`` command that trains the same head headless."""
    custom = model.name in st.session_state.get(keys.CUSTOM_MODELS, {})
    spec = "PATH/TO/YOUR_MODEL" if custom else model.name
    if custom and isinstance(model.source, dict):
        first = next((v for v in (model.source.get("args") or {}).values() if isinstance(v, str)), None)
        spec = first if first and Path(first).exists() else spec
    parts = ["python -m uqcore distill", "--model", shlex.quote(spec), "--images", "DIR_OF_IMAGES",
             "--out", shlex.quote(head_file_name(model.name)), "--teacher", options["teacher"]]
    if methods.spec(options["teacher"]).needs_layer:
        parts += ["--layer", shlex.quote(str(options["layer"])), "--strength", f"{options['strength']:g}"]
    parts += ["--samples", str(options["samples"]), "--steps", str(options["steps"]), "--crop", str(options["crop"]),
              "--seed", str(options["seed"])]
    return " ".join(parts)


# -- a head of this session's own ------------------------------------------------------------------

def attach(name: str, head: Any, card: dict | None, *, origin: str, head_bytes: bytes) -> uqcore.UQModel:
    """Attach ``head`` (a StudentHead or a .safetensors path) to this session's copy of model
    ``name``; InputError (from the core's fit check) when it does not fit. Returns the copy."""
    base = model_cache.base_model(name)
    own = dataclasses.replace(base, card=dict(base.card), student=None, student_card={})
    uqcore.attach_student(own, head, card)
    st.session_state.setdefault(keys.STUDENT_MODELS, {})[name] = own
    st.session_state.setdefault(keys.STUDENT_TOKENS, {})[name] = uuid.uuid4().hex
    card_json = json.dumps(own.student_card, indent=1, default=str) + "\n"
    st.session_state.setdefault(HEADS, {})[name] = dict(origin=origin, head=head_bytes, card=card_json)
    return own


def session_head(name: str) -> dict | None:
    """What the page shows of this session's own head for ``name`` (origin, file bytes), or None."""
    if not model_cache.head_token(name):
        return None
    return st.session_state.get(HEADS, {}).get(name)


def remove(name: str) -> None:
    """Button callback: back to the model as loaded (with its bundled head, if any)."""
    model_cache.drop_student(name)
    st.session_state.get(HEADS, {}).pop(name, None)


def attach_upload(name: str, uploads) -> str:
    """Attach an uploaded head (.safetensors, plus its .json card if given); returns a message.
    Raises InputError for anything that is not a head, or a head that does not fit."""
    heads = [f for f in uploads if f.name.lower().endswith(".safetensors")]
    cards = [f for f in uploads if f.name.lower().endswith(".json")]
    if len(heads) != 1 or len(cards) > 1:
        raise uqcore.InputError("upload one student head (.safetensors), plus at most its .json card")
    for f in uploads:
        run_control.check_upload(f, IMAGE_UPLOAD_MB, "student heads and their cards")
    folder = Path(tempfile.mkdtemp(prefix="uqcore_head_"))
    try:
        path = folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", Path(heads[0].name).stem) + ".safetensors")
        data = heads[0].getvalue()
        path.write_bytes(data)
        if cards:
            head_files.card_path(path).write_bytes(cards[0].getvalue())
        attach(name, path, None, origin=f"uploaded: {heads[0].name}", head_bytes=data)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return f"Attached {heads[0].name} to {name} for this session."


# -- training ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    """A training run in its worker thread; the worker writes ``step``, ``loss``, ``result`` or
    ``error``, the page reads them."""

    name: str
    steps: int
    folder: Path
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    step: int = 0
    loss: float | None = None
    started: float = dataclasses.field(default_factory=time.perf_counter)
    result: Any = None
    error: str | None = None
    settled: bool = False  # its head is attached (or its error shown) already


def _work(run: Run, model: uqcore.UQModel, images: list[Path], options: dict, command: str) -> None:
    def on_step(step: int, steps: int, loss: float) -> None:
        run.step, run.loss = step, loss

    try:
        run.result = distill(
            model, images, run.folder / head_file_name(model.name), teacher=options["teacher"],
            layer=options.get("layer"), strength=options.get("strength"), samples=options["samples"],
            steps=options["steps"], crop=options["crop"], seed=options["seed"], device=None,
            on_step=on_step, should_stop=run.stop.is_set, card={"command": command, "source": "uqcore dashboard"})
    except uqcore.InputError as exc:
        run.error = str(exc)
    except Exception as exc:  # a failing model must not leave the page waiting
        run.error = f"training failed: {type(exc).__name__}: {exc}"


def start(name: str, uploads, options: dict) -> Run:
    """Write the uploaded images to a fresh folder and start training a head for model ``name``."""
    if not uploads:
        raise uqcore.InputError("upload a few training images first (never your evaluation images)")
    model = model_cache.base_model(name)
    if options["teacher"] not in teachers(model):
        raise uqcore.InputError(f"teacher {options['teacher']!r} does not apply to {name}")
    for f in uploads:
        run_control.check_upload(f, IMAGE_UPLOAD_MB, "training images")
    folder = Path(tempfile.mkdtemp(prefix="uqcore_distill_"))
    images = []
    for i, f in enumerate(uploads):
        path = folder / f"{i:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', Path(f.name).name)}"
        path.write_bytes(f.getvalue())
        images.append(path)
    run = Run(name=name, steps=int(options["steps"]), folder=folder)
    command = cli_line(model, options).replace("DIR_OF_IMAGES", "UPLOADED_IMAGES")
    run.thread = threading.Thread(target=_work, args=(run, model, images, options, command), daemon=True,
                                  name=f"uqcore-distill-{name}")
    st.session_state[RUN] = run
    run.thread.start()
    return run


def watch(run: Run) -> None:
    """Redraw the progress bar (with a Stop button) until the run ends; if this page run is
    interrupted first (Stop, or any other rerun), stop the training: it keeps its head so far."""
    slot = st.empty()
    with slot.container():
        bar_col, stop_col = st.columns([6, 1], vertical_alignment="center")
        bar = bar_col.progress(0.0, text="Training the head…")
        stop_col.button("Stop", key="student_stop", icon=":material/stop:")
    try:
        while run.thread is not None and run.thread.is_alive():
            bar.progress(min(1.0, run.step / max(run.steps, 1)), text=progress_text(run))
            time.sleep(POLL_SECONDS)
    finally:
        run.stop.set()  # a no-op when the run has ended; otherwise it ends after its current step
    slot.empty()


def progress_text(run: Run) -> str:
    """Step, smoothed loss, time per step and what is left."""
    text = f"Training the head: step {run.step}/{run.steps}"
    if run.step and run.loss is not None:
        per_step = (time.perf_counter() - run.started) / run.step
        left = per_step * (run.steps - run.step)
        text += (f" · loss {run.loss:.4f} · {per_step:.2g} s a step, about "
                 + (f"{left / 60:.0f} min" if left >= 90 else f"{left:.0f} s") + " left")
    return text


def settle(run: Run | None = None) -> dict | None:
    """Attach a finished (or stopped) run's head once; returns what to tell the user
    (kind: success / warning / error, text, name), or None while there is nothing new."""
    run = run or st.session_state.get(RUN)
    message = _settle(run)
    return None if message is None else dict(message, name=run.name)


def _settle(run: Run | None) -> dict | None:
    if run is None or run.settled:
        return None
    if run.thread is not None:
        run.stop.set()  # a run still going here was interrupted: keep what it has
        run.thread.join(timeout=120)
        if run.thread.is_alive():
            return dict(kind="warning", text="The stopped run is still finishing its step; reload in a moment.")
    run.settled = True
    try:
        if run.error:
            return dict(kind="error", text=run.error)
        result = run.result
        info = result.card.get("training", {})
        if result.steps_done == 0:
            return dict(kind="warning", text="Stopped before the first step: no head was attached.")
        data = result.path.read_bytes() if result.path else b""
        attach(run.name, result.head, result.card, head_bytes=data,
               origin="trained here" + (", stopped early" if result.stopped else ""))
    except uqcore.InputError as exc:
        return dict(kind="error", text=str(exc))
    finally:
        shutil.rmtree(run.folder, ignore_errors=True)
    seconds = float(info.get("seconds") or 0)
    text = (f"Trained a head for **{run.name}** in {seconds:.0f} s ({result.steps_done} steps, "
            f"{seconds / max(result.steps_done, 1):.2g} s a step)")
    if result.stopped:
        return dict(kind="warning", text=f"Stopped after {result.steps_done} of {run.steps} steps: the head so far "
                                         f"is attached to {run.name} for this session.")
    return dict(kind="success", text=text + " — attached for this session: Explore and Compare offer `student`.")
