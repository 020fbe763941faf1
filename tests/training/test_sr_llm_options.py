"""training.sr's likelihood options for the log-likelihood baseline: beta-NLL (the variance head
 must not buy a low loss with a blurred mean) and the frozen mean (the baseline keeps srresnet's
 prediction)."""

import argparse

import pytest
import torch

from uqcore.errors import InputError
from uqcore.models.srresnet import SRResNet
from uqcore.training import sr


def test_beta_nll_matches_a_hand_computation():
    torch.manual_seed(0)
    out = torch.randn(2, 6, 4, 5)
    y = torch.rand(2, 3, 4, 5)
    mu, lv = out[:, :3], out[:, 3:]
    plain = 0.5 * (lv + (y - mu) ** 2 / lv.exp())
    assert sr.gaussian_nll(out, y).item() == pytest.approx(plain.mean().item(), rel=1e-6)
    assert sr.gaussian_nll(out, y, 0.5).item() == pytest.approx((plain * lv.exp() ** 0.5).mean().item(), rel=1e-6)


def test_beta_nll_stops_the_gradient_through_the_weight():
    out = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]]).view(1, 6, 1, 1).requires_grad_(True)
    y = torch.ones(1, 3, 1, 1)
    sr.gaussian_nll(out, y, 1.0).backward()
    # d/d lv of var^beta (detached) * 0.5 (lv + r^2 e^-lv) / 3 = e^lv * 0.5 (1 - r^2 e^-lv) / 3
    expected = torch.e * 0.5 * (1 - torch.exp(torch.tensor(-1.0))) / 3
    assert out.grad[0, 3, 0, 0].item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.grad[0, 0, 0, 0].item() == pytest.approx((-1.0 / 3), rel=1e-5)  # = var^(beta-1) (mu - y) / 3


def test_freeze_mean_trains_only_the_log_variance_rows():
    torch.manual_seed(0)
    net = SRResNet(scale=2, n_feats=8, n_blocks=1, logvar=True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sr.freeze_mean(net)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=0.1)
    x, y = torch.rand(1, 3, 6, 6), torch.rand(1, 3, 12, 12)
    for _ in range(2):
        opt.zero_grad()
        sr.gaussian_nll(net(x), y).backward()
        opt.step()
    after = net.state_dict()
    for k, v in before.items():
        if k.startswith("tail."):
            assert torch.equal(after[k][:3], v[:3]) and not torch.equal(after[k][3:], v[3:])
        else:
            assert torch.equal(after[k], v), k


def test_llm_options_are_refused_elsewhere():
    p = argparse.ArgumentParser()
    sr.configure_parser(p)
    base = ["--data", "x", "--steps", "1", "--out", "y.safetensors"]
    with pytest.raises(InputError, match="llm / llm-head only"):
        sr.check_args(p.parse_args(base + ["--arch", "srresnet", "--loss", "beta-nll"]))
    with pytest.raises(InputError, match="llm / llm-head only"):
        sr.check_args(p.parse_args(base + ["--arch", "mcdrop", "--likelihood", "laplace"]))
    with pytest.raises(InputError, match="--init"):
        sr.check_args(p.parse_args(base + ["--arch", "llm", "--freeze-mean"]))
    with pytest.raises(InputError, match="--init"):
        sr.check_args(p.parse_args(base + ["--arch", "llm-head"]))
    with pytest.raises(InputError, match="llm only"):
        sr.check_args(p.parse_args(base + ["--arch", "llm-head", "--init", "x", "--freeze-mean"]))
    def command(argv):
        return sr.weights_metadata(p.parse_args(base + argv), {}, torch.device("cpu"), 1, 0.0, 1)["command"]

    assert "--loss beta-nll --beta 0.5" in command(["--arch", "llm", "--loss", "beta-nll", "--beta", "0.5"])
    assert "--loss" not in command(["--arch", "srresnet"]) and "--beta" not in command(["--arch", "llm"])
    head = command(["--arch", "llm-head", "--init", "x", "--likelihood", "laplace", "--head-blocks", "2"])
    assert "--likelihood laplace" in head and "--head-blocks 2 " in head
    assert "--likelihood" not in command(["--arch", "srresnet"]) and "--head-feats" not in command(["--arch", "llm"])
