"""ONNX files (``torch.onnx.export`` and other exporters), converted to PyTorch by ``onnx2torch``.

onnx2torch turns the ONNX graph into a ``torch.fx`` GraphModule with one named submodule per ONNX
node (``body/body/0/conv1/Conv``), so forward hooks reach every node and all hook methods work.
Task / scale / input range come from a JSON sidecar of the same stem (``model.onnx`` +
``model.json``, the TorchScript sidecar's fields) or from the arguments, else from the probe run.

Refused with an InputError: a file that is not an ONNX model; a graph whose spatial input axes
are fixed (uqcore runs any image size: export with ``dynamic_axes`` / ``dynamic_shapes``); weights
stored outside the file (external data: re-save with ``onnx.save(model,
save_as_external_data=False)``, up to 2 GB); ops onnx2torch cannot convert. Loading runs no Python
code from the file: it is a protobuf of ops and tensors.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.models.loaders.common import (CPU_MAX_PIXELS, MAX_BYTES, FileNet, check_size, file_settings,
                                          finish_file, shorten)
from uqcore.models.loaders.torchscript import read_sidecar

CONVERTER_OPSET = 17  # newest default-domain opset onnx2torch 1.5 converts; newer graphs are converted down


def _import_onnx():
    try:
        import onnx
        from onnx2torch import convert
    except ImportError:  # pragma: no cover - both are requirements
        raise InputError("loading ONNX models needs the packages onnx and onnx2torch: "
                         "pip install onnx onnx2torch (versions in requirements.txt)") from None
    return onnx, convert


class OnnxNet(FileNet):
    """An onnx2torch GraphModule with input-range adaptation and the CPU pixel limit (FileNet).

    The graph's own submodules are registered directly on this module (the graph itself is not
    a child), so layer names are the graph's node names (``body/body/0/conv1/Conv``) without a
    wrapper prefix; the graph calls those same module objects, so hooks on them act."""

    label = "ONNX"

    def __init__(self, graph: nn.Module, **kwargs):
        super().__init__(**kwargs)
        object.__setattr__(self, "graph", graph)
        for name, child in graph.named_children():
            self.add_module(name, child)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.graph(self.network_input(x))
        if isinstance(out, (tuple, list)) and len(out) == 1:
            out = out[0]
        return self.network_output(out)

    def _apply(self, fn, recurse=True):
        self.graph._apply(fn, recurse=False)  # the graph's own tensors, if any; children below
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True):
        self.graph.training = mode
        return super().train(mode)


def read_onnx(path: Path):
    """The parsed ONNX model (weights inside the file), or an InputError saying what is wrong."""
    onnx, _ = _import_onnx()
    from onnx.external_data_helper import uses_external_data

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, truncated files, …
        raise InputError(f"{path.name} is not a readable ONNX model ({shorten(str(exc)) or type(exc).__name__}); "
                         "export one with torch.onnx.export") from None
    if not proto.graph.node or not proto.graph.input or not proto.graph.output:
        raise InputError(f"{path.name} is not an ONNX model with a graph (no nodes, inputs or outputs)")
    external = [t.name for t in proto.graph.initializer if uses_external_data(t)]
    if external:
        raise InputError(f"{path.name} keeps {len(external)} weight tensor(s) in external data files "
                         f"({external[0]}, …); only self-contained ONNX files are loaded. Re-save it with "
                         "onnx.save(onnx.load(path), 'model.onnx', save_as_external_data=False) (models under 2 GB)")
    return proto


def check_dynamic(proto, name: str) -> int:
    """The graph's input channels; an InputError if the height / width axes are fixed."""
    inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if len(inputs) != 1:
        raise InputError(f"{name} has {len(inputs)} graph inputs; uqcore runs models with one image input")
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise InputError(f"{name} takes a {len(dims)}-d input; uqcore needs an image input [B, C, H, W]")
    fixed = [d.dim_value for d in dims[2:] if d.HasField("dim_value")]
    if fixed:
        size = "×".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims[2:])
        raise InputError(f"{name} was exported for a fixed input size {size}; uqcore runs images of any size. "
                         "Export it with dynamic height and width, e.g. torch.onnx.export(..., dynamic_axes="
                         "{'input': {2: 'height', 3: 'width'}, 'output': {2: 'height', 3: 'width'}})")
    return int(dims[1].dim_value) if dims[1].HasField("dim_value") else 3


def convert_graph(proto, name: str) -> nn.Module:
    """onnx2torch's GraphModule; graphs above :data:`CONVERTER_OPSET` are converted down first."""
    onnx, convert = _import_onnx()
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset > CONVERTER_OPSET:
        from onnx import version_converter

        try:
            proto = version_converter.convert_version(proto, CONVERTER_OPSET)
        except Exception as exc:
            raise InputError(f"{name} uses opset {opset}; converting it to opset {CONVERTER_OPSET} for onnx2torch "
                             f"failed ({shorten(str(exc))}); export with opset_version={CONVERTER_OPSET}") from None
    try:
        return convert(proto)
    except Exception as exc:  # an op or attribute onnx2torch has no converter for
        raise InputError(f"{name} could not be converted to PyTorch by onnx2torch: {type(exc).__name__}: "
                         f"{shorten(str(exc), 300)}") from None


def load_onnx(path: str | os.PathLike, *, task: str | None = None, scale: int | None = None,
              name: str | None = None, input_range=None, in_channels: int | None = None,
              sidecar=None, max_pixels: int = CPU_MAX_PIXELS, max_bytes: int = MAX_BYTES) -> UQModel:
    """An ONNX image-to-image network as a hookable PyTorch module (all methods offered)."""
    path = Path(path)
    check_size(path, max_bytes)
    meta = read_sidecar(sidecar, path)
    proto = read_onnx(path)
    graph_channels = check_dynamic(proto, path.name)
    settings = file_settings(meta, task=task, scale=scale, input_range=input_range, in_channels=in_channels,
                             default_channels=graph_channels)
    graph = convert_graph(proto, path.name)
    module = OnnxNet(graph, input_range=settings["range"], mean=settings["mean"], std=settings["std"],
                     max_pixels=max_pixels)
    identity = {"architecture": proto.graph.name or "onnx graph",
                "producer": f"{proto.producer_name} {proto.producer_version}".strip() or None,
                "opset": max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None)}
    return finish_file(module, path, meta, settings, fmt="onnx", identity=identity, name=name, max_pixels=max_pixels)
