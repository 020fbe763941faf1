"""TorchScript files (``torch.jit.save``), with an optional JSON sidecar.

Recognised by the ``code/`` folder in the archive (any suffix). Task / scale / input range come
from a JSON sidecar of the same stem (``model.pt`` + ``model.json``) or from the arguments.
Forward hooks cannot reach the layers of a scripted module, so such a model only offers the
methods that need no hooks (``transform``; ``UQModel.hookable`` is False). Loading TorchScript
runs no Python code from the file, but its forward pass is the author's TorchScript program.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import torch

from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.models.loaders.common import (
    CPU_MAX_PIXELS,
    MAX_BYTES,
    FileNet,
    check_size,
    file_settings,
    finish_file,
    shorten,
)

SIDECAR_KEYS = {"task", "scale", "input_range", "in_channels", "name", "mean", "std", "output", "description",
                "depth_kind"}


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


class TorchScriptNet(FileNet):
    """A scripted module behind a plain Python module, with input-range adaptation (FileNet).

    The scripted module is deliberately *not* registered as a child: hooks cannot act inside it,
    and hiding it keeps ``list_layers`` (which hooks every named submodule) from failing — it
    reports no layers. Parameters, ``.to()`` and ``train()/eval()`` are forwarded to it."""

    label = "TorchScript"

    def __init__(self, script: torch.jit.ScriptModule, **kwargs):
        super().__init__(**kwargs)
        object.__setattr__(self, "script", script)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network_output(self.script(self.network_input(x)))

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


def sidecar_twin(json_path: Path) -> Path | None:
    """The model file next to a sidecar ``model.json`` (``model.pt``, ``.pth``, ``.ts``, …), if any."""
    for suffix in (".pt", ".pth", ".ts", ".torchscript", ".jit", ".zip", ".onnx"):
        candidate = json_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(sidecar: str | os.PathLike | dict | None, model_path: Path | None = None) -> dict:
    """The JSON sidecar of a TorchScript / ONNX model (``model.json`` next to ``model.pt``), if any."""
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
    settings = file_settings(meta, task=task, scale=scale, input_range=input_range, in_channels=in_channels,
                             default_channels=3)
    try:
        script = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise InputError(f"{path.name} is not a loadable TorchScript file: {shorten(str(exc))}") from None
    module = TorchScriptNet(script, input_range=settings["range"], mean=settings["mean"], std=settings["std"],
                            max_pixels=max_pixels)
    return finish_file(module, path, meta, settings, fmt="torchscript", name=name, max_pixels=max_pixels,
                       identity={"architecture": getattr(script, "original_name", type(script).__name__)},
                       note="TorchScript: forward hooks cannot reach its layers, so only transform-type methods "
                            "are offered", hookable=False)

