"""ONNX models through onnx2torch: round trips of real networks, the hooks, and what is refused."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import uqcore
from uqcore.models.loaders import load_user_model

onnx = pytest.importorskip("onnx")


def _export(module: torch.nn.Module, path, *, dynamic: bool = True, size=(24, 24), opset: int = 17) -> None:
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "oh", 3: "ow"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notice
        torch.onnx.export(module.eval(), (x,), str(path), input_names=["input"], output_names=["output"],
                          dynamic_axes=axes if dynamic else None, opset_version=opset, dynamo=False)


def _round_trip_models() -> list[str]:
    """srresnet and every bundled third-party model (a card with "origin")."""
    return ["srresnet"] + [n for n in uqcore.list_models() if "origin" in uqcore.model_card(n) and n != "srresnet"]


@pytest.mark.parametrize("name", _round_trip_models())
def test_onnx_round_trip_matches_and_takes_noise(tmp_path, name):
    source = uqcore.load_model(name, student=False)
    path = tmp_path / f"{name}.onnx"
    _export(source.module, path)
    model = uqcore.load_model(str(path))
    assert (model.card["format"], model.task, model.scale) == ("onnx", source.task, source.scale)
    assert model.hookable and "noise" in model.methods
    x = torch.rand(1, 3, 20, 28, generator=torch.Generator().manual_seed(1))  # another size than exported
    with torch.inference_mode():
        diff = (model.module(x) - source.module(x)).abs().max().item()
    assert diff < 1e-3
    names = [info.name for info in uqcore.list_layers(model)]
    layer = names[len(names) // 2]
    assert "." not in layer and layer in dict(model.module.named_modules())  # the graph's own node names
    est = uqcore.estimate(model, x, method="noise", layer=layer, strength=0.1, samples=4, seed=0)
    assert tuple(est.variance.shape) == (20 * source.scale, 28 * source.scale)
    assert float(est.variance.max()) > 0
    plain = uqcore.estimate(model, x, method="noise", layer=layer, strength=0.1, samples=4, seed=0)
    assert torch.equal(est.variance, plain.variance)  # seeded, and no hook left behind
    with torch.inference_mode():
        assert (model.module(x) - source.module(x)).abs().max().item() < 1e-3


class _DepthToSpaceNet(torch.nn.Module):
    """Dense concatenation, 0.2-scaled residual, ReLU and a TF-style (NHWC) depth-to-space head:
    the op mix of the RRDN networks third-party SR models ship as."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1, self.c2 = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(11, 8, 3, padding=1)
        self.head = torch.nn.Conv2d(8, 12, 3, padding=1)

    def forward(self, x):
        f = torch.relu(self.c1(x))
        f = f + 0.2 * self.c2(torch.cat([x, f], 1))
        y = self.head(f)  # [B, 12, H, W] -> [B, 3, 2H, 2W] in TF's channel order (block, block, channel)
        b, _, h, w = y.shape
        return y.view(b, 2, 2, 3, h, w).permute(0, 3, 4, 1, 5, 2).reshape(b, 3, 2 * h, 2 * w)


@pytest.mark.parametrize("name", ["esrgan", "depth_to_space"])
def test_onnx_round_trip_of_third_party_architectures(tmp_path, name):
    if name == "esrgan":
        from spandrel.architectures.ESRGAN import ESRGAN

        torch.manual_seed(0)
        net = ESRGAN(num_filters=8, num_blocks=1, scale=4)  # spandrel's RRDBNet, tiny
    else:
        net = _DepthToSpaceNet()
    source = uqcore.wrap(net.eval(), task="sr", scale=4 if name == "esrgan" else 2)
    path = tmp_path / f"{name}.onnx"
    _export(source.module, path, size=(16, 16))
    model = uqcore.load_model(str(path))
    x = torch.rand(1, 3, 12, 20, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        assert (model.module(x) - source.module(x)).abs().max().item() < 1e-3
    names = [info.name for info in uqcore.list_layers(model)]
    est = uqcore.estimate(model, x, method="noise", layer=names[len(names) // 2], strength=0.1, samples=3, seed=0)
    assert float(est.variance.max()) > 0


def test_onnx_prefix_format_sidecar_and_range(tmp_path):
    class Times255(torch.nn.Module):  # a network that works in [0, 255]: out = 2x
        def forward(self, x):
            return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    path = tmp_path / "net.onnx"
    _export(Times255(), path)
    (tmp_path / "net.json").write_text(json.dumps({"task": "sr", "input_range": "0-255", "name": "twice"}))
    for spec, kwargs in ((f"onnx:{path}", {}), (str(path), {"format": "onnx"}), (str(tmp_path / "net.json"), {})):
        model = uqcore.load_model(spec, **kwargs)
        assert (model.name, model.scale, model.card["input_range"]) == ("twice", 2, [0.0, 255.0])
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        out = model.module(x)
    np.testing.assert_allclose(out[..., ::2, ::2].numpy(), x.numpy(), atol=1e-5)  # range mapped back
    assert load_user_model(path, task="image", scale=2, sidecar={}).task == "image"


def test_fixed_size_export_is_refused_with_its_size(tmp_path):
    path = tmp_path / "fixed.onnx"
    _export(uqcore.load_model("srresnet", student=False).module, path, dynamic=False, size=(24, 20))
    with pytest.raises(uqcore.InputError, match="fixed input size 24×20"):
        uqcore.load_model(str(path))


@pytest.mark.parametrize("content", [b"", b"\x08\x07garbage that is not a protobuf" * 10, b"PK\x03\x04 zip?"])
def test_malformed_onnx_is_an_input_error(tmp_path, content):
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(uqcore.InputError, match="broken.onnx"):
        uqcore.load_model(str(path))


def test_external_data_and_size_limit_refused(tmp_path):
    path = tmp_path / "net.onnx"
    _export(uqcore.load_model("srresnet", student=False).module, path)
    with pytest.raises(uqcore.InputError, match="above the 0 MB limit"):
        load_user_model(path, max_bytes=1000)
    proto = onnx.load(str(path))
    external = tmp_path / "ext.onnx"
    onnx.save(proto, str(external), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.data", size_threshold=0)
    with pytest.raises(uqcore.InputError, match="external data"):
        uqcore.load_model(str(external))


def test_newer_opset_is_converted_down(tmp_path):
    path = tmp_path / "net19.onnx"
    source = uqcore.load_model("srresnet", student=False)
    _export(source.module, path, opset=19)
    model = uqcore.load_model(str(path))
    assert model.card["opset"] == 19
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        assert (model.module(x) - source.module(x)).abs().max().item() < 1e-3
