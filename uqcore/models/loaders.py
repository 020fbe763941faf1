"""Loading the user's own models: spandrel checkpoints, TorchScript, Hugging Face depth, factories.

``load_user_model(path_or_spec)`` picks the format from what it is given:

- a ``.pth`` / ``.pt`` / ``.ckpt`` / ``.bin`` / ``.safetensors`` file holding a state dict of an
  architecture spandrel recognises (ESRGAN/Real-ESRGAN, SwinIR, HAT, EDSR, RCAN, SPAN, …): the
  architecture, scale and channels come from spandrel's detection. These models take RGB in
  [0, 1], like the engine; their output is *not* clamped to [0, 1] (clamping would hide the
  spread of perturbed samples in saturated regions). Inputs that miss the architecture's size
  requirements (minimum size, multiple of a window) are padded (reflect) and the output cropped.
- a TorchScript file (``torch.jit.save``; recognised by the ``code/`` folder in its archive, any
  suffix) with task / scale / input range from a JSON sidecar of the same stem
  (``model.pt`` + ``model.json``) or from the arguments. Forward hooks cannot reach the layers of
  a scripted module, so such a model only offers the methods that need no hooks (``transform``;
  ``UQModel.hookable`` is False).
- a directory saved by Hugging Face ``transformers`` (``save_pretrained``) holding a depth model
  (``AutoModelForDepthEstimation``: DPT, GLPN, Depth Anything, ZoeDepth, …) and its image
  processor; or a hub model id (``"Intel/dpt-hybrid-midas"``) where the hub can be reached. The
  wrapped model takes RGB [1, 3, H, W] in [0, 1] and returns depth [1, 1, H, W] at the input
  resolution: the processor's resizing (``size`` / ``keep_aspect_ratio`` / ``ensure_multiple_of``,
  or GLPN's ``size_divisor``), centre padding (``do_pad``) and mean/std normalisation are
  redone in torch on the input's device (see ``HFDepthNet``), and ``predicted_depth`` is resized
  back bilinearly. Relative-depth models (Depth Anything, MiDaS/DPT-hybrid) give inverse relative
  depth, not metres. ``transformers`` is optional: without it an InputError says how to install it.
- ``package.module:factory``: a callable from the user's own code returning an ``nn.Module`` (or
  a ``UQModel``), called with ``factory_kwargs``; ``weights=`` optionally loads a state dict into
  it. Task and scale come from the arguments, or are detected by running a probe input.

Safety: nothing untrusted is unpickled. Weights are read with safetensors or with
``torch.load(weights_only=True)``; a checkpoint that needs any other Python object (a pickled
``nn.Module``, an ``argparse.Namespace``, or a crafted ``__reduce__``) is refused with an
InputError and nothing in it runs. Hugging Face models load with ``trust_remote_code=False``.
Files above ``max_bytes`` are refused before they are read, and on CPU the spandrel / TorchScript
/ Hugging Face wrappers refuse inputs above ``max_pixels`` per image (no tiling: tiles would give
perturbation-based maps seams at the tile borders; crop or downscale instead, or use a GPU).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from uqcore.errors import InputError
from uqcore.models.base import TASKS, UQModel

MAX_BYTES = 2 * 1024**3  # default model file limit; env UQCORE_MAX_MODEL_BYTES overrides it
CPU_MAX_PIXELS = 512 * 512  # default per-image input limit on CPU; env UQCORE_CPU_MAX_PIXELS overrides it
STATE_DICT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")
RANGES = {"0-1": (0.0, 1.0), "0-255": (0.0, 255.0), "-1-1": (-1.0, 1.0)}
SIDECAR_KEYS = {"task", "scale", "input_range", "in_channels", "name", "mean", "std", "output", "description"}
_SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_RESAMPLE = {0: "nearest", 1: "bicubic", 2: "bilinear", 3: "bicubic", 4: "area", 5: "bilinear"}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number") from None


def default_max_bytes() -> int:
    return _env_int("UQCORE_MAX_MODEL_BYTES", MAX_BYTES)


def default_max_pixels() -> int:
    return _env_int("UQCORE_CPU_MAX_PIXELS", CPU_MAX_PIXELS)


# -- entry point ----------------------------------------------------------------------------------
def load_user_model(
    path_or_spec: str | os.PathLike,
    *,
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
) -> UQModel:
    """Load a model that is not in the bundled zoo (see the module docstring for the formats).

    task:        "sr" | "depth" | "image"; detected where the format tells (spandrel, Hugging
                 Face), otherwise from the sidecar, otherwise guessed from a probe run
                 (scale > 1: "sr"; one output channel: "depth"; else "image").
    scale:       upscale factor; detected where possible; checked against a probe run.
    weights:     state dict file for a ``module:factory`` (safetensors or weights-only torch.load).
    input_range: what the network expects instead of [0, 1]: "0-1", "0-255", "-1-1" or (lo, hi);
                 the engine keeps feeding [0, 1] and the wrapper rescales (and maps sr/image
                 outputs back). TorchScript and factories only.
    max_bytes:   refuse files (or a Hugging Face directory's weight files) larger than this
                 (default 2 GiB, env ``UQCORE_MAX_MODEL_BYTES``).
    max_pixels:  per-image input limit on CPU for the spandrel / TorchScript / HF wrappers
                 (default 512×512, env ``UQCORE_CPU_MAX_PIXELS``; 0 = no limit).
    """
    if task is not None and task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if scale is not None and (isinstance(scale, bool) or int(scale) != scale or int(scale) < 1):
        raise InputError(f"scale must be a positive integer, got {scale!r}")
    max_pixels = default_max_pixels() if max_pixels is None else int(max_pixels)
    max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
    spec = os.fspath(path_or_spec).strip() if not isinstance(path_or_spec, str) else path_or_spec.strip()
    if not spec:
        raise InputError("give a file, a directory, a 'package.module:factory' or a Hugging Face model id")
    path = Path(spec).expanduser()
    common = dict(task=task, scale=scale, name=name, max_pixels=max_pixels)

    if path.is_dir():
        if weights is not None:
            raise InputError("weights= is only for 'package.module:factory' specs")
        return load_hf_depth(str(path), local=True, max_bytes=max_bytes, **common)
    if path.is_file():
        if weights is not None:
            raise InputError("weights= is only for 'package.module:factory' specs; a file is loaded on its own")
        check_size(path, max_bytes)
        if path.suffix.lower() == ".json":
            twin = _sidecar_twin(path)
            if twin is None:
                raise InputError(
                    f"{path.name} is a JSON file; give the model file itself (a TorchScript sidecar "
                    "sits next to a model file of the same name, e.g. model.pt + model.json)"
                )
            path = twin
            check_size(path, max_bytes)
        if is_torchscript(path):
            return load_torchscript(path, input_range=input_range, in_channels=in_channels, sidecar=sidecar, **common)
        if path.suffix.lower() in STATE_DICT_SUFFIXES:
            if input_range is not None and _parse_range(input_range) != (0.0, 1.0):
                raise InputError("spandrel checkpoints always take [0, 1] RGB; leave input_range unset")
            return load_spandrel(path, **common)
        if path.suffix.lower() in (".pkl", ".pickle"):
            raise InputError(
                f"{path.name} is a plain pickle; pickles can run code when loaded, so they are refused. "
                "Save the weights with safetensors or torch.save(model.state_dict(), 'weights.pth')"
            )
        if path.suffix.lower() == ".onnx":
            raise InputError("ONNX models are not supported (their layers cannot be perturbed from PyTorch); "
                             "give the PyTorch state dict or a TorchScript export")
        raise InputError(
            f"cannot tell the format of {path.name}: expected {', '.join(STATE_DICT_SUFFIXES)} (a state dict), "
            "a TorchScript file, or a Hugging Face model directory"
        )
    if _SPEC.match(spec):
        return load_factory(spec, weights=weights, input_range=input_range, in_channels=in_channels,
                            factory_kwargs=factory_kwargs, max_bytes=max_bytes, task=task, scale=scale, name=name)
    if _HUB_ID.match(spec) and not path.exists():
        try:
            _transformers()
        except InputError:
            raise InputError(
                f"there is no file or directory {spec!r}; if it is a Hugging Face model id, loading it needs "
                "the optional package transformers: pip install transformers"
            ) from None
        return load_hf_depth(spec, local=False, max_bytes=max_bytes, **common)
    raise InputError(
        f"{spec!r} is not a bundled model, an existing file or directory, a 'package.module:factory' "
        "spec or a Hugging Face model id ('owner/name'); check the path"
    )


# -- shared helpers -------------------------------------------------------------------------------
def check_size(path: Path, max_bytes: int) -> int:
    size = path.stat().st_size
    if max_bytes and size > max_bytes:
        raise InputError(
            f"{path.name} is {size / 2**20:,.1f} MB, above the {max_bytes / 2**20:,.0f} MB limit for model files; "
            "raise it with max_bytes= (or UQCORE_MAX_MODEL_BYTES) if you trust the file and have the memory"
        )
    return size


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with a ``code/`` folder (``torch.save`` zips have none)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.split("/", 1)[-1].startswith("code/") or "/code/" in n for n in names)


def read_state_dict(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> dict[str, torch.Tensor]:
    """A state dict from safetensors or ``torch.load(weights_only=True)``; never unpickles objects.

    Wrappers such as ``{"state_dict": ...}``, ``{"params_ema": ...}`` and ``module.`` prefixes are
    removed (spandrel's canonicalisation); non-tensor entries are dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {path} does not exist")
    check_size(path, max_bytes)
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

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
    try:
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
            f"{_short(text)}). Save a state dict with torch.save(model.state_dict(), ...) or safetensors"
        ) from None
    except Exception as exc:  # garbage bytes make the unpickler fail in many ways (IndexError, EOFError, …)
        detail = _short(str(exc)) or type(exc).__name__
        raise InputError(f"{path.name} is not a readable PyTorch checkpoint ({detail}); expected a state dict "
                         "saved with torch.save(model.state_dict(), ...) or a safetensors file") from None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    for marker in ("WeightsUnpickler error:", "error:"):
        if marker in text:
            text = text.split(marker, 1)[1].strip() or text
            break
    return text[:limit] + ("…" if len(text) > limit else "")


def _parse_range(value: str | tuple | list | None) -> tuple[float, float]:
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


def _check_pixels(x: torch.Tensor, max_pixels: int, label: str) -> None:
    if max_pixels and x.device.type == "cpu":
        h, w = x.shape[-2:]
        if h * w > max_pixels:
            side = int(math.sqrt(max_pixels))
            raise InputError(
                f"the input is {h}×{w} = {h * w:,} pixels; on CPU {label} models are limited to {max_pixels:,} "
                f"pixels (about {side}×{side}) per forward pass, and every sample is one more pass. Crop or "
                "downscale the image, run on a GPU, or raise the limit (max_pixels= / UQCORE_CPU_MAX_PIXELS)"
            )


def _probe(module: nn.Module, in_channels: int, size: tuple[int, int]) -> torch.Tensor:
    x = torch.rand((1, in_channels, *size), generator=torch.Generator().manual_seed(0))
    try:
        with torch.inference_mode():
            out = module(x)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"the model failed on a {size[0]}×{size[1]} probe input with {in_channels} channels: "
            f"{type(exc).__name__}: {_short(str(exc))}. Check in_channels and that it takes [B, C, H, W] images"
        ) from None
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(f"the model must return one image tensor [B, C, H, W]; it returned {shape}")
    return out


