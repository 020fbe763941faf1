"""Likelihood losses of a residual under a predicted log-variance, shared by the SR trainer
(``training.sr``: a likelihood head) and the student trainer (``student.train``).

Both take the log-variance ``s`` (not a scale) so that a model's extra channels mean the same
thing whichever loss trained them (``output="mean_logvar"``; the engine reads ``exp(s)`` as the
variance). Constants are dropped:

  gaussian:  0.5 * (s + r^2 * exp(-s))                   = -log N(r; 0, exp(s)) - 0.5 log(2 pi)
  laplace:   0.5 * s + sqrt(2) * |r| * exp(-s / 2)        = -log Laplace(r; 0, b) - log(sqrt 2),
             with the scale b = sqrt(exp(s) / 2) (a Laplace of scale b has variance 2 b^2)

beta-NLL (Seitzer et al. 2022) weights each element by stop-gradient(exp(s))^beta, so that
high-variance pixels keep teaching the mean (beta = 0: the plain NLL).
"""

from __future__ import annotations

import math

import torch

LOSSES = ("gaussian", "laplace")  # the likelihoods a predicted log-variance is trained under
LOGVAR_RANGE = (-12.0, 8.0)  # clamp: exp(-12) is below 8-bit quantisation, exp(8) far above any error


def nll_terms(logvar: torch.Tensor, residual: torch.Tensor, kind: str = "gaussian", beta: float = 0.0) -> torch.Tensor:
    """Per-element NLL (constants dropped) of ``residual`` under ``logvar`` (broadcast), see the
    module docstring; weighted by stop-gradient(variance)^``beta``."""
    if kind == "gaussian":
        terms = 0.5 * (logvar + residual.square() * torch.exp(-logvar))
    elif kind == "laplace":
        terms = 0.5 * logvar + math.sqrt(2.0) * residual.abs() * torch.exp(-0.5 * logvar)
    else:
        raise ValueError(f"unknown likelihood {kind!r}; known: {', '.join(LOSSES)}")
    return terms * torch.exp(beta * logvar.detach()) if beta else terms


def mean_logvar_nll(out: torch.Tensor, target: torch.Tensor, kind: str = "gaussian", beta: float = 0.0) -> torch.Tensor:
    """Mean NLL of ``target`` [B, C, H, W] under a model output [B, 2C, H, W] holding the mean
    (first C channels) and the log-variance (last C, clamped to :data:`LOGVAR_RANGE`)."""
    c = target.shape[1]
    mean, logvar = out[:, :c], out[:, c:].clamp(*LOGVAR_RANGE)
    return nll_terms(logvar, target - mean, kind, beta).mean()
