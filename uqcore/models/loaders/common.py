"""What every loader shares: size checks, safe state-dict reading, input ranges, the probe run
that detects scale and task, and the final wrapping into a ``UQModel``.

Safety: nothing untrusted is unpickled. Weights are read with safetensors or with
``torch.load(weights_only=True)``; a checkpoint that needs any other Python object (a pickled
``nn.Module``, an ``argparse.Namespace``, or a crafted ``__reduce__``) is refused with an
InputError and nothing in it runs.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from uqcore import limits
from uqcore.engine import methods
from uqcore.errors import InputError, ModelRunError
from uqcore.engine.model import UQModel, checked_forward

MAX_BYTES = limits.DEFAULT_MAX_MODEL_BYTES  # default model file limit (env UQCORE_MAX_MODEL_BYTES: see limits)
CPU_MAX_PIXELS = limits.DEFAULT_CPU_MAX_PIXELS  # default per-image CPU input limit (env UQCORE_CPU_MAX_PIXELS)
RANGES = {"0-1": (0.0, 1.0), "0-255": (0.0, 255.0), "-1-1": (-1.0, 1.0)}


def check_size(path: Path, max_bytes: int) -> int:
    """The file's size in bytes; an InputError above ``max_bytes`` (0 = no limit)."""
    size = path.stat().st_size
    if max_bytes and size > max_bytes:
        raise InputError(
            f"{path.name} is {size / 2**20:,.1f} MB, above the {max_bytes / 2**20:,.0f} MB limit for model files; "
            "raise it with max_bytes= (or UQCORE_MAX_MODEL_BYTES) if you trust the file and have the memory"
        )
    return size


