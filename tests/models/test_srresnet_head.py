"""srresnet-llm-head's network: srresnet's prediction bit for bit, a trainable variance branch only,
and method="llm" through uqcore.estimate."""

import argparse
import json

import torch
from safetensors.torch import save_file

import uqcore
from uqcore.models.registry import build_architecture
from uqcore.models.srresnet import SRResNet
from uqcore.models.srresnet_head import SRResNetVarHead
from uqcore.training import sr
from uqcore.models.card import read_card

KW = dict(scale=4, n_feats=8, n_blocks=2)


def _pair(seed=0):
    torch.manual_seed(seed)
    plain = SRResNet(**KW).eval()
    with torch.no_grad():  # a non-trivial trunk (the init's output conv is near zero)
        for p in plain.parameters():
            p.add_(0.05 * torch.randn_like(p))
    head = SRResNetVarHead(**KW, head_feats=8, head_blocks=2).eval()
    missing = head.load_state_dict(plain.state_dict(), strict=False)
    assert not missing.unexpected_keys and all(k.startswith("var_") for k in missing.missing_keys)
    return plain, head


def test_prediction_is_bit_identical_to_srresnet():
    plain, head = _pair()
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        out = head(x)
        assert out.shape == (2, 6, 48, 40)
        assert torch.equal(out[:, :3], plain(x))


def test_training_moves_only_the_branch_and_keeps_the_prediction(tmp_path):
    plain, _ = _pair(1)
    init = tmp_path / "srresnet.safetensors"
    save_file({k: v.contiguous() for k, v in plain.state_dict().items()}, str(init))
    args = argparse.Namespace(arch="llm-head", init=str(init), lr=1e-2, d_lr=None, freeze_mean=False,
                              scale=4, n_feats=8, n_blocks=2, head_feats=8, head_blocks=2)
    nets = sr.build_networks(args, sr.arch_kwargs(args), torch.device("cpu"))
    before = {k: v.clone() for k, v in nets.model.state_dict().items()}
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    for _ in range(3):
        nets.opt.zero_grad()
        sr.mean_logvar_nll(nets.model(x), y, "laplace").backward()
        nets.opt.step()
    after = nets.model.state_dict()
    for k, v in before.items():
        assert torch.equal(after[k], v) != k.startswith("var_"), k
    with torch.no_grad():
        assert torch.equal(nets.model.eval()(x)[:, :3], plain(x))


def test_registered_architecture_and_llm_method(tmp_path, monkeypatch):
    plain, head = _pair(2)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(tmp_path / "h.safetensors"))
    card = {"name": "t-head", "task": "sr", "scale": 4, "architecture": "srresnet-head",
            "arch_kwargs": dict(KW, head_feats=8, head_blocks=2), "weights": "h.safetensors", "output": "mean_logvar"}
    (tmp_path / "t-head.json").write_text(json.dumps(card))
    monkeypatch.setenv("UQCORE_MODEL_DIRS", str(tmp_path))
    assert isinstance(build_architecture("srresnet-head", **KW), SRResNetVarHead)
    model = uqcore.load_model(str(tmp_path / "t-head.json"))
    x = torch.rand(1, 3, 8, 8)
    est = uqcore.estimate(model, x, method="llm")
    with torch.no_grad():
        out = head(x)
    # the engine's own forward (memory layout, inference mode) may round differently in the last bit
    assert torch.allclose(est.prediction, out[0, :3], atol=1e-5)
    assert torch.allclose(est.variance, out[0, 3:].exp().mean(0), rtol=1e-4)


def test_bundled_head_card_and_weights():
    import pytest
    from safetensors.torch import load_file

    from uqcore.models.registry import MODELS_DIR, SAMPLES_DIR

    path = MODELS_DIR / "srresnet-llm-head.json"
    if not path.exists():
        pytest.skip("srresnet-llm-head is not bundled")
    card = read_card(path).flat()
    head, base = load_file(str(MODELS_DIR / card["weights"])), load_file(str(MODELS_DIR / "srresnet.safetensors"))
    # the trunk is srresnet's, tensor for tensor: its prediction is srresnet's bit for bit
    assert set(base) <= set(head) and all(torch.equal(head[k], base[k]) for k in base)
    assert all(k.startswith("var_") for k in set(head) - set(base))
    # chosen on validation images that are neither the bundled samples nor training data
    sel = card["selection"]
    samples = {p.stem for p in (SAMPLES_DIR / "sr").glob("*.png")}
    assert len(sel["candidates"]) >= 2 and sel["chosen"] in {c["name"] for c in sel["candidates"]}
    assert not samples & {n.split(":")[-1] for n in sel["data"]}
    assert all("train_seconds" in c["training"] and "--arch llm-head" in c["training"]["command"]
               for c in sel["candidates"])
    # the bars on unseen photos, written by the command the card names
    unseen = card["unseen_check"]
    assert "python -m uqcore quality unseen" in unseen["command"]
    assert unseen["corr_pixel_mean"] >= 0.25 and abs(unseen["psnr_mean"] - unseen["reference_psnr_mean"]) <= 0.5