def _scale_from_probe(out: torch.Tensor, size: tuple[int, int], given: int | None) -> int:
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


def _guess_task(scale: int, out_channels: int, in_channels: int) -> str:
    if scale > 1:
        return "sr"
    if out_channels == 1 and in_channels == 3:
        return "depth"
    return "image"


def _dropout_notes(module: nn.Module) -> dict[str, str]:
    """mc_dropout makes no sense when every dropout layer has rate 0 (common in HF configs)."""
    rates = [float(getattr(m, "p", 0.0)) for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if rates and max(rates) == 0.0:
        return {"mc_dropout": "all of the model's dropout layers have rate 0, so MC-dropout would give zero variance"}
    return {}


def _finish(module: nn.Module, *, name: str, task: str, scale: int, in_channels: int, card: dict,
            probe_size=(32, 32), hookable: bool = True, disabled: dict | None = None,
            output: str = "mean") -> UQModel:
    module = module.float().eval()
    model = UQModel(module=module, task=task, scale=scale, name=name, in_channels=in_channels,
                    card=card, probe_size=tuple(probe_size), hookable=hookable, output=output,
                    disabled_methods={**_dropout_notes(module), **(disabled or {})})
    card.setdefault("parameters", model.parameters)
    card["methods"] = model.methods
    if model.disabled_methods:
        card["unavailable_methods"] = dict(model.disabled_methods)
    return model


# -- spandrel -------------------------------------------------------------------------------------
class SpandrelNet(nn.Module):
    """A spandrel architecture as the engine sees it: [0, 1] RGB in, unclamped output out.

    Pads inputs that miss the architecture's size requirements (reflect, then replicate, on the
    bottom/right, as spandrel does) and crops the output; refuses inputs above ``max_pixels`` on
    CPU. The network is the ``model`` child, so layer names read ``model.<name in checkpoint>``."""

    def __init__(self, model: nn.Module, *, scale: int, size_requirements=None, call_fn=None,
                 max_pixels: int = CPU_MAX_PIXELS):
        super().__init__()
        self.model = model
        self.scale = int(scale)
        self.size_requirements = size_requirements
        self.call_fn = call_fn
        self.max_pixels = int(max_pixels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_pixels(x, self.max_pixels, "spandrel")
        h, w = x.shape[-2:]
        padded = False
        if self.size_requirements is not None and not self.size_requirements.none:
            pad_w, pad_h = self.size_requirements.get_padding(w, h)
            if pad_w or pad_h:
                rw, rh = min(pad_w, w - 1), min(pad_h, h - 1)
                x = F.pad(x, (0, rw, 0, rh), mode="reflect")
                x = F.pad(x, (0, pad_w - rw, 0, pad_h - rh), mode="replicate")
                padded = True
        out = self.call_fn(self.model, x) if self.call_fn is not None else self.model(x)
        if padded:
            out = out[..., : h * self.scale, : w * self.scale]
        return out


def load_spandrel(path: str | os.PathLike, *, task: str | None = None, scale: int | None = None,
                  name: str | None = None, max_pixels: int = CPU_MAX_PIXELS,
                  max_bytes: int = MAX_BYTES) -> UQModel:
    """A state dict of an architecture spandrel recognises; task/scale from its detection."""
    path = Path(path)
    try:
        import spandrel
    except ImportError as exc:  # pragma: no cover - spandrel is a requirement
        raise InputError("loading super-resolution checkpoints needs spandrel: pip install spandrel") from exc
    state = read_state_dict(path, max_bytes)
    try:
        desc = spandrel.ModelLoader(device="cpu").load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        keys = ", ".join(list(state)[:4])
        raise InputError(
            f"spandrel does not recognise the architecture in {path.name} (first keys: {keys}). If it is your "
            "own network, load it as 'package.module:factory' with weights= this file"
        ) from None
    except Exception as exc:  # detection matched but the weights do not fit: say so, never crash
        raise InputError(f"spandrel could not build a model from {path.name}: {type(exc).__name__}: "
                         f"{_short(str(exc))}") from None
    if not isinstance(desc, spandrel.ImageModelDescriptor):
        raise InputError(f"{path.name} is a {desc.architecture.name} {desc.purpose} model that needs a mask as "
                         "well as an image; only image-to-image models are supported")
    detected_task = "sr" if desc.purpose in ("SR", "FaceSR") and desc.scale > 1 else "image"
    if scale is not None and int(scale) != desc.scale:
        raise InputError(f"scale={scale} was given but spandrel detected ×{desc.scale} in {path.name}")
    req = desc.size_requirements
    multiple = max(1, req.multiple_of)
    side = max(32, req.minimum)
    side = int(math.ceil(side / multiple) * multiple)
    card = {
        "format": "spandrel",
        "source": str(path),
        "architecture": desc.architecture.name,
        "architecture_id": str(desc.architecture.id),
        "purpose": desc.purpose,
        "detected_task": detected_task,
        "scale": desc.scale,
        "input_channels": desc.input_channels,
        "output_channels": desc.output_channels,
        "tags": list(desc.tags),
        "size_requirements": {"minimum": req.minimum, "multiple_of": req.multiple_of, "square": req.square},
        "tiling": desc.tiling.name,
        "input_range": "[0, 1] RGB (spandrel convention); output not clamped",
        "cpu_max_pixels": max_pixels,
    }
    module = SpandrelNet(desc.model, scale=desc.scale, size_requirements=req,
                         call_fn=getattr(desc, "_call_fn", None), max_pixels=max_pixels)
    return _finish(module, name=name or path.stem, task=task or detected_task, scale=desc.scale,
                   in_channels=desc.input_channels, card=card, probe_size=(side, side))


# -- TorchScript ----------------------------------------------------------------------------------
class TorchScriptNet(nn.Module):
    """A scripted module behind a plain Python module, with input-range adaptation.

    The scripted module is deliberately *not* registered as a child: hooks cannot act inside it,
    and hiding it keeps ``list_layers`` (which hooks every named submodule) from failing — it
    reports no layers. Parameters, ``.to()`` and ``train()/eval()`` are forwarded to it."""

    def __init__(self, script: torch.jit.ScriptModule, *, input_range=(0.0, 1.0), mean=None, std=None,
                 map_output: bool = True, max_pixels: int = CPU_MAX_PIXELS):
        super().__init__()
        object.__setattr__(self, "script", script)
        self.lo, self.hi = (float(v) for v in input_range)
        self.map_output = bool(map_output)
        self.max_pixels = int(max_pixels)
        self.register_buffer("mean", None if mean is None else torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)
        self.register_buffer("std", None if std is None else torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_pixels(x, self.max_pixels, "TorchScript")
        x = _to_range(x, self.lo, self.hi, self.mean, self.std)
        out = self.script(x)
        if self.map_output and (self.lo, self.hi) != (0.0, 1.0):
            out = (out - self.lo) / (self.hi - self.lo)
        return out

    def _apply(self, fn, recurse=True):
        self.script._apply(fn)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True):
        self.script.train(mode)
        return super().train(mode)

    def parameters(self, recurse: bool = True):
        return self.script.parameters(recurse)

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self.script.named_parameters(prefix=prefix, recurse=recurse)

    def scripted_modules(self) -> list[tuple[str, str]]:
        """(dotted name, original class name) of the scripted module's submodules."""
        return [(n, getattr(m, "original_name", type(m).__name__)) for n, m in self.script.named_modules() if n]


def _to_range(x, lo, hi, mean, std):
    if (lo, hi) != (0.0, 1.0):
        x = x * (hi - lo) + lo
    if mean is not None:
        x = (x - mean.to(x.device)) / std.to(x.device)
    return x


def _sidecar_twin(json_path: Path) -> Path | None:
    for suffix in (".pt", ".pth", ".ts", ".torchscript", ".jit", ".zip"):
        candidate = json_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(sidecar: str | os.PathLike | dict | None, model_path: Path | None = None) -> dict:
    """The JSON sidecar of a TorchScript model (``model.json`` next to ``model.pt``), if any."""
    if isinstance(sidecar, dict):
        data = dict(sidecar)
    else:
        path = Path(sidecar) if sidecar is not None else (model_path.with_suffix(".json") if model_path else None)
        if path is None or not path.is_file():
            if sidecar is not None:
                raise InputError(f"sidecar {sidecar} does not exist")
            return {}
        if path.stat().st_size > 1_000_000:
            raise InputError(f"{path.name} is too large for a JSON sidecar (it should hold a few fields)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("the sidecar must be a JSON object such as {\"task\": \"sr\", \"scale\": 4}")
    unknown = set(data) - SIDECAR_KEYS
    if unknown:
        raise InputError(f"unknown sidecar field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(SIDECAR_KEYS))}")
    return data


def load_torchscript(path: str | os.PathLike, *, task: str | None = None, scale: int | None = None,
                     name: str | None = None, input_range=None, in_channels: int | None = None,
                     sidecar=None, max_pixels: int = CPU_MAX_PIXELS, max_bytes: int = MAX_BYTES) -> UQModel:
    """A ``torch.jit.save``d image-to-image network; only hook-free methods are offered.

    Loading TorchScript runs no Python code from the file, but its forward pass is the author's
    TorchScript program: load files from sources you trust."""
    path = Path(path)
    check_size(path, max_bytes)
    meta = read_sidecar(sidecar, path)
    task = task or meta.get("task")
    scale = scale if scale is not None else meta.get("scale")
    in_channels = int(in_channels or meta.get("in_channels") or 3)
    rng = _parse_range(input_range if input_range is not None else meta.get("input_range"))
    mean, std = meta.get("mean"), meta.get("std")
    if (mean is None) != (std is None):
        raise InputError("the sidecar needs both mean and std, or neither")
    try:
        script = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise InputError(f"{path.name} is not a loadable TorchScript file: {_short(str(exc))}") from None
    module = TorchScriptNet(script, input_range=rng, mean=mean, std=std, max_pixels=max_pixels)
    out = _probe(module.eval(), in_channels, (32, 32))
    found = _scale_from_probe(out, (32, 32), None if scale is None else int(scale))
    output = meta.get("output", "mean")
    out_channels = out.shape[1] // (2 if output == "mean_logvar" else 1)
    detected_task = _guess_task(found, out_channels, in_channels)
    task = task or detected_task
    module.map_output = task != "depth"
    card = {
        "format": "torchscript",
        "source": str(path),
        "architecture": getattr(script, "original_name", type(script).__name__),
        "detected_task": detected_task,
        "scale": found,
        "input_channels": in_channels,
        "output_channels": out_channels,
        "input_range": list(rng),
        "sidecar": {k: v for k, v in meta.items()} or None,
        "note": "TorchScript: forward hooks cannot reach its layers, so only transform-type methods are offered",
        "cpu_max_pixels": max_pixels,
    }
    if meta.get("description"):
        card["description"] = meta["description"]
    return _finish(module, name=name or meta.get("name") or path.stem, task=task, scale=found,
                   in_channels=in_channels, card=card, hookable=False, output=output)


# -- Hugging Face depth ---------------------------------------------------------------------------
def _transformers():
    try:
        import transformers  # noqa: F401
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation
    except ImportError:
        raise InputError(
            "loading Hugging Face depth models needs the optional package transformers, which is not "
            "installed in this Python environment: pip install transformers"
        ) from None
    return AutoModelForDepthEstimation, AutoImageProcessor


def preprocess_settings(processor: Any) -> dict:
    """The parts of a Hugging Face image processor that ``HFDepthNet`` redoes in torch."""
    cfg = processor.to_dict() if hasattr(processor, "to_dict") else dict(processor)
    kind = str(cfg.get("image_processor_type", type(processor).__name__))
    size = cfg.get("size") or {}
    if isinstance(size, int):
        size = {"height": size, "width": size}
    size = {k: int(v) for k, v in dict(size).items() if v is not None}
    resample = cfg.get("resample", 2)
    resample = int(getattr(resample, "value", resample)) if not isinstance(resample, str) else 2
    divisor = cfg.get("size_divisor")
    glpn_style = "GLPN" in kind or (divisor and not size)
    return {
        "type": kind,
        "do_resize": bool(cfg.get("do_resize", False)),
        "size": size,
        "keep_aspect_ratio": bool(cfg.get("keep_aspect_ratio", False)),
        "ensure_multiple_of": int(cfg.get("ensure_multiple_of") or 1),
        "resize_divisor": int(divisor) if glpn_style and divisor else None,
        "pad_divisor": int(divisor) if (not glpn_style and cfg.get("do_pad") and divisor) else None,
        "resample": _RESAMPLE.get(resample, "bilinear"),
        "do_normalize": bool(cfg.get("do_normalize", False)),
        "image_mean": [float(v) for v in (cfg.get("image_mean") or [0.0, 0.0, 0.0])],
        "image_std": [float(v) for v in (cfg.get("image_std") or [1.0, 1.0, 1.0])],
    }


def hf_input_size(h: int, w: int, s: dict) -> tuple[int, int]:
    """Size the processor would resize an h×w image to (DPT / Depth Anything / GLPN rules)."""

    def constrain(val: float, multiple: int) -> int:  # DPT's constrain_to_multiple_of
        x = round(val / multiple) * multiple
        if x < multiple:  # never collapse to 0
            x = math.ceil(val / multiple) * multiple
        return int(max(x, multiple))

    m = max(1, s["ensure_multiple_of"])
    if not s["do_resize"]:
        return h, w
    if s["resize_divisor"]:
        d = s["resize_divisor"]
        return max(d, h // d * d), max(d, w // d * d)
    size = s["size"]
    if "height" in size and "width" in size:
        sh, sw = size["height"] / h, size["width"] / w
        if s["keep_aspect_ratio"]:
            if abs(1 - sw) < abs(1 - sh):
                sh = sw
            else:
                sw = sh
        return constrain(sh * h, m), constrain(sw * w, m)
    if "shortest_edge" in size:
        r = size["shortest_edge"] / min(h, w)
        if "longest_edge" in size and max(h, w) * r > size["longest_edge"]:
            r = size["longest_edge"] / max(h, w)
        return constrain(h * r, m), constrain(w * r, m)
    if "longest_edge" in size:
        r = size["longest_edge"] / max(h, w)
        return constrain(h * r, m), constrain(w * r, m)
    return (constrain(h, m), constrain(w, m)) if m > 1 else (h, w)


class HFDepthNet(nn.Module):
    """A ``transformers`` depth model as the engine sees it.

    Input RGB [B, 3, H, W] in [0, 1]; the processor's resizing (``hf_input_size``, with its
    resample filter, antialiased, matching transformers' torchvision backend), centre zero-padding (``do_pad``) and mean/std normalisation
    are done in torch; ``predicted_depth`` is un-padded and resized bilinearly back to H×W.
    Output [B, 1, H, W]. The network is the ``model`` child (layer names ``model.<hf name>``)."""

    def __init__(self, model: nn.Module, settings: dict, *, max_pixels: int = CPU_MAX_PIXELS):
        super().__init__()
        self.model = model
        self.settings = dict(settings)
        self.max_pixels = int(max_pixels)
        mean = torch.tensor(settings["image_mean"], dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(settings["image_std"], dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def preprocess(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        s = self.settings
        h, w = x.shape[-2:]
        nh, nw = hf_input_size(h, w, s)
        if (nh, nw) != (h, w):
            mode = s["resample"]
            kwargs = {} if mode in ("nearest", "area") else {"align_corners": False, "antialias": True}
            x = F.interpolate(x, size=(nh, nw), mode=mode, **kwargs)  # = transformers' torchvision backend
        if s["do_normalize"]:
            x = (x - self.mean) / self.std
        pad = (0, 0, 0, 0)
        d = s["pad_divisor"]
        if d:
            ph, pw = math.ceil(nh / d) * d - nh, math.ceil(nw / d) * d - nw
            pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
            if any(pad):
                x = F.pad(x, pad)
        return x, pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pixels, pad = self.preprocess(x)
        _check_pixels(pixels, self.max_pixels, "Hugging Face depth")
        out = self.model(pixel_values=pixels)
        depth = out.predicted_depth if hasattr(out, "predicted_depth") else out[0]
        if depth.dim() == 3:
            depth = depth.unsqueeze(1)
        if any(pad):
            ph, pw = pixels.shape[-2:]
            dh, dw = depth.shape[-2:]
            top, bottom = round(pad[2] * dh / ph), round(pad[3] * dh / ph)
            left, right = round(pad[0] * dw / pw), round(pad[1] * dw / pw)
            depth = depth[..., top: dh - bottom, left: dw - right]
        if depth.shape[-2:] != (h, w):
            depth = F.interpolate(depth, size=(h, w), mode="bilinear", align_corners=False)
        return depth


def _dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and p.suffix.lower() in (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack"))


def load_hf_depth(source: str, *, local: bool = True, task: str | None = None, scale: int | None = None,
                  name: str | None = None, max_pixels: int = CPU_MAX_PIXELS, max_bytes: int = MAX_BYTES) -> UQModel:
    """A ``transformers`` depth model from a ``save_pretrained`` directory (or a hub id)."""
    if task not in (None, "depth"):
        raise InputError(f"Hugging Face depth models have task 'depth', not {task!r}")
    if scale not in (None, 1):
        raise InputError("depth models have scale 1")
    auto_model, auto_processor = _transformers()
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if local:
        folder = Path(source)
        if not (folder / "config.json").is_file():
            raise InputError(
                f"{folder} has no config.json: expected a directory written by a transformers model's "
                "save_pretrained() (a state-dict file can be loaded on its own instead)"
            )
        if not (folder / "preprocessor_config.json").is_file():
            raise InputError(
                f"{folder} has no preprocessor_config.json; save the image processor next to the model "
                "(AutoImageProcessor.from_pretrained(id).save_pretrained(folder)) so its normalisation is known"
            )
        total = _dir_bytes(folder)
        if max_bytes and total > max_bytes:
            raise InputError(f"the weights in {folder.name} total {total / 2**20:,.0f} MB, above the "
                             f"{max_bytes / 2**20:,.0f} MB limit; raise max_bytes= if you have the memory")
        kwargs["local_files_only"] = True
        if any(folder.glob("*.safetensors")):
            kwargs["use_safetensors"] = True
    try:
        model = auto_model.from_pretrained(source, **kwargs)
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc) or "depth" in str(exc).lower():
            raise InputError(f"{source} is not a depth-estimation model that AutoModelForDepthEstimation knows: "
                             f"{_short(str(exc))}") from None
        raise InputError(f"could not load {source} with transformers: {_short(str(exc))}") from None
    except Exception as exc:
        where = "" if local else " (a hub id needs network access to huggingface.co, or a local copy)"
        raise InputError(f"could not load {source} with transformers{where}: {type(exc).__name__}: "
                         f"{_short(str(exc))}") from None
    try:
        processor = auto_processor.from_pretrained(source, **{k: v for k, v in kwargs.items() if k != "use_safetensors"})
    except Exception as exc:
        raise InputError(f"could not load the image processor of {source}: {_short(str(exc))}") from None
    settings = preprocess_settings(processor)
    module = HFDepthNet(model, settings, max_pixels=max_pixels)
    probe = (64, 64)
    arch = type(model).__name__
    card = {
        "format": "huggingface",
        "source": str(source),
        "architecture": arch,
        "model_type": getattr(model.config, "model_type", None),
        "detected_task": "depth",
        "scale": 1,
        "input_channels": 3,
        "output_channels": 1,
        "input_range": "[0, 1] RGB; the processor's resize/normalisation is applied inside the wrapper",
        "preprocessing": settings,
        "output_note": "predicted_depth resized to the input resolution; relative-depth models give inverse "
                       "relative depth, not metres",
        "cpu_max_pixels": max_pixels,
    }
    folder_name = Path(source).name if local else source.replace("/", "--")
    return _finish(module, name=name or folder_name, task="depth", scale=1, in_channels=3, card=card,
                   probe_size=probe)


# -- module:factory -------------------------------------------------------------------------------
class RangeAdapter(nn.Module):
    """Feeds a network that expects another input range; the network is the ``net`` child."""

    def __init__(self, net: nn.Module, input_range=(0.0, 1.0), map_output: bool = True):
        super().__init__()
        self.net = net
        self.lo, self.hi = (float(v) for v in input_range)
        self.map_output = map_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x * (self.hi - self.lo) + self.lo)
        return (out - self.lo) / (self.hi - self.lo) if self.map_output else out


def load_factory(spec: str, *, weights=None, task: str | None = None, scale: int | None = None,
                 name: str | None = None, input_range=None, in_channels: int | None = None,
                 factory_kwargs: dict | None = None, max_bytes: int = MAX_BYTES) -> UQModel:
    """``package.module:factory`` from the user's own code, called with ``factory_kwargs``.

    Importing a module runs its code: this is for the user's own, trusted code. Callables from
    the Python standard library are refused (a factory must build a network)."""
    from uqcore.models.registry import resolve_callable

    top = spec.split(":", 1)[0].split(".", 1)[0]
    if top in getattr(sys, "stdlib_module_names", ()) or top == "builtins":
        raise InputError(f"{spec!r} names the standard library; a factory is a callable from your own code "
                         "that returns a torch.nn.Module")
    factory = resolve_callable(spec)
    if not callable(factory):
        raise InputError(f"{spec!r} is not callable; it must be a function or class returning an nn.Module")
    try:
        built = factory(**(factory_kwargs or {}))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"calling {spec} failed: {type(exc).__name__}: {_short(str(exc))}") from None
    if isinstance(built, UQModel):
        base_task, base_scale, module = built.task, built.scale, built.module
        in_channels = in_channels or built.in_channels
    elif isinstance(built, nn.Module):
        base_task, base_scale, module = None, None, built
    else:
        raise InputError(f"{spec} returned {type(built).__name__}; it must return a torch.nn.Module")
    if isinstance(module, torch.jit.ScriptModule):
        raise InputError(f"{spec} returned a TorchScript module; save it with torch.jit.save and load the file")
    if weights is not None:
        state = read_state_dict(weights, max_bytes)
        try:
            missing, unexpected = module.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise InputError(f"{Path(weights).name} does not fit {spec}: {_short(str(exc), 300)}") from None
        if missing or unexpected:
            raise InputError(f"{Path(weights).name} does not fit {spec}: missing {list(missing)[:5]}, "
                             f"unexpected {list(unexpected)[:5]}")
    in_channels = int(in_channels or 3)
    rng = _parse_range(input_range)
    task = task or base_task
    scale = scale if scale is not None else base_scale
    wrapped: nn.Module = RangeAdapter(module, rng) if rng != (0.0, 1.0) else module
    out = _probe(wrapped.eval(), in_channels, (32, 32))
    found = _scale_from_probe(out, (32, 32), None if scale is None else int(scale))
    detected_task = _guess_task(found, out.shape[1], in_channels)
    task = task or detected_task
    if isinstance(wrapped, RangeAdapter):
        wrapped.map_output = task != "depth"
    card = {
        "format": "factory",
        "source": spec,
        "weights": None if weights is None else str(weights),
        "architecture": type(module).__name__,
        "detected_task": detected_task,
        "scale": found,
        "input_channels": in_channels,
        "output_channels": int(out.shape[1]),
        "input_range": list(rng),
    }
    return _finish(wrapped, name=name or spec.rsplit(":", 1)[-1], task=task, scale=found,
                   in_channels=in_channels, card=card)


# -- for the dashboard ----------------------------------------------------------------------------
def describe(model: UQModel) -> dict:
    """What was detected, for display: format, architecture, task, scale, parameters, methods."""
    card = model.card or {}
    return {
        "name": model.name,
        "format": card.get("format", "python"),
        "architecture": card.get("architecture", type(model.module).__name__),
        "task": model.task,
        "scale": model.scale,
        "parameters": model.parameters,
        "input channels": model.in_channels,
        "methods": ", ".join(model.methods),
    }


def module_tree(model: UQModel) -> list[tuple[str, str]]:
    """(name, class) of every submodule, also inside a TorchScript model (which has no hookable layers)."""
    module = model.module
    if isinstance(module, TorchScriptNet):
        return module.scripted_modules()
    return [(n, type(m).__name__) for n, m in module.named_modules() if n]