def read_state_dict(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> dict[str, torch.Tensor]:
    """A state dict from safetensors or ``torch.load(weights_only=True)``; never unpickles objects.

    Wrappers such as ``{"state_dict": ...}``, ``{"params_ema": ...}`` and ``module.`` prefixes are
    removed (spandrel's canonicalisation); non-tensor entries are dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {path} does not exist")
    check_size(path, max_bytes)
    if path.suffix.lower() == ".safetensors":
        try:
            raw: Any = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise InputError(f"{path.name} is not a valid safetensors file: {exc}") from exc
    else:
        raw = _torch_load_weights_only(path)
    if not isinstance(raw, dict):
        raise InputError(f"{path.name} holds a {type(raw).__name__}, not a state dict (a mapping of names to tensors)")
    state = _canonical(raw)
    state = {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not state:
        raise InputError(f"{path.name} contains no weight tensors")
    return state


def _canonical(raw: dict) -> dict:
    try:  # lazy: importing spandrel loads every architecture it knows (slow); only needed here
        from spandrel import canonicalize_state_dict
    except ImportError:  # pragma: no cover - spandrel is a requirement
        return raw
    return canonicalize_state_dict(raw)


def _torch_load_weights_only(path: Path) -> Any:
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found or "Unsupported global" in text:
            what = found.group(1) if found else "a Python object"
            raise InputError(
                f"{path.name} was refused: besides weights it holds pickled Python objects ({what}), and "
                "loading those would run code from the file. Only plain state dicts are loaded. If you trust "
                "the file, re-save just the weights in your own environment, e.g. "
                "torch.save(checkpoint['state_dict'], 'weights.pth') or safetensors.torch.save_file(...)"
            ) from None
        raise InputError(
            f"{path.name} is not a weights-only PyTorch checkpoint (the safe loader rejected it: "
            f"{shorten(text)}). Save a state dict with torch.save(model.state_dict(), ...) or safetensors"
        ) from None
    except Exception as exc:  # garbage bytes make the unpickler fail in many ways (IndexError, EOFError, …)
        detail = shorten(str(exc)) or type(exc).__name__
        raise InputError(f"{path.name} is not a readable PyTorch checkpoint ({detail}); expected a state dict "
                         "saved with torch.save(model.state_dict(), ...) or a safetensors file") from None


def shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    for marker in ("WeightsUnpickler error:", "error:"):
        if marker in text:
            text = text.split(marker, 1)[1].strip() or text
            break
    return text[:limit] + ("…" if len(text) > limit else "")


def parse_range(value: str | tuple | list | None) -> tuple[float, float]:
    if value is None:
        return (0.0, 1.0)
    if isinstance(value, str):
        key = value.replace(" ", "").replace("[", "").replace("]", "").replace(",", "-")
        key = {"0-1.0": "0-1", "0.0-1.0": "0-1", "-1.0-1.0": "-1-1", "0-255.0": "0-255"}.get(key, key)
        if key not in RANGES:
            raise InputError(f"input_range must be one of {', '.join(RANGES)} or a pair (lo, hi), got {value!r}")
        return RANGES[key]
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"input_range must be one of {', '.join(RANGES)} or a pair (lo, hi), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise InputError(f"input_range needs lo < hi, got {value!r}")
    return (lo, hi)


def check_pixels(x: torch.Tensor, max_pixels: int, label: str) -> None:
    if max_pixels and x.device.type == "cpu":
        h, w = x.shape[-2:]
        if h * w > max_pixels:
            side = int(math.sqrt(max_pixels))
            raise InputError(
                f"the input is {h}×{w} = {h * w:,} pixels; on CPU {label} models are limited to {max_pixels:,} "
                f"pixels (about {side}×{side}) per forward pass, and every sample is one more pass. Crop or "
                "downscale the image, run on a GPU, or raise the limit (max_pixels= / UQCORE_CPU_MAX_PIXELS)"
            )


def probe(module: nn.Module, in_channels: int, size: tuple[int, int]) -> torch.Tensor:
    """The model's output for a seeded random input: ``base.checked_forward`` (the engine's own
    check of a forward pass) on [1, in_channels, *size], with a hint about ``in_channels``."""
    x = torch.rand((1, in_channels, *size), generator=torch.Generator().manual_seed(0))
    try:
        with torch.inference_mode():
            return checked_forward(module, x)
    except ModelRunError as exc:
        raise ModelRunError(f"probing the model with a {size[0]}×{size[1]} input of {in_channels} channels: "
                            f"{shorten(str(exc), 300)} (set in_channels= if it takes another channel count)") from None


def scale_from_probe(out: torch.Tensor, size: tuple[int, int], given: int | None) -> int:
    h, w = size
    oh, ow = out.shape[-2:]
    if oh % h or ow % w or oh // h != ow // w:
        if given is not None and (oh, ow) == (h * given, w * given):
            return given
        raise InputError(
            f"the model maps a {h}×{w} input to {oh}×{ow}, not an integer upscale; uqcore needs outputs of "
            "H·scale × W·scale"
        )
    found = oh // h
    if given is not None and given != found:
        raise InputError(f"scale={given} was given but the model maps {h}×{w} to {oh}×{ow} (×{found})")
    return found


def guess_task(scale: int, out_channels: int, in_channels: int) -> str:
    if scale > 1:
        return "sr"
    if out_channels == 1 and in_channels == 3:
        return "depth"
    return "image"


def _dropout_notes(module: nn.Module) -> dict[str, str]:
    """mc_dropout makes no sense when every dropout layer has rate 0 (common in HF configs)."""
    rates = [float(getattr(m, "p", 0.0)) for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if rates and max(rates) == 0.0:
        own_dropout = [m.name for m in methods.SPECS if m.requires == methods.NEEDS_DROPOUT_LAYERS]
        return {name: "all of the model's dropout layers have rate 0, so MC-dropout would give zero variance" for name in own_dropout}
    return {}


def finish(module: nn.Module, *, name: str, task: str, scale: int, in_channels: int, card: dict,
           probe_size=(32, 32), hookable: bool = True, disabled: dict | None = None,
           output: str = "mean", depth_kind: str | None = None) -> UQModel:
    """The loaded network as a ``UQModel`` (float32, eval mode), its card completed with the
    parameter count and the methods it offers (and why others are not). ``depth_kind`` (a depth
    model's "metric" / "relative" / "disparity"; None = metric) goes into the card too."""
    module = module.float().eval()
    if depth_kind is not None:
        card["depth_kind"] = depth_kind
    model = UQModel(module=module, task=task, scale=scale, name=name, in_channels=in_channels,
                    depth_kind=depth_kind or "metric",
                    card=card, probe_size=tuple(probe_size), hookable=hookable, output=output,
                    disabled_methods={**_dropout_notes(module), **(disabled or {})})
    card.setdefault("parameters", model.parameter_count)
    card["methods"] = model.methods
    if model.disabled_methods:
        card["unavailable_methods"] = dict(model.disabled_methods)
    return model


class FileNet(nn.Module):
    """The part the file networks' wrappers (ONNX ``OnnxNet``, TorchScript ``TorchScriptNet``)
    share: the CPU pixel limit, the input mapped from [0, 1] to the network's ``input_range`` and
    normalised by ``mean`` / ``std``, and the output mapped back (``map_output``; off for depth)."""

    label = "file"  # names the format in the pixel-limit message

    def __init__(self, *, input_range=(0.0, 1.0), mean=None, std=None, map_output: bool = True,
                 max_pixels: int = CPU_MAX_PIXELS):
        super().__init__()
        self.lo, self.hi = (float(v) for v in input_range)
        self.map_output = bool(map_output)
        self.max_pixels = int(max_pixels)
        for name, value in (("mean", mean), ("std", std)):
            self.register_buffer(name, None if value is None else
                                 torch.tensor(value, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def network_input(self, x: torch.Tensor) -> torch.Tensor:
        check_pixels(x, self.max_pixels, self.label)
        if (self.lo, self.hi) != (0.0, 1.0):
            x = x * (self.hi - self.lo) + self.lo
        if self.mean is not None:
            x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        return x

    def network_output(self, out: torch.Tensor) -> torch.Tensor:
        if self.map_output and (self.lo, self.hi) != (0.0, 1.0):
            out = (out - self.lo) / (self.hi - self.lo)
        return out


def file_settings(meta: dict, *, task: str | None, scale: int | None, input_range, in_channels: int | None,
                  default_channels: int) -> dict[str, Any]:
    """A file network's (ONNX, TorchScript) task, scale, input channels, input range and mean / std:
    each from the arguments first, then from its JSON sidecar ``meta``; task and scale may stay
    None (the probe in :func:`finish_file` finds them)."""
    mean, std = meta.get("mean"), meta.get("std")
    if (mean is None) != (std is None):
        raise InputError("the sidecar needs both mean and std, or neither")
    return {"task": task or meta.get("task"), "scale": scale if scale is not None else meta.get("scale"),
            "in_channels": int(in_channels or meta.get("in_channels") or default_channels),
            "range": parse_range(input_range if input_range is not None else meta.get("input_range")),
            "mean": mean, "std": std}


def finish_file(module: nn.Module, path: Path, meta: dict, settings: dict, *, fmt: str, identity: dict,
                name: str | None, max_pixels: int, note: str | None = None, hookable: bool = True) -> UQModel:
    """Probe a wrapped file network (ONNX, TorchScript; it has ``map_output``), find its scale,
    output channels and task, and :func:`finish` it with its card: format, source, ``identity``
    (architecture, producer, ...), what was found, the sidecar and ``note``."""
    in_channels = settings["in_channels"]
    out = probe(module.eval(), in_channels, (32, 32))
    found = scale_from_probe(out, (32, 32), None if settings["scale"] is None else int(settings["scale"]))
    output = meta.get("output", "mean")
    out_channels = out.shape[1] // (2 if output == "mean_logvar" else 1)
    detected_task = guess_task(found, out_channels, in_channels)
    task = settings["task"] or detected_task
    module.map_output = task != "depth"
    card = {"format": fmt, "source": str(path), **identity, "detected_task": detected_task, "scale": found,
            "input_channels": in_channels, "output_channels": out_channels, "input_range": list(settings["range"]),
            "sidecar": dict(meta) or None, **({"note": note} if note else {}), "cpu_max_pixels": max_pixels}
    if meta.get("description"):
        card["description"] = meta["description"]
    return finish(module, name=name or meta.get("name") or path.stem, task=task, scale=found, in_channels=in_channels,
                  card=card, hookable=hookable, output=output, depth_kind=meta.get("depth_kind"))


def fit_state_dict(module: nn.Module, state: dict, source: str, target: str) -> nn.Module:
    """Load ``state`` into ``module``; missing or unexpected keys, or a tensor of the wrong shape,
    give an InputError "<source> does not fit <target>: ..." instead of a RuntimeError."""
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # size mismatch for ...: copying a param with shape ...
        raise InputError(f"{source} does not fit {target}: {shorten(str(exc), 300)}") from None
    if missing or unexpected:
        raise InputError(f"{source} does not fit {target}: missing {list(missing)[:5]}, "
                         f"unexpected {list(unexpected)[:5]}")
    return module


def resolve_callable(spec: str):
    """Import ``package.module:attribute`` (the zoo's architectures and users' factories)."""
    if ":" not in spec:
        raise InputError(f"expected 'package.module:callable', got {spec!r}")
    module_name, attr = spec.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import {module_name!r} from {spec!r}: {exc}") from exc
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # the module's own code failed or exited (SystemExit) while being imported
        raise InputError(f"importing {module_name!r} from {spec!r} failed: {type(exc).__name__}"
                         f"({shorten(str(exc))})") from None
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise InputError(f"module {module_name!r} has no attribute {attr!r}") from exc


def portable_path(spec: Any, keep: Any = ()) -> Any:
    """``spec`` as an absolute path where it names an existing file or folder (and is not in
    ``keep``, e.g. the bundled models' names), so another process -- a Ray worker started
    elsewhere -- finds it; anything else (a hub id, a ``module:factory`` spec) unchanged."""
    if isinstance(spec, (str, os.PathLike)) and str(spec) not in keep and Path(spec).expanduser().exists():
        return str(Path(spec).expanduser().resolve())
    return spec
