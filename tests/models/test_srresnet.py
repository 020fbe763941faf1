"""The bundled x4 SR zoo: loading by name, shapes, the baselines' extras, and the card's PSNR gain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import uqcore
from uqcore.models.srresnet import SRResNet, bicubic_downscale, bicubic_upscale, psnr_gain

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "assets" / "samples" / "sr"
SR_ZOO = ["srresnet", "srgan", "srresnet-mcdrop", "srresnet-ens", "srresnet-llm"]
PSNR_IMAGES = ["astronaut.png", "chelsea.png", "coffee.png"]


def _lr_sample(side: int = 24) -> torch.Tensor:
    hr = uqcore.models.srresnet.load_hr(SAMPLES / "astronaut.png")[..., : side * 4, : side * 4]
    return bicubic_downscale(hr, 4)


# -- architecture (no weights needed) ------------------------------------------------------------
def test_architecture_shapes_and_names():
    net = SRResNet(n_feats=8, n_blocks=4, dropout_p=0.2, dropout_at=1, logvar=True).eval()
    x = torch.rand(2, 3, 10, 12)
    with torch.inference_mode():
        y = net(x)
    assert y.shape == (2, 6, 40, 48)
    names = dict(net.named_modules())
    for name in ["head", "body.0", "body.3", "body_tail", "upsample", "tail", "body.1.dropout"]:
        assert name in names
    assert isinstance(names["body.1.dropout"], torch.nn.Dropout)


def test_fresh_net_starts_near_bicubic():
    net = SRResNet(n_feats=8, n_blocks=2).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        diff = (net(x) - bicubic_upscale(x, 4)).abs().mean()
    assert diff < 0.1


def test_bicubic_downscale_range_and_size():
    hr = torch.rand(1, 3, 32, 48)
    lr = bicubic_downscale(hr, 4)
    assert lr.shape == (1, 3, 8, 12) and lr.min() >= 0 and lr.max() <= 1
    with pytest.raises(ValueError):
        bicubic_downscale(torch.rand(1, 3, 30, 48), 4)


# -- the bundled models ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zoo():
    missing = [n for n in SR_ZOO if n not in uqcore.list_models("sr")]
    assert not missing, f"bundled SR models missing: {missing} (train them with scripts/train_sr_zoo.sh)"
    return {name: uqcore.load_model(name) for name in SR_ZOO}


@pytest.mark.parametrize("name", SR_ZOO)
def test_zoo_model_loads_and_upscales(zoo, name):
    model = zoo[name]
    assert model.task == "sr" and model.scale == 4 and model.name == name
    x = _lr_sample()
    with torch.inference_mode():
        y = model.module(x)
    channels = 6 if name == "srresnet-llm" else 3
    assert y.shape == (1, channels, x.shape[2] * 4, x.shape[3] * 4)
    assert torch.isfinite(y).all()
    mean, _ = model.split_output(y)
    assert (mean - bicubic_upscale(x, 4)).abs().mean() < 0.1  # a sane image, not noise


def test_zoo_extras(zoo):
    assert zoo["srresnet-llm"].output == "mean_logvar" and "llm" in zoo["srresnet-llm"].methods
    assert len(zoo["srresnet-ens"].members) >= 4 and "ensemble" in zoo["srresnet-ens"].methods
    members = zoo["srresnet-ens"].members
    assert not torch.equal(members[0].head[0].weight, members[1].head[0].weight)
    assert zoo["srresnet-mcdrop"].dropout_modules and "mc_dropout" in zoo["srresnet-mcdrop"].methods
    assert not zoo["srresnet"].dropout_modules


def test_ensemble_has_eight_distinct_members(zoo):
    ens = zoo["srresnet-ens"]
    assert len(ens.members) == ens.card["members"] == 8  # fills the paper's Ensemble (8) column
    seeds = [r["seed"] for r in ens.card["training"]["runs"]]
    assert len(set(seeds)) == 8
    firsts = [m.head[0].weight for m in ens.members]
    assert all(not torch.equal(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:])


def test_a_likelihood_baseline_is_as_sharp_as_srresnet(zoo):
    """At least one likelihood baseline costs the prediction nothing (the stop-gradient head: srresnet's
    PSNR on every image), else it is no fair baseline for the training-free maps; the jointly trained
    one's loss is what its card says. On the numbers python -m uqcore quality sr --write stored in the cards."""
    base = zoo["srresnet"].card["eval"]
    head = uqcore.load_model("srresnet-llm-head").card["eval"]
    assert head["per_image"].keys() == base["per_image"].keys()
    assert all(head["per_image"][k]["psnr"] == pytest.approx(v["psnr"], abs=1e-3) for k, v in base["per_image"].items())
    joint = zoo["srresnet-llm"].card
    assert joint["eval"]["per_image"].keys() == base["per_image"].keys()
    within = joint["eval"]["mean"]["psnr"] >= base["mean"]["psnr"] - 0.5
    assert within or joint["selection"]["within_margin"] is False  # a miss is recorded, not hidden


def test_zoo_layers_are_sensible(zoo):
    names = [layer.name for layer in uqcore.list_layers(zoo["srresnet"])]
    assert "body.0" in names and "upsample" in " ".join(names)
    assert any(n.startswith("body.") for n in names)


@pytest.mark.parametrize("name", SR_ZOO)
def test_card_documents_the_model(zoo, name):
    card = zoo[name].card
    for key in ("architecture", "arch_kwargs", "parameters", "scale", "input_range", "training", "eval"):
        assert key in card, key
    assert card["training"]["runs"][0]["command"].startswith("python -m uqcore train sr")
    assert card["eval"]["per_image"] and "psnr_gain" in card["eval"]["mean"]


@pytest.mark.slow
def test_srresnet_psnr_gain_matches_card(zoo):
    model = zoo["srresnet"]
    gain = psnr_gain(model.module, [SAMPLES / f for f in PSNR_IMAGES])
    per_image = model.card["eval"]["per_image"]
    expected = float(np.mean([per_image[f]["psnr_gain"] for f in PSNR_IMAGES]))
    assert gain > 0
    assert abs(gain - expected) < 0.05, (gain, expected)
    assert model.card["eval"]["mean"]["psnr_gain"] >= 1.0
