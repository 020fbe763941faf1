"""Loading the user's own models through ``uqcore.load_model(path_or_spec)``, as users do.

Each format's model is built here with random weights and saved the way its users save it
(state dict .pth / .safetensors for spandrel, ``torch.jit.save`` + JSON sidecar,
``save_pretrained`` for transformers, a factory in a test module), then loaded by path and run
through ``estimate`` with every method it offers."""

from __future__ import annotations

import json
import pickle
import sys

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import uqcore
from uqcore.engine.hooks import hook_count
from uqcore.engine.layers import list_layers
from uqcore.models.loaders import describe, load_user_model, module_tree, read_state_dict
from uqcore.models.card import read_card

LAYER_METHODS = ("noise", "dropout")
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:FutureWarning")


def run_every_method(model: uqcore.UQModel, x: torch.Tensor, samples: int = 3) -> dict[str, uqcore.Estimate]:
    """``estimate`` with each offered method; checks shapes, finiteness and that hooks are gone."""
    layers = [info.name for info in list_layers(model)] if model.hookable else []
    results = {}
    for method in model.methods:
        layer = layers[len(layers) // 2] if method in LAYER_METHODS else None
        est = uqcore.estimate(model, x, method=method, layer=layer, strength=0.1, samples=samples, seed=0)
        h, w = x.shape[-2:]
        assert est.prediction.shape[-2:] == (h * model.scale, w * model.scale), method
        assert est.variance.shape == (h * model.scale, w * model.scale), method
        assert torch.isfinite(est.variance).all() and (est.variance >= 0).all(), method
        assert hook_count(model.module) == 0
        results[method] = est
    return results


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand((1, 3, 12, 14), generator=torch.Generator().manual_seed(3))


# -- spandrel -------------------------------------------------------------------------------------
def test_spandrel_esrgan_pth_detected(tmp_path, x):
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    net = ESRGAN(num_filters=8, num_blocks=1, scale=4).eval()
    path = tmp_path / "RealESRGAN_tiny.pth"
    torch.save({"params_ema": net.state_dict(), "iter": 7}, path)  # BasicSR-style wrapper

    model = uqcore.load_model(str(path))
    assert (model.task, model.scale, model.name) == ("sr", 4, "RealESRGAN_tiny")
    assert model.card["format"] == "spandrel" and model.card["architecture"] == "ESRGAN"
    assert describe(model)["parameters"] == sum(p.numel() for p in net.parameters())
    with torch.inference_mode():
        assert torch.equal(model.module(x[..., :8, :8]), net(x[..., :8, :8]))  # same weights, unclamped
    est = uqcore.estimate(model, x[..., :8, :8], method="transform", samples=4)
    assert est.prediction.shape == (3, 32, 32) and est.variance.max() > 0


def test_spandrel_compact_safetensors_every_method(tmp_path, x):
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    net = Compact(num_feat=8, num_conv=2, upscale=2)
    path = tmp_path / "compact.safetensors"
    save_file(net.state_dict(), str(path))

    model = load_user_model(path)
    assert (model.task, model.scale) == ("sr", 2)
    assert model.card["architecture"] == "RealESRGAN Compact"
    assert {"transform", "noise", "dropout"} <= set(model.methods)
    results = run_every_method(model, x)
    assert results["noise"].variance.max() > 0 and results["dropout"].variance.max() > 0


def test_spandrel_size_requirements_are_padded(tmp_path):
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(0)
    net = SwinIR(upscale=2, img_size=16, window_size=4, embed_dim=12, depths=[1], num_heads=[2], mlp_ratio=1,
                 upsampler="pixelshuffledirect")
    path = tmp_path / "swinir.pth"
    torch.save(net.state_dict(), path)
    model = uqcore.load_model(str(path))
    assert model.card["architecture"] == "SwinIR" and model.scale == 2
    assert model.card["size_requirements"]["minimum"] == 16
    small = torch.rand(1, 3, 10, 12)  # below SwinIR's minimum: padded, output cropped back
    est = uqcore.estimate(model, small, method="transform", samples=2)
    assert est.prediction.shape == (3, 20, 24)


def test_input_size_limit_on_cpu(tmp_path):
    from spandrel.architectures.Compact import Compact

    path = tmp_path / "c.safetensors"
    save_file(Compact(num_feat=4, num_conv=1, upscale=2).state_dict(), str(path))
    model = load_user_model(path, max_pixels=100)
    with pytest.raises(uqcore.InputError, match=r"12×14 = 168 pixels.*limited to 100"):
        uqcore.estimate(model, torch.rand(1, 3, 12, 14), method="transform", device="cpu")


def test_unrecognised_state_dict_points_to_factory(tmp_path):
    path = tmp_path / "mine.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(uqcore.InputError, match="does not recognise.*module:factory"):
        uqcore.load_model(str(path))


def test_file_size_limit(tmp_path):
    path = tmp_path / "big.safetensors"
    save_file({"w": torch.zeros(1000)}, str(path))
    with pytest.raises(uqcore.InputError, match="above the .* MB limit"):
        load_user_model(path, max_bytes=1000)


# -- safety ---------------------------------------------------------------------------------------
class _Exploit:
    """Unpickling this would create ``marker`` (stands in for any code a checkpoint could run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("kind", ["torch_zip", "raw_pickle", "pkl"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    payload = {"body.0.weight": torch.zeros(1), "evil": _Exploit(marker)}
    if kind == "torch_zip":
        path = tmp_path / "model.pth"
        torch.save(payload, path)
    else:
        path = tmp_path / ("model.pt" if kind == "raw_pickle" else "model.pkl")
        path.write_bytes(pickle.dumps(payload, protocol=2))
    sanity = tmp_path / "sanity"
    pickle.loads(pickle.dumps(_Exploit(sanity)))  # the payload is real: plain unpickling runs it
    assert sanity.exists() and not marker.exists()
    with pytest.raises(uqcore.InputError, match="refused|safe loader rejected"):
        uqcore.load_model(str(path))
    with pytest.raises(uqcore.InputError):
        read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("data", [b"this is not a checkpoint", b"PK\x03\x04 broken zip", b""])
def test_garbage_files_give_a_clear_error(tmp_path, data):
    path = tmp_path / "broken.pth"
    path.write_bytes(data)
    with pytest.raises(uqcore.InputError, match="broken.pth is not a"):
        uqcore.load_model(str(path))


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 3, 1)), path)
    with pytest.raises(uqcore.InputError, match=r"pickled Python objects \(torch\.nn.*state_dict"):
        uqcore.load_model(str(path))


# -- TorchScript ----------------------------------------------------------------------------------
class _ScriptedUp(nn.Module):
    """x2 network that expects inputs in [0, 255] and returns [0, 255]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.conv(x / 255.0)) * 255.0


