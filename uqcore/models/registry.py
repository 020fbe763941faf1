"""The bundled model zoo and loading by name or path.

Each bundled model is a JSON model card in ``assets/models/`` (:func:`bundled_assets` finds it in a
checkout or an installed wheel) next to its safetensors weights. The card's schema is
:class:`uqcore.models.card.ModelCard` (sections ``config`` / ``provenance`` / ``measured``); every
card is validated when it is read (an unknown key is an InputError naming the card's path).
``config.architecture`` names an architecture registered with
:func:`uqcore.models.architectures.register_architecture` (the bundled ones are registered by the
modules imported below), built with ``config.arch_kwargs``. Weights are only ever read with
safetensors: nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import importlib.resources
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from uqcore import limits
from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.models import fcrn as _fcrn, rrdn as _rrdn, srresnet as _srresnet, srresnet_head as _srresnet_head  # noqa: F401  (they register the bundled architectures)
from uqcore.models.architectures import build_architecture, list_architectures  # noqa: F401  (build_architecture is re-exported)
from uqcore.models.card import ModelCard, looks_like_card
from uqcore.models.loaders import fit_state_dict, load_user_model, portable_path
from uqcore.models.student_files import attach_student, bundled_head


def bundled_assets() -> Path:
    """The bundled assets (``models/``: cards and weights; ``samples/``): an installed wheel's copy
    inside the package (``uqcore/assets``, see setup.py), else the checkout's ``assets/``.

    The checkout's ``assets/`` is the single source; the wheel maps it into the package. Everything
    that reads bundled files goes through this (``ASSETS``, ``MODELS_DIR``, ``SAMPLES_DIR``)."""
    package = Path(str(importlib.resources.files("uqcore"))).resolve()  # wherever this module sits inside the package
    installed = package / "assets"
    return installed if installed.is_dir() else package.parent / "assets"


ASSETS = bundled_assets()
MODELS_DIR = ASSETS / "models"
SAMPLES_DIR = ASSETS / "samples"

def model_dirs() -> list[Path]:
    """``assets/models`` plus any folders in ``UQCORE_MODEL_DIRS`` (os.pathsep-separated)."""
    return [MODELS_DIR, *limits.extra_model_dirs()]


def _cards() -> dict[str, dict]:
    """Every card of :func:`model_dirs` by name, as the flat dict of :meth:`ModelCard.flat` plus
    ``_path``. JSON files that are not model cards are skipped; a card that does not validate is an
    InputError naming its path."""
    cards = {}
    for folder in model_dirs():
        for path in sorted(folder.glob("*.json")):
            try:
                doc = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue  # not a model card (or half-written); never break the zoo listing
            if not looks_like_card(doc):
                continue  # e.g. a student head's card, or some other JSON file
            card = ModelCard.from_dict(doc, path).flat()
            card["_path"] = str(path)
            cards[card["name"]] = card
    return cards


def list_models(task: str | None = None) -> list[str]:
    """Names of the bundled models, optionally only those of ``task`` ("sr" or "depth")."""
    return [n for n, c in _cards().items() if task is None or c["task"] == task]


def model_card(name: str) -> dict:
    cards = _cards()
    if name not in cards:
        raise InputError(f"no bundled model named {name!r}; available: {', '.join(cards) or 'none'}")
    return {k: v for k, v in cards[name].items() if not k.startswith("_")}


def _load_weights(module: nn.Module, path: Path) -> nn.Module:
    if not path.exists():
        raise InputError(f"weights file {path} is missing; rebuild it with the command in the model card")
    return fit_state_dict(module, load_file(str(path)), path.name, "the architecture")


def load_from_card(card: dict, base_dir: Path, student: bool = True) -> UQModel:
    """The model of a card; with ``student`` its bundled head (``<name>.student.safetensors``
    beside the card, :mod:`uqcore.models.student_files`) attached when there is one."""
    weights = card["weights"]
    files = weights if isinstance(weights, list) else [weights]
    members = [
        _load_weights(build_architecture(card["architecture"], **card.get("arch_kwargs", {})), base_dir / f)
        for f in files
    ]
    doc = {k: v for k, v in card.items() if not k.startswith("_")}
    model = UQModel(
        module=members[0],
        members=members,
        task=card["task"],
        scale=card.get("scale", 1),
        name=card["name"],
        output=card.get("output", "mean"),
        in_channels=card.get("in_channels", 3),
        card=doc,
        probe_size=tuple(card.get("probe_size", (32, 32))),
        depth_kind=card.get("depth_kind", "metric"),
    )
    head = bundled_head(base_dir, card["name"]) if student else None
    return attach_student(model, head) if head is not None else model


def load_model(name_or_path: str, *, format: str | None = None, student: str | Path | bool | None = None) -> UQModel:
    """Load a bundled model by name, a model card (``.json``) from a path, or the user's own model.

    ``format=`` ("spandrel", "torchscript", "hf", "factory") or a spec prefix (``"hf:owner/name"``)
    names the user's model's format instead of guessing it (see ``uqcore.models.loaders``); for
    task, scale, weights and the other options call ``loaders.load_user_model`` directly.
    The model's ``source`` records this call (an existing path made absolute) so that another
    process can load the same model (:func:`load_source`).

    ``student``: the path of a student head (.safetensors, from ``python -m uqcore distill``) to
    attach (an InputError if it does not fit the model); None attaches a bundled model's bundled
    head if it has one; False attaches none. With a head, ``"student"`` is in ``model.methods``."""
    model = _load_model(name_or_path, format, student is not False)
    args = {"name_or_path": portable_path(name_or_path, keep=_cards()), "format": format}
    if student not in (None, True, False):
        attach_student(model, student)
        args["student"] = str(Path(student).resolve())
    elif student is False:
        args["student"] = False
    model.source = {"loader": "load_model", "args": args}
    return model


def load_source(source: dict) -> UQModel:
    """Load a model again from its ``source`` (see :class:`UQModel`): ``load_model`` or
    ``loaders.load_user_model`` with the recorded arguments."""
    loaders = {"load_model": load_model, "load_user_model": load_user_model}
    if not isinstance(source, dict) or source.get("loader") not in loaders:
        raise InputError(f"not a model source: {source!r}; expected what load_model records in model.source")
    return loaders[source["loader"]](**source.get("args", {}))


def _load_model(name_or_path: str, format: str | None, student: bool) -> UQModel:
    if format is not None:
        return load_user_model(name_or_path, format=format)
    cards = _cards()
    if name_or_path in cards:
        card = cards[name_or_path]
        return load_from_card(card, Path(card["_path"]).parent, student)
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError:
            doc = None
        if looks_like_card(doc):  # else a TorchScript / ONNX sidecar
            card = ModelCard.from_dict(doc, path).flat()
            return load_from_card(card, path.parent, student)
    # Anything else: the user's own model (a checkpoint, TorchScript file, Hugging Face directory
    # or hub id, or "package.module:factory"); see uqcore/models/loaders/.
    try:
        return load_user_model(name_or_path)
    except InputError:
        if path.exists() or any(c in str(name_or_path) for c in (":", "/", os.sep)):
            raise  # it names a file or spec: the loader's message says what is wrong with it
        raise InputError(
            f"{name_or_path!r} is neither a bundled model ({', '.join(cards) or 'none bundled yet'}) nor an "
            "existing model file / directory / 'package.module:factory' / Hugging Face id"
        ) from None
