"""TensorFlow.js *layers* models (``model.json`` + float32 weight shards) of ISR's RDN / RRDN:
reading them, a numpy reference evaluation of the Keras graph, and the mapping of Keras layer
names onto :mod:`uqcore.models.rrdn`'s grouped submodules. Used by
``python -m uqcore import-upscalerjs``; nothing here runs at model-load time (bundled weights are
safetensors).

The numpy evaluation follows the Keras / TF.js layer semantics, NHWC throughout: Conv2D with
``padding="same"`` or ``"valid"`` (the torch convs pad k // 2, so "valid" fits 1x1 kernels only;
the comparison of :func:`max_difference` catches any other case; kernels HWIO,
cross-correlation), Activation relu/linear, Concatenate on the
channel axis, Add, ISR's MultiplyBeta (``x * beta``), UpscalerJS's PixelShuffle{s}x
(``tf.depthToSpace(x, s, "NHWC")``) and UpSampling2D (nearest).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from uqcore.errors import InputError
from uqcore.models.rrdn import RDN, RRDN

SUPPORTED = ("InputLayer", "Conv2D", "Activation", "Concatenate", "Add", "MultiplyBeta", "UpSampling2D",
             "PixelShuffle")


def read_layers_model(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(keras model config, {weight name: float32 array})`` of ``folder/model.json``."""
    spec = json.loads((folder / "model.json").read_text())
    if spec.get("format") != "layers-model":
        raise InputError(f"{folder}/model.json is not a TF.js layers model (format {spec.get('format')!r})")
    weights = {}
    for group in spec["weightsManifest"]:
        blob = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            if w.get("dtype") != "float32" or "quantization" in w:
                raise InputError(f"weight {w['name']}: only unquantised float32 is supported")
            n = int(np.prod(w["shape"], dtype=np.int64))
            weights[w["name"]] = np.frombuffer(blob, "<f4", n, offset).reshape(w["shape"]).copy()
            offset += 4 * n
        if offset != len(blob):
            raise InputError(f"weight shards hold {len(blob)} bytes, the manifest {offset}")
    return spec["modelTopology"]["model_config"], weights


# -- numpy reference ---------------------------------------------------------------------------
def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, padding: str = "same") -> np.ndarray:
    """Keras Conv2D, stride 1, padding "same" or "valid", on NHWC ``x`` with an HWIO ``kernel``."""
    kh, kw = kernel.shape[:2]
    pad = (kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)
    xp = np.pad(x, ((0, 0), *pad, (0, 0))) if padding == "same" else x
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # N,H,W,Cin,kh,kw
    out = np.einsum("nhwcij,ijco->nhwo", win, kernel, optimize=True)
    return out + bias if bias is not None else out


def depth_to_space(x: np.ndarray, s: int) -> np.ndarray:
    """``tf.nn.depth_to_space(x, s)`` (NHWC): out[n, h*s+i, w*s+j, c] = x[n, h, w, (i*s+j)*C + c]."""
    n, h, w, ch = x.shape
    c = ch // (s * s)
    return x.reshape(n, h, w, s, s, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * s, w * s, c)


def _activation(name: str, x: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0)
    if name == "linear":
        return x
    raise InputError(f"activation {name!r} is not supported")


def _apply(layer: dict, inputs: list[np.ndarray], weights: dict) -> np.ndarray:
    kind, cfg, name = layer["class_name"], layer["config"], layer["name"]
    if kind == "Conv2D":
        if tuple(cfg.get("strides", (1, 1))) != (1, 1) or cfg.get("padding") not in ("same", "valid") \
                or tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1) or cfg.get("groups", 1) != 1:
            raise InputError(f"{name}: only stride-1, dilation-1, undilated, ungrouped convolutions are supported")
        out = conv2d(inputs[0], weights[f"{name}/kernel"], weights.get(f"{name}/bias"), cfg["padding"])
        return _activation(cfg.get("activation", "linear"), out)
    if kind == "Activation":
        return _activation(cfg["activation"], inputs[0])
    if kind == "Concatenate":
        if cfg.get("axis", -1) not in (3, -1):
            raise InputError(f"{name}: only channel concatenation is supported")
        return np.concatenate(inputs, axis=3)
    if kind == "Add":
        return np.sum(inputs, axis=0)
    if kind == "MultiplyBeta":
        return inputs[0] * cfg.get("beta", 0.2)
    if kind == "UpSampling2D":
        if cfg.get("interpolation", "nearest") != "nearest":
            raise InputError(f"{name}: only nearest upsampling is supported")
        sh, sw = cfg["size"]
        return inputs[0].repeat(sh, axis=1).repeat(sw, axis=2)
    if re.fullmatch(r"PixelShuffle\d+x", kind):
        return depth_to_space(inputs[0], int(cfg.get("scale") or kind[12:-1]))
    raise InputError(f"layer {name}: class {kind} is not supported (supported: {', '.join(SUPPORTED)})")