def test_torchscript_with_sidecar_offers_transform_only(tmp_path, x):
    torch.manual_seed(0)
    scripted = torch.jit.script(_ScriptedUp().eval())
    path = tmp_path / "scripted.pt"
    scripted.save(str(path))
    (tmp_path / "scripted.json").write_text(json.dumps({"task": "sr", "scale": 2, "input_range": "0-255",
                                                         "name": "my-scripted"}))

    model = uqcore.load_model(str(path))
    assert (model.name, model.task, model.scale, model.hookable) == ("my-scripted", "sr", 2, False)
    assert model.card["format"] == "torchscript" and model.methods == ["transform"]
    assert "forward hooks" in model.disabled_methods["noise"]
    with torch.inference_mode():  # the engine feeds [0, 1]; the wrapper converts both ways
        assert torch.allclose(model.module(x), scripted(x * 255) / 255, atol=1e-6)
    assert list_layers(model) == []  # no hookable layers, and no crash listing them
    assert module_tree(model) == [("conv", "Conv2d"), ("shuffle", "PixelShuffle")]
    assert describe(model)["parameters"] == 3 * 12 * 9 + 12

    run_every_method(model, x)
    for method in ("noise", "dropout", "mc_dropout"):
        with pytest.raises(uqcore.InputError, match=f"method '{method}' does not apply.*supports transform"):
            uqcore.estimate(model, x, method=method, layer="conv")


