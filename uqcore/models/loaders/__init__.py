"""Loading the user's own models, one module per format.

| module           | owns                                                                     |
|------------------|--------------------------------------------------------------------------|
| ``dispatch``     | ``load_user_model``: ``format=`` / a spec prefix, else the guessing rules |
| ``spandrel``     | state dicts of architectures spandrel recognises (``SpandrelNet``)       |
| ``torchscript``  | ``torch.jit.save`` files + JSON sidecar (``TorchScriptNet``; no hooks)    |
| ``hf``           | ``transformers`` depth models (``HFDepthNet``: the processor in torch)    |
| ``factory``      | ``package.module:factory`` from the user's own code (``RangeAdapter``)    |
| ``onnxfile``     | ``.onnx`` files through onnx2torch (``OnnxNet``: hookable node modules)   |
| ``common``       | size checks, safe state-dict reading, input ranges, the probe run        |
| ``info``         | ``describe`` and ``module_tree`` for the dashboard                       |

Pick a format with ``load_user_model(spec, format="hf")`` or a prefix (``"hf:Intel/dpt-hybrid-midas"``,
``"torchscript:model.pt"``, ``"spandrel:4x.pth"``, ``"factory:mypkg.nets:build"``, ``"onnx:net.onnx"``); without
either, the format is guessed from the spec (see ``dispatch``; docs/OWN_MODELS.md).

Safety: nothing untrusted is unpickled. Weights are read with safetensors or with
``torch.load(weights_only=True)``; a checkpoint that needs any other Python object (a pickled
``nn.Module``, an ``argparse.Namespace``, or a crafted ``__reduce__``) is refused with an
InputError and nothing in it runs. Hugging Face models load with ``trust_remote_code=False``.
Files above ``max_bytes`` are refused before they are read, and on CPU the spandrel / TorchScript
/ Hugging Face wrappers refuse inputs above ``max_pixels`` per image (no tiling: tiles would give
perturbation-based maps seams at the tile borders; crop or downscale instead, or use a GPU).
"""

from uqcore.models.loaders.common import (
    CPU_MAX_PIXELS,
    MAX_BYTES,
    RANGES,
    check_size,
    fit_state_dict,
    portable_path,
    read_state_dict,
    resolve_callable,
)
from uqcore.models.loaders.dispatch import (
    FORMATS,
    STATE_DICT_SUFFIXES,
    check_format,
    guess_format,
    load_user_model,
    split_format,
)
from uqcore.models.loaders.factory import RangeAdapter, load_factory
from uqcore.models.loaders.hf import HFDepthNet, hf_input_size, load_hf_depth, preprocess_settings
from uqcore.models.loaders.info import describe, module_tree
from uqcore.models.loaders.onnxfile import OnnxNet, load_onnx
from uqcore.models.loaders.spandrel import SpandrelNet, load_spandrel
from uqcore.models.loaders.torchscript import (
    SIDECAR_KEYS,
    TorchScriptNet,
    is_torchscript,
    load_torchscript,
    read_sidecar,
)

__all__ = [
    "CPU_MAX_PIXELS", "MAX_BYTES", "RANGES", "SIDECAR_KEYS", "STATE_DICT_SUFFIXES", "FORMATS",
    "load_user_model", "check_format", "split_format", "guess_format",
    "load_spandrel", "load_torchscript", "load_hf_depth", "load_factory", "load_onnx",
    "SpandrelNet", "TorchScriptNet", "HFDepthNet", "RangeAdapter", "OnnxNet",
    "check_size", "fit_state_dict", "read_state_dict", "read_sidecar", "is_torchscript", "resolve_callable",
    "portable_path",
    "hf_input_size", "preprocess_settings", "describe", "module_tree",
]
