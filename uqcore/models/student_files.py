"""Student heads on disk and on a model: safetensors + a JSON card beside it, the fit check, attaching.

A head is ``HEAD.safetensors`` (weights and normalisation buffers; its metadata holds the
:class:`HeadConfig` as JSON under ``uqcore_student``) plus ``HEAD.json`` beside it, the card: kind,
the model it was distilled from, the teacher and its settings, feature layers, training images
(names and count), steps, time, the command, and quality numbers where measured. A bundled model
``assets/models/<name>.json`` has a bundled head when ``assets/models/<name>.student.safetensors``
(+ ``<name>.student.json``) exists; ``load_model`` attaches it. Only safetensors is read: nothing
is unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors import safe_open
from safetensors.torch import save_file

from uqcore.errors import InputError
from uqcore.engine.model import UQModel, as_model
from uqcore.engine.student_head import HeadConfig, StudentHead, capture
from uqcore.models.card import STUDENT_KIND, ModelCard

CARD_KIND = STUDENT_KIND
META_KEY = "uqcore_student"
# assets/models/<name>.student.safetensors (+ .json) is the bundled head of model <name>
BUNDLED_SUFFIX = ".student"


def card_path(head_path: str | Path) -> Path:
    """The card beside a head: ``HEAD.safetensors`` -> ``HEAD.json``."""
    return Path(head_path).with_suffix(".json")


def bundled_head(models_dir: Path, name: str) -> Path | None:
    """``models_dir/<name>.student.safetensors`` if it exists."""
    path = Path(models_dir) / f"{name}{BUNDLED_SUFFIX}.safetensors"
    return path if path.is_file() else None


def save_student(head: StudentHead, path: str | Path, card: dict[str, Any] | None = None) -> Path:
    """Write ``head`` to ``path`` (.safetensors) and its card beside it (``card``, flat, plus kind,
    head file and config, saved in the sections of :class:`uqcore.models.card.ModelCard`);
    returns the card's path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"a student head is saved as .safetensors, got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    config = head.config.to_dict()
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(path), metadata={META_KEY: json.dumps(config)})
    target = card_path(path)
    full = ModelCard.from_dict({"kind": CARD_KIND, "head": path.name, "config": config, **(card or {})}, target)
    return full.save(target)


def read_card(head_path: str | Path) -> dict[str, Any]:
    """The card beside a head, flat ({} if there is none or it is unreadable; an InputError
    naming its path if it is not a valid student card)."""
    target = card_path(head_path)
    try:
        doc = json.loads(target.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return ModelCard.from_dict({"kind": CARD_KIND, **doc}, target).flat()


def load_student(path: str | Path) -> StudentHead:
    """A head from its .safetensors file; InputError if it is not one."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"student heads are read from .safetensors files only, got {path.name}")
    if not path.is_file():
        raise InputError(f"student head {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError) as exc:
        raise InputError(f"{path.name} is not a readable safetensors file: {exc}") from None
    if META_KEY not in meta:
        raise InputError(f"{path.name} is not a uqcore student head (no {META_KEY!r} metadata); "
                         "train one with python -m uqcore distill")
    head = StudentHead(HeadConfig.from_dict(json.loads(meta[META_KEY])))
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(f"{path.name}: the weights do not match its own configuration: {exc}") from None
    return freeze(head)


def freeze(head: StudentHead) -> StudentHead:
    """Eval mode, no gradients: an attached head is used, not trained."""
    head.eval()
    for p in head.parameters():
        p.requires_grad_(False)
    return head


def probe_features(model: UQModel, layers) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """(probe input, output, feature maps of ``layers``) on the model's fixed probe image."""
    x = torch.rand((1, model.in_channels, *model.probe_size), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out, feats = capture(model.module, x.to(model.device), layers)
    return x, out, feats


def config_for(model: UQModel, layers, hidden: int = 16, fine: int = 8, last_kernel: int = 1) -> HeadConfig:
    """The head configuration that reads ``layers`` of ``model`` (channels and ratios probed)."""
    x, out, feats = probe_features(model, list(layers))
    mean, _ = model.split_output(out)
    return HeadConfig(layers=tuple(layers), channels=tuple(int(f.shape[1]) for f in feats),
                      ratios=tuple(round(f.shape[-1] / x.shape[-1], 4) for f in feats),
                      out_channels=int(mean.shape[1]), hidden=hidden, fine=fine, last_kernel=last_kernel)


def check_fit(model: UQModel, head: StudentHead, label: str = "the student head") -> None:
    """InputError unless ``head`` reads layers ``model`` has, with the channels and resolutions it
    was trained on, and predicts for the model's output channels."""
    want = head.config
    try:
        have = config_for(model, want.layers, want.hidden, want.fine, want.last_kernel)
    except InputError as exc:
        raise InputError(f"{label} does not fit model {model.name!r}: {exc}") from None
    problems = []
    for name, wc, hc, wr, hr in zip(want.layers, want.channels, have.channels, want.ratios, have.ratios):
        if wc != hc:
            problems.append(f"layer {name!r} has {hc} channels, the head expects {wc}")
        if abs(wr - hr) > 1e-3:
            problems.append(f"layer {name!r} is at {hr}x the input size, the head expects {wr}x")
    if want.out_channels != have.out_channels:
        problems.append(f"the model predicts {have.out_channels} channels, the head expects {want.out_channels}")
    if problems:
        raise InputError(f"{label} does not fit model {model.name!r}: " + "; ".join(problems)
                         + ". Distil a head for this model with python -m uqcore distill")


def attach_student(model: Any, head: StudentHead | str | Path, card: dict[str, Any] | None = None) -> UQModel:
    """Attach a student head (a :class:`StudentHead` or the path of its .safetensors) to ``model``
    (a UQModel, e.g. from ``uqcore.wrap``, or an ``nn.Module``); checked with :func:`check_fit`.
    The model's own weights and outputs are untouched; ``"student"`` joins ``model.methods``.
    Returns the model (the same object for a UQModel)."""
    model = as_model(model)
    label = "the student head"
    if isinstance(head, (str, Path)):
        label = f"student head {Path(head).name}"
        card = read_card(head) if card is None else card
        head = load_student(head)
    if not isinstance(head, StudentHead):
        raise InputError(f"attach_student needs a StudentHead or a .safetensors path, got {type(head).__name__}")
    check_fit(model, head, label)
    model.student = freeze(head.to(model.device))
    model.student_card = dict(card or {})
    return model