def keras_forward(config: dict, weights: dict, x: np.ndarray) -> np.ndarray:
    """Evaluate the Keras functional graph in numpy (float64) on NHWC ``x``."""
    cfg = config["config"]
    values: dict[str, np.ndarray] = {}
    (input_name, *_), = cfg["input_layers"]
    for layer in cfg["layers"]:
        if layer["class_name"] == "InputLayer":
            values[layer["name"]] = np.asarray(x, np.float64)
            continue
        (node,) = layer["inbound_nodes"]
        values[layer["name"]] = _apply(layer, [values[src] for src, *_ in node], weights)
    (output_name, *_), = cfg["output_layers"]
    return values[output_name]


# -- mapping onto uqcore.models.rrdn -------------------------------------------------------------
def _layers(config: dict) -> dict[str, dict]:
    return {layer["name"]: layer for layer in config["config"]["layers"]}


def _count(names, pattern: str) -> int:
    return sum(1 for n in names if re.fullmatch(pattern, n))


def infer_architecture(config: dict) -> tuple[str, dict]:
    """``("rrdn" | "rdn", constructor kwargs)`` read off the layer names and filter counts."""
    layers = _layers(config)
    filters = {n: layer["config"].get("filters") for n, layer in layers.items()}
    if "Pre_blocks_conv" in layers:
        (shuffle,) = [v for v in layers.values() if re.fullmatch(r"PixelShuffle\d+x", v["class_name"])]
        kw = dict(C=_count(layers, r"F_1_1_\d+"), D=_count(layers, r"LFF_1_\d+"), G=filters["F_1_1_1"],
                  G0=filters["Pre_blocks_conv"], T=_count(layers, r"RRDB_\d+_out"),
                  scale=int(shuffle["config"].get("scale") or shuffle["class_name"][12:-1]))
        return "rrdn", kw
    if "F_m1" in layers:
        (up,) = [v for v in layers.values() if v["class_name"] == "UpSampling2D"]
        kw = dict(C=_count(layers, r"F_1_\d+"), D=_count(layers, r"LFF_\d+"), G=filters["F_1_1"],
                  G0=filters["F_m1"], scale=int(up["config"]["size"][0]))
        return "rdn", kw
    raise InputError("not an ISR RDN/RRDN graph (no Pre_blocks_conv or F_m1 layer)")


def torch_name(arch: str, keras: str) -> str:
    """The :mod:`uqcore.models.rrdn` submodule of a Keras conv layer name."""
    fixed = {"rrdn": {"Pre_blocks_conv": "head", "post_blocks_conv": "tail", "PreShuffle": "upsample.conv",
                      "SR": "out"},
             "rdn": {"F_m1": "sfe1", "F_0": "sfe2", "GFF_1": "gff1", "GFF_2": "gff2", "UPN1": "upsample.conv1",
                     "UPN2": "upsample.conv2", "UPN3": "upsample.conv3", "SR": "out"}}[arch]
    if keras in fixed:
        return fixed[keras]
    prefix = "rrdb.{0}.rdb.{1}" if arch == "rrdn" else "rdb.{1}"
    m = re.fullmatch(r"F_(\d+)_(\d+)_(\d+)" if arch == "rrdn" else r"F_(\d+)_(\d+)", keras)
    if m:
        idx = [int(g) - 1 for g in m.groups()]
        t, d = (idx[0], idx[1]) if arch == "rrdn" else (0, idx[0])
        return prefix.format(t, d) + f".conv{idx[-1] + 1}"
    m = re.fullmatch(r"LFF_(\d+)_(\d+)" if arch == "rrdn" else r"LFF_(\d+)", keras)
    if m:
        idx = [int(g) - 1 for g in m.groups()]
        t, d = (idx[0], idx[1]) if arch == "rrdn" else (0, idx[0])
        return prefix.format(t, d) + ".lff"
    raise InputError(f"no {arch} submodule for Keras layer {keras!r}")


def build_module(config: dict, weights: dict, value_range: float) -> tuple[torch.nn.Module, str, dict]:
    """The rebuilt module with the Keras weights (kernels HWIO -> OIHW), its architecture name and
    constructor kwargs. Every weight of either side must be used exactly once."""
    arch, kw = infer_architecture(config)
    kw["value_range"] = float(value_range)
    module = (RRDN if arch == "rrdn" else RDN)(**kw)
    state = {}
    for name, arr in weights.items():
        layer, kind = name.rsplit("/", 1)
        target = torch_name(arch, layer)
        t = torch.from_numpy(arr.transpose(3, 2, 0, 1).copy() if kind == "kernel" else arr.copy())
        state[f"{target}.{'weight' if kind == 'kernel' else 'bias'}"] = t
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(f"weights do not fit {arch}{kw}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return module.eval(), arch, kw


def max_difference(module: torch.nn.Module, config: dict, weights: dict, value_range: float,
                   size: int = 8, seed: int = 0) -> float:
    """Largest |torch - numpy Keras graph| over a random ``size`` x ``size`` input, in [0, 1]
    output units (the module works in [0, 1]; the Keras graph in [0, value_range]), divided by
    the largest |output| when that exceeds 1 (float32 rounding grows with the values)."""
    x = np.random.default_rng(seed).random((1, size, size, 3))
    ref = keras_forward(config, weights, x * value_range) / value_range
    with torch.inference_mode():
        out = module(torch.from_numpy(x).permute(0, 3, 1, 2).float())
    return float(np.abs(out.permute(0, 2, 3, 1).double().numpy() - ref).max() / max(1.0, np.abs(ref).max()))
