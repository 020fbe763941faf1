"""Hugging Face ``transformers`` depth models: a ``save_pretrained`` directory or a hub id.

``AutoModelForDepthEstimation`` (DPT, GLPN, Depth Anything, ZoeDepth, …) and its image
processor. The wrapped model takes RGB [1, 3, H, W] in [0, 1] and returns depth [1, 1, H, W] at
the input resolution: the processor's resizing (``size`` / ``keep_aspect_ratio`` /
``ensure_multiple_of``, or GLPN's ``size_divisor``), centre padding (``do_pad``) and mean/std
normalisation are redone in torch on the input's device (see ``HFDepthNet``), and
``predicted_depth`` is resized back bilinearly. Relative-depth models (Depth Anything,
MiDaS/DPT-hybrid) give inverse relative depth, not metres: :func:`depth_kind_of` marks them
``depth_kind="disparity"`` (aligned in inverse-depth space before scoring), metric ones "metric". ``transformers`` is optional: without
it an InputError says how to install it. Models load with ``trust_remote_code=False``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.models.loaders.common import CPU_MAX_PIXELS, MAX_BYTES, check_pixels, finish, shorten

_RESAMPLE = {0: "nearest", 1: "bicubic", 2: "bilinear", 3: "bicubic", 4: "area", 5: "bilinear"}


# model_type -> depth_kind of transformers' depth models (Depth Anything: from its config)
_DISPARITY_TYPES = ("dpt",)  # DPT / MiDaS: relative inverse depth
_METRIC_TYPES = ("glpn", "zoedepth", "depth_pro")


def depth_kind_of(config: Any) -> str:
    """"disparity" for relative inverse-depth models (DPT / MiDaS, Depth Anything with
    ``depth_estimation_type="relative"``), "metric" for metric ones (GLPN, ZoeDepth, Depth Pro,
    Depth Anything metric fine-tunes) and for model types not known here."""
    kind = str(getattr(config, "model_type", "") or "")
    if "depth_anything" in kind:
        return "metric" if getattr(config, "depth_estimation_type", "relative") == "metric" else "disparity"
    return "disparity" if kind in _DISPARITY_TYPES else "metric"


def import_transformers():
    """(AutoModelForDepthEstimation, AutoImageProcessor), or an InputError saying how to install them."""
    try:  # lazy: transformers is optional and slow to import
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
        check_pixels(pixels, self.max_pixels, "Hugging Face depth")
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
    auto_model, auto_processor = import_transformers()
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
                             f"{shorten(str(exc))}") from None
        raise InputError(f"could not load {source} with transformers: {shorten(str(exc))}") from None
    except Exception as exc:
        where = "" if local else " (a hub id needs network access to huggingface.co, or a local copy)"
        raise InputError(f"could not load {source} with transformers{where}: {type(exc).__name__}: "
                         f"{shorten(str(exc))}") from None
    try:
        processor = auto_processor.from_pretrained(source, **{k: v for k, v in kwargs.items() if k != "use_safetensors"})
    except Exception as exc:
        raise InputError(f"could not load the image processor of {source}: {shorten(str(exc))}") from None
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
                       "relative depth, not metres (depth_kind 'disparity': aligned to the target when scored)",
        "cpu_max_pixels": max_pixels,
    }
    folder_name = Path(source).name if local else source.replace("/", "--")
    return finish(module, name=name or folder_name, task="depth", scale=1, in_channels=3, card=card,
                   probe_size=probe, depth_kind=depth_kind_of(model.config))

