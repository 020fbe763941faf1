"""``load_user_model``: choose the format (explicit, or guessed) and hand over to its loader.

The format is chosen, in this order, by ``format=`` ("spandrel", "torchscript", "hf",
"factory", "onnx"), by a prefix of the spec (``hf:Intel/dpt-hybrid-midas``, ``torchscript:model.pt``,
``spandrel:x4.pth``, ``factory:mypkg.nets:build``, ``onnx:model.onnx``, as timm's ``hf-hub:``), or,
when neither is given, guessed from what the spec is (the fallback):

1. a directory: a Hugging Face ``save_pretrained`` folder;
2. a file: TorchScript if its archive has a ``code/`` folder (any suffix), a spandrel state dict
   for ``.pth`` / ``.pt`` / ``.ckpt`` / ``.bin`` / ``.safetensors``, ONNX for ``.onnx``; a
   ``model.json`` sidecar stands for the model file next to it; pickles are refused with the reason;
3. ``package.module:factory``: a factory from the user's own code;
4. ``owner/name`` that is not a path: a Hugging Face hub id.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path

from uqcore import limits
from uqcore.errors import InputError
from uqcore.metrics.alignment import check_kind
from uqcore.engine.model import TASKS, UQModel
from uqcore.models.loaders.common import check_size, parse_range, portable_path
from uqcore.models.loaders.factory import load_factory
from uqcore.models.loaders.hf import import_transformers, load_hf_depth
from uqcore.models.loaders.onnxfile import load_onnx
from uqcore.models.loaders.spandrel import load_spandrel
from uqcore.models.loaders.torchscript import is_torchscript, load_torchscript, sidecar_twin

FORMATS = ("spandrel", "torchscript", "hf", "factory", "onnx")
ALIASES = {"huggingface": "hf", "hf-hub": "hf"}  # also accepted as format= and as prefixes
STATE_DICT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")
_SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _records_source(load):
    """``load_user_model`` records its call in the model's ``source`` (an existing path made
    absolute) so that another process -- a Ray worker -- can load the same model."""
    @functools.wraps(load)
    def loader(path_or_spec: str | os.PathLike, **options) -> UQModel:
        model = load(path_or_spec, **options)
        args = {"path_or_spec": portable_path(path_or_spec), **options}
        for key in ("weights", "sidecar"):
            if key in args:
                args[key] = portable_path(args[key])
        model.source = {"loader": "load_user_model", "args": args}
        return model

    return loader


@_records_source
def load_user_model(
    path_or_spec: str | os.PathLike,
    *,
    format: str | None = None,
    task: str | None = None,
    scale: int | None = None,
    weights: str | os.PathLike | None = None,
    input_range: str | tuple[float, float] | None = None,
    name: str | None = None,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    in_channels: int | None = None,
    sidecar: str | os.PathLike | dict | None = None,
    factory_kwargs: dict | None = None,
    depth_kind: str | None = None,
    factory_modules: Sequence[str] | None = None,
) -> UQModel:
    """Load a model that is not in the bundled zoo (see ``uqcore.models.loaders`` for the formats).

    format:      "spandrel" | "torchscript" | "hf" | "factory" | "onnx", or None to take the spec's prefix
                 (``hf:owner/name``) or else guess from the spec (see this module's docstring).
    task:        "sr" | "depth" | "image"; detected where the format tells (spandrel, Hugging
                 Face), otherwise from the sidecar, otherwise guessed from a probe run
                 (scale > 1: "sr"; one output channel: "depth"; else "image").
    scale:       upscale factor; detected where possible; checked against a probe run.
    weights:     state dict file for a ``module:factory`` (safetensors or weights-only torch.load).
    input_range: what the network expects instead of [0, 1]: "0-1", "0-255", "-1-1" or (lo, hi);
                 the engine keeps feeding [0, 1] and the wrapper rescales (and maps sr/image
                 outputs back). TorchScript, ONNX and factories only.
    max_bytes:   refuse files (or a Hugging Face directory's weight files) larger than this
                 (default 2 GiB, env ``UQCORE_MAX_MODEL_BYTES``; 0 = no limit).
    depth_kind:  a depth model's "metric" | "relative" | "disparity" (non-metric predictions are
                 aligned to the target before scoring); None: the sidecar's, Hugging Face's config,
                 else "metric".
    max_pixels:  per-image input limit on CPU for the spandrel / TorchScript / ONNX / HF wrappers
                 (default 512×512, env ``UQCORE_CPU_MAX_PIXELS``; 0 = no limit).
    factory_modules: module prefixes a ``module:factory`` must fall under, checked before it is
                 imported (the dashboard passes ``limits.factory_modules()``); None = any module.
    """
    if task is not None and task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    model = _load(path_or_spec, format, task, scale, weights, input_range, name, max_bytes, max_pixels, in_channels,
                  sidecar, factory_kwargs, factory_modules)
    if depth_kind is not None:
        if check_kind(depth_kind) != "metric" and model.task != "depth":
            raise InputError(f"depth_kind={depth_kind!r} is for depth models; this model's task is {model.task!r}")
        model.depth_kind = model.card["depth_kind"] = depth_kind
    return model


def _load(path_or_spec, format, task, scale, weights, input_range, name, max_bytes, max_pixels, in_channels,
          sidecar, factory_kwargs, factory_modules) -> UQModel:
    if scale is not None and (isinstance(scale, bool) or int(scale) != scale or int(scale) < 1):
        raise InputError(f"scale must be a positive integer, got {scale!r}")
    max_pixels = limits.cpu_max_pixels() if max_pixels is None else int(max_pixels)
    max_bytes = limits.max_model_bytes() if max_bytes is None else int(max_bytes)
    fmt, spec = split_format(os.fspath(path_or_spec).strip(), format)
    if not spec:
        raise InputError("give a file, a directory, a 'package.module:factory' or a Hugging Face model id")
    if fmt is None:
        fmt = guess_format(spec)
    if weights is not None and fmt != "factory":
        where = "a file is loaded on its own" if Path(spec).expanduser().is_file() else f"not for {fmt} models"
        raise InputError(f"weights= is only for 'package.module:factory' specs; {where}")
    common = dict(task=task, scale=scale, name=name)
    if fmt == "factory":
        if not _SPEC.match(spec):
            raise InputError(f"{spec!r} is not a 'package.module:factory' spec (a dotted module, a colon, a callable)")
        return load_factory(spec, weights=weights, input_range=input_range, in_channels=in_channels,
                            factory_kwargs=factory_kwargs, max_bytes=max_bytes, allowed_modules=factory_modules,
                            **common)
    if fmt == "hf":
        source, local = _hf_source(spec)
        return load_hf_depth(source, local=local, max_bytes=max_bytes, max_pixels=max_pixels, **common)
    path = _model_file(spec, fmt, max_bytes)
    if fmt == "onnx":
        return load_onnx(path, input_range=input_range, in_channels=in_channels, sidecar=sidecar,
                         max_pixels=max_pixels, max_bytes=max_bytes, **common)
    if fmt == "torchscript":
        return load_torchscript(path, input_range=input_range, in_channels=in_channels, sidecar=sidecar,
                                max_pixels=max_pixels, max_bytes=max_bytes, **common)
    if input_range is not None and parse_range(input_range) != (0.0, 1.0):
        raise InputError("spandrel checkpoints always take [0, 1] RGB; leave input_range unset")
    return load_spandrel(path, max_pixels=max_pixels, max_bytes=max_bytes, **common)


def check_format(format: str | None) -> str | None:
    """The canonical format name ("spandrel", "torchscript", "hf", "factory", "onnx") or None."""
    if format is None:
        return None
    key = str(format).strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)} (or None to guess from the spec), "
                         f"got {format!r}")
    return key


def split_format(spec: str, format: str | None = None) -> tuple[str | None, str]:
    """(format, spec without its prefix): ``"hf:Intel/dpt"`` -> ``("hf", "Intel/dpt")``.

    A prefix is one of the format names (or aliases) followed by a colon; anything else is left as
    it is (``mypkg.nets:build`` is a factory spec, not a prefix). ``format=`` and a prefix must agree."""
    chosen = check_format(format)
    head, sep, rest = spec.partition(":")
    key = ALIASES.get(head.lower(), head.lower()) if sep else None
    if key not in FORMATS:
        return chosen, spec
    if chosen is not None and chosen != key:
        raise InputError(f"format={format!r} was given but the spec starts with {head + ':'!r}; give one of them")
    return key, rest.strip()


def guess_format(spec: str) -> str:
    """The fallback when no format is named: what the spec is (see the module docstring)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return "hf"
    if path.is_file():
        return _guess_file_format(path)
    if _SPEC.match(spec):
        return "factory"
    if _HUB_ID.match(spec) and not path.exists():
        try:
            import_transformers()
        except InputError:
            raise InputError(
                f"there is no file or directory {spec!r}; if it is a Hugging Face model id, loading it needs "
                "the optional package transformers: pip install transformers"
            ) from None
        return "hf"
    raise InputError(
        f"{spec!r} is not a bundled model, an existing file or directory, a 'package.module:factory' "
        "spec or a Hugging Face model id ('owner/name'); check the path"
    )


def _guess_file_format(path: Path) -> str:
    if path.suffix.lower() == ".json":
        path = _twin(path)
    if is_torchscript(path):
        return "torchscript"
    if path.suffix.lower() == ".onnx":
        return "onnx"
    if path.suffix.lower() in STATE_DICT_SUFFIXES:
        return "spandrel"
    if path.suffix.lower() in (".pkl", ".pickle"):
        raise InputError(
            f"{path.name} is a plain pickle; pickles can run code when loaded, so they are refused. "
            "Save the weights with safetensors or torch.save(model.state_dict(), 'weights.pth')"
        )
    raise InputError(
        f"cannot tell the format of {path.name}: expected {', '.join(STATE_DICT_SUFFIXES)} (a state dict), "
        "a TorchScript file, an .onnx file, or a Hugging Face model directory"
    )


def _twin(json_path: Path) -> Path:
    twin = sidecar_twin(json_path)
    if twin is None:
        raise InputError(
            f"{json_path.name} is a JSON file; give the model file itself (a TorchScript / ONNX sidecar "
            "sits next to a model file of the same name, e.g. model.pt + model.json)"
        )
    return twin


def _model_file(spec: str, fmt: str, max_bytes: int) -> Path:
    """The file a spandrel / TorchScript / ONNX model is read from (size-checked; a sidecar -> its model)."""
    path = Path(spec).expanduser()
    if not path.is_file():
        what = "a directory" if path.is_dir() else "not an existing file"
        raise InputError(f"{spec!r} is {what}; a {fmt} model is one file (check the path)")
    check_size(path, max_bytes)
    if path.suffix.lower() == ".json":
        path = _twin(path)
        check_size(path, max_bytes)
    return path


def _hf_source(spec: str) -> tuple[str, bool]:
    """(source, local) for a Hugging Face model: a save_pretrained directory or a hub id."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path), True
    if path.exists() or not _HUB_ID.match(spec):
        raise InputError(f"{spec!r} is neither a directory written by save_pretrained() nor a Hugging Face "
                         "model id ('owner/name')")
    return spec, False