def test_torchscript_without_sidecar_detects_scale(tmp_path):
    scripted = torch.jit.script(_ScriptedUp().eval())
    path = tmp_path / "plain.pt"
    scripted.save(str(path))
    model = load_user_model(path, input_range="0-255")
    assert (model.task, model.scale) == ("sr", 2)  # guessed from a probe run
    with pytest.raises(uqcore.InputError, match=r"scale=4 was given.*\(×2\)"):
        load_user_model(path, scale=4)


# -- module:factory -------------------------------------------------------------------------------
def test_factory_with_weights_every_method(tmp_path, x):
    from tests.models.factory_fixture import TinyUpscaler

    torch.manual_seed(5)
    trained = TinyUpscaler()
    weights = tmp_path / "trained.safetensors"
    save_file(trained.state_dict(), str(weights))

    model = load_user_model("tests.models.factory_fixture:make", weights=weights)
    assert (model.task, model.scale, model.card["format"]) == ("sr", 2, "factory")
    assert torch.equal(model.module.head.weight, trained.head.weight)
    assert model.methods == ["transform", "noise", "dropout", "mc_dropout"]
    results = run_every_method(model, x)
    assert results["mc_dropout"].variance.max() > 0

    pth = tmp_path / "trained.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in trained.state_dict().items()}}, pth)
    again = load_user_model("tests.models.factory_fixture:make", weights=pth, task="image")
    assert again.task == "image" and torch.equal(again.module.head.weight, trained.head.weight)


def test_factory_through_load_model_and_errors(tmp_path):
    model = uqcore.load_model("tests.models.factory_fixture:make")
    assert model.name == "make" and model.scale == 2
    wrong = tmp_path / "wrong.safetensors"
    save_file({"head.weight": torch.zeros(4, 3, 3, 3)}, str(wrong))
    with pytest.raises(uqcore.InputError, match="does not fit"):
        load_user_model("tests.models.factory_fixture:make", weights=wrong)
    with pytest.raises(uqcore.InputError, match="must return a torch.nn.Module"):
        uqcore.load_model("tests.models.factory_fixture:not_a_module")
    with pytest.raises(uqcore.InputError, match="standard library"):
        uqcore.load_model("os:getcwd")
    with pytest.raises(uqcore.InputError, match="cannot import"):
        uqcore.load_model("no_such_package_xyz.mod:make")


