"""training.losses: the Gaussian and Laplace NLLs (and their beta weighting) against hand computations."""

import math

import pytest
import torch

from uqcore.training.losses import mean_logvar_nll, nll_terms


def test_gaussian_nll_by_hand():
    # s = log var = log 4, r = 2: 0.5 * (log 4 + 4 / 4) = 0.5 * (1.386294 + 1) = 1.193147
    s, r = torch.tensor([math.log(4.0)]), torch.tensor([2.0])
    assert nll_terms(s, r, "gaussian").item() == pytest.approx(0.5 * (math.log(4.0) + 1.0), rel=1e-6)
    assert nll_terms(s, r, "gaussian").item() == pytest.approx(1.1931472, rel=1e-6)


def test_laplace_nll_by_hand():
    # var = 8 -> scale b = sqrt(8 / 2) = 2; -log Laplace(r=3; b=2) = log(2b) + |r| / b = log 4 + 1.5;
    # minus the dropped constant log(sqrt 2): 0.5 log 8 + sqrt(2) * 3 / sqrt(8) = 1.039721 + 1.5
    s, r = torch.tensor([math.log(8.0)]), torch.tensor([-3.0])
    full = math.log(4.0) + 1.5
    assert nll_terms(s, r, "laplace").item() == pytest.approx(full - 0.5 * math.log(2.0), rel=1e-6)
    assert nll_terms(s, r, "laplace").item() == pytest.approx(2.5397208, rel=1e-6)


def test_laplace_optimum_is_twice_the_squared_mean_absolute_residual():
    # for residuals of mean absolute value a, the best scale is b = a, i.e. var = 2 a^2
    r = torch.tensor([0.5, -1.5, 1.0, -1.0])  # mean |r| = 1
    s = torch.linspace(-3, 3, 60001)
    loss = nll_terms(s[:, None], r[None], "laplace").mean(1)
    assert math.exp(s[loss.argmin()].item()) == pytest.approx(2.0, rel=1e-3)


def test_beta_weights_each_term_by_the_detached_variance():
    s = torch.tensor([0.7, -0.3], requires_grad=True)
    r = torch.tensor([0.2, 1.1])
    plain = nll_terms(s, r, "laplace")
    weighted = nll_terms(s, r, "laplace", beta=0.5)
    assert torch.allclose(weighted, plain * torch.exp(0.5 * s.detach()))
    weighted.sum().backward()
    # d/ds [w * (0.5 s + sqrt2 |r| e^{-s/2})] with w detached = w * (0.5 - sqrt2 |r| e^{-s/2} / 2)
    expect = torch.exp(0.5 * s.detach()) * (0.5 - math.sqrt(2) * r.abs() * torch.exp(-0.5 * s.detach()) / 2)
    assert torch.allclose(s.grad, expect)


def test_mean_logvar_nll_splits_and_clamps_the_channels():
    out = torch.zeros(1, 6, 2, 2)
    out[:, :3] = 0.5
    out[:, 3:] = 50.0  # clamped to 8
    y = torch.ones(1, 3, 2, 2)
    expect = 0.5 * (8.0 + 0.25 * math.exp(-8.0))
    assert mean_logvar_nll(out, y, "gaussian").item() == pytest.approx(expect, rel=1e-6)
    with pytest.raises(ValueError, match="unknown likelihood"):
        nll_terms(torch.zeros(1), torch.zeros(1), "cauchy")