def test_factory_that_exits_is_an_input_error(tmp_path, monkeypatch):
    """SystemExit from a factory, or from its module's import, never reaches the caller (the Models
    page's callback); KeyboardInterrupt still does."""
    from uqcore.models.loaders.factory import load_factory

    allowed = ["tests.models"]  # as the dashboard calls it: the module is allowed, the call exits
    with pytest.raises(uqcore.InputError, match=r"factory_fixture:exits ended with SystemExit\(2\)"):
        load_factory("tests.models.factory_fixture:exits", allowed_modules=allowed)
    with pytest.raises(uqcore.InputError, match="SystemExit"):
        uqcore.load_model("tests.models.factory_fixture:exits")
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit('usage: exits_on_import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(uqcore.InputError, match=r"importing 'exits_on_import'.*SystemExit\(usage: exits_on_import\)"):
        uqcore.load_model("exits_on_import:main")
    with pytest.raises(KeyboardInterrupt):
        load_factory("tests.models.factory_fixture:interrupted")


def test_unknown_name_still_lists_the_zoo():
    with pytest.raises(uqcore.InputError, match="neither a bundled model"):
        uqcore.load_model("no-such-model-name")


# -- Hugging Face transformers --------------------------------------------------------------------
def test_transformers_missing_says_how_to_install(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(uqcore.InputError, match="pip install transformers"):
        uqcore.load_model(str(tmp_path))


def _tiny_glpn(folder, processor):
    from transformers import GLPNConfig, GLPNForDepthEstimation

    config = GLPNConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                        decoder_hidden_size=8, max_depth=10, head_in_index=-1)
    torch.manual_seed(0)
    GLPNForDepthEstimation(config).save_pretrained(folder)
    processor.save_pretrained(folder)


def test_hf_depth_directory_every_method(tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is optional (pip install transformers)")
    from transformers import AutoImageProcessor

    processor = transformers.DPTImageProcessor(size={"height": 64, "width": 64}, keep_aspect_ratio=True,
                                               ensure_multiple_of=32, image_mean=[0.4, 0.5, 0.6],
                                               image_std=[0.2, 0.3, 0.25])
    folder = tmp_path / "tiny-glpn"
    _tiny_glpn(folder, processor)

    model = uqcore.load_model(str(folder))
    assert (model.name, model.task, model.scale, model.card["format"]) == ("tiny-glpn", "depth", 1, "huggingface")
    assert model.card["architecture"] == "GLPNForDepthEstimation"
    assert "mc_dropout" in model.disabled_methods  # GLPN's dropout layers all have rate 0

    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    reference = AutoImageProcessor.from_pretrained(folder)(images=[x[0]], do_rescale=False, return_tensors="pt")
    pixels, _ = model.module.preprocess(x)  # resize + normalisation as the processor does them
    assert pixels.shape == reference.pixel_values.shape == (1, 3, 32, 64)
    if type(reference.pixel_values) is torch.Tensor and "Pil" not in type(AutoImageProcessor.from_pretrained(folder)).__name__:
        assert torch.allclose(pixels, reference.pixel_values, atol=1e-4)
    with torch.inference_mode():
        assert model.module(x).shape == (1, 1, 40, 56)  # depth at the input resolution

    results = run_every_method(model, x[..., :24, :32], samples=2)
    assert set(results) == {"transform", "noise", "dropout"}


def test_hf_size_rules_match_processors():
    transformers = pytest.importorskip("transformers", reason="transformers is optional (pip install transformers)")
    from uqcore.models.loaders import hf_input_size, preprocess_settings

    for processor in (transformers.GLPNImageProcessor(),
                      transformers.DPTImageProcessor(size={"height": 64, "width": 64}, keep_aspect_ratio=True,
                                                     ensure_multiple_of=14)):
        settings = preprocess_settings(processor)
        for hw in [(50, 70), (100, 40), (64, 64)]:
            out = processor(images=[torch.rand(3, *hw)], do_rescale=False, return_tensors="pt").pixel_values
            assert hf_input_size(*hw, settings) == tuple(out.shape[-2:]), (type(processor).__name__, hw)


# -- explicit format: format= and spec prefixes ---------------------------------------------------
def test_format_prefixes_and_argument(tmp_path, x):
    from spandrel.architectures.Compact import Compact

    from uqcore.models.loaders import split_format

    torch.manual_seed(0)
    sd_path = tmp_path / "compact.safetensors"
    save_file(Compact(num_feat=4, num_conv=1, upscale=2).state_dict(), str(sd_path))
    ts_path = tmp_path / "scripted.pt"
    torch.jit.script(_ScriptedUp().eval()).save(str(ts_path))

    assert split_format("hf:Intel/dpt-hybrid-midas") == ("hf", "Intel/dpt-hybrid-midas")
    assert split_format("hf-hub:Intel/dpt") == ("hf", "Intel/dpt")
    assert split_format("factory:tests.models.factory_fixture:make") == ("factory", "tests.models.factory_fixture:make")
    assert split_format("tests.models.factory_fixture:make") == (None, "tests.models.factory_fixture:make")
    assert split_format("mine.pt", "TorchScript") == ("torchscript", "mine.pt")

    assert load_user_model(f"spandrel:{sd_path}").card["format"] == "spandrel"
    assert load_user_model(sd_path, format="spandrel").card["format"] == "spandrel"
    assert uqcore.load_model(f"torchscript:{ts_path}").card["format"] == "torchscript"
    assert uqcore.load_model(str(ts_path), format="torchscript").scale == 2
    made = uqcore.load_model("factory:tests.models.factory_fixture:make")
    assert (made.card["format"], made.name) == ("factory", "make")
    assert load_user_model("tests.models.factory_fixture:make", format="factory").scale == 2


def test_wrong_format_is_a_clear_input_error(tmp_path):
    ts_path = tmp_path / "scripted.pt"
    torch.jit.script(_ScriptedUp().eval()).save(str(ts_path))
    sd_path = tmp_path / "weights.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, sd_path)

    with pytest.raises(uqcore.InputError, match="format must be one of spandrel, torchscript, hf, factory, onnx"):
        load_user_model(ts_path, format="tflite")
    with pytest.raises(uqcore.InputError, match="format must be one of"):
        uqcore.load_model(str(ts_path), format="pickle")
    with pytest.raises(uqcore.InputError, match="format='spandrel' was given but the spec starts with 'hf:'"):
        load_user_model("hf:Intel/dpt-hybrid-midas", format="spandrel")
    with pytest.raises(uqcore.InputError, match="weights.pth is not a loadable TorchScript file"):
        load_user_model(sd_path, format="torchscript")
    with pytest.raises(uqcore.InputError, match="not a 'package.module:factory' spec"):
        load_user_model(f"factory:{ts_path}")
    with pytest.raises(uqcore.InputError, match="neither a directory written by save_pretrained"):
        load_user_model(ts_path, format="hf")
    with pytest.raises(uqcore.InputError, match="a spandrel model is one file"):
        load_user_model(f"spandrel:{tmp_path}")
    with pytest.raises(uqcore.InputError, match="weights= is only for 'package.module:factory'"):
        load_user_model(ts_path, format="torchscript", weights=sd_path)


def test_probe_uses_checked_forward():
    from uqcore.errors import ModelRunError
    from uqcore.models.loaders.common import probe

    class NaNOut(nn.Module):
        def forward(self, x):
            return x * float("nan")

    with pytest.raises(ModelRunError, match="NaN or infinite"):
        probe(NaNOut(), 3, (8, 8))
    with pytest.raises(ModelRunError, match=r"8×8 input of 2 channels.*forward pass failed.*in_channels="):
        probe(nn.Conv2d(3, 3, 1), 2, (8, 8))


def test_zoo_weights_of_the_wrong_shape_give_an_input_error(tmp_path):
    from uqcore.models.registry import MODELS_DIR

    card = read_card(MODELS_DIR / "srresnet.json").flat()
    card["arch_kwargs"] = {**card["arch_kwargs"], "n_feats": 8}  # the file holds 32-feature weights
    (tmp_path / "srresnet.safetensors").symlink_to(MODELS_DIR / "srresnet.safetensors")
    path = tmp_path / "narrow.json"
    path.write_text(json.dumps(card))
    with pytest.raises(uqcore.InputError, match=r"srresnet.safetensors does not fit the architecture: .*size mismatch"):
        uqcore.load_model(str(path))


def test_factory_outside_the_allowed_modules_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "planted_factories.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "import torch\n"
        "def make():\n"
        "    return torch.nn.Conv2d(3, 3, 1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in ("planted_factories:make", "factory:planted_factories:make", "pytest:main"):
        with pytest.raises(uqcore.InputError, match="factories are only loaded from uqcore.models"):
            load_user_model(spec, factory_modules=["uqcore.models"])
    assert not marker.exists() and "planted_factories" not in sys.modules
    with pytest.raises(uqcore.InputError, match="only loaded from tests.models"):
        load_user_model("tests.modelsX.evil:make", factory_modules=["tests.models"])  # a prefix is a module
    assert load_user_model("tests.models.factory_fixture:make", factory_modules=["tests.models"]).scale == 2
    assert load_user_model("uqcore.models.srresnet:SRResNet", factory_modules=["uqcore.models"]).scale == 4
    # the Python API keeps full access: it runs as the user
    assert load_user_model("planted_factories:make", task="image").task == "image" and marker.exists()
