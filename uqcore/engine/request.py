"""The arguments and the result of one ``estimate`` call: checked inputs and settings, the
sample plan of ``samples="auto"``, the :class:`Estimate` and the :class:`Call` that builds it (see
:mod:`uqcore.engine.estimate`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from uqcore import limits
from uqcore.engine import methods as _methods
from uqcore.errors import InputError
from uqcore.engine.model import UQModel

# samples="auto": draw in rounds until the variance map's split-half reliability reaches the
# target, or the cap is hit (module docstring of ``estimate``).
AUTO = "auto"
DEFAULT_TARGET = 0.9
DEFAULT_MAX_SAMPLES = 64
DEFAULT_ROUND = 4
# Each half needs two samples for a variance: no reliability below four samples.
MIN_RELIABILITY_SAMPLES = 4


@dataclass
class Estimate:
    """Result of ``estimate``; all tensors on CPU, float32.

    prediction: [C, H', W'] what the user would use as output: the unperturbed output for the
                training-free methods, the sample mean for ``mc_dropout`` and ``ensemble``.
    original:   [C, H', W'] the unperturbed output of the (first) network.
    mean:       [C, H', W'] mean of the perturbed samples.
    variance:   [H', W'] per-pixel variance of the samples (ddof=0), averaged over channels;
                for ``llm`` the predicted variance exp(log-variance) averaged over channels.
    samples:    number of samples actually drawn (0 for ``llm``).
    reliability: the variance map's split-half reliability after the last sample
                (:func:`split_half_reliability`: the rank correlation expected between this map
                and another one drawn with as many fresh samples); None below 4 samples and
                for ``llm``. Its square root estimates the rank correlation with the
                many-sample limit map.
    trace:      [(samples drawn, reliability)] at the end of every round (``round_size``
                samples, in whole chunks) and at the last sample, from 4 samples on: the
                convergence curve, for a fixed count as for ``samples="auto"``.
    reliability_target: the target of a ``samples="auto"`` call; None for a fixed count.
    region:     (top, left, height, width) of the output this estimate covers (the tensors' area);
                the whole output is (0, 0, H', W').
    full_shape: (H', W') of the whole output.
    exact:      True: the numbers are the whole-image estimate's (up to float rounding), also for
                a region or a tiled run (:mod:`uqcore.engine.tiling`).
    tiles:      crops computed (1 untiled or for a region; fewer than planned if stopped: the
                unfinished area is NaN).
    halves:     (even, odd): the variance maps [H', W'] of the even- and odd-indexed samples, which
                the reliability compares; None for one-pass methods and below 2 samples. A map
                shown as block means has its own reliability: :func:`uqcore.engine.moments.block_reliability`.
                A tiled run's ``reliability`` is the assembled halves' (``trace``: its last tile's).
    """

    prediction: torch.Tensor
    original: torch.Tensor
    mean: torch.Tensor
    variance: torch.Tensor
    samples: int
    method: str
    layer: str | None
    strength: float | None
    seed: int
    seconds: float
    device: str
    prefix_reuse: bool = False
    reliability: float | None = None
    trace: list[tuple[int, float]] = field(default_factory=list)
    reliability_target: float | None = None
    region: tuple[int, int, int, int] | None = None
    full_shape: tuple[int, int] | None = None
    exact: bool = True
    tiles: int = 1
    halves: tuple[torch.Tensor, torch.Tensor] | None = None


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no GPU is available; use device='cpu'")
    return device


def check_input(model: UQModel, x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise InputError(f"x must be a float tensor [1, C, H, W], got {type(x).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise InputError(f"x must have shape [1, C, H, W] (one image), got {tuple(x.shape)}")
    if x.shape[1] != model.in_channels:
        raise InputError(f"the model expects {model.in_channels} input channels, the image has {x.shape[1]}")
    if min(x.shape[-2:]) < 2:
        raise InputError(f"the image is too small ({x.shape[-2]}×{x.shape[-1]}); it needs at least 2×2 pixels")
    x = x.float()
    if not torch.isfinite(x).all():
        raise InputError("the input contains NaN or infinite values")
    return x


@dataclass(frozen=True)
class Plan:
    """How many samples one call draws: ``count`` at most; with ``stop_at`` (auto mode for an
    open-ended method) it stops at the first round whose reliability reaches ``stop_at``."""

    count: int
    round_size: int
    stop_at: float | None = None
    target: float | None = None  # the auto target, recorded in the Estimate


def check_args(model: UQModel, method: str, strength, samples, target, max_samples, round_size) -> tuple[float, Plan]:
    spec = _methods.spec(method)  # InputError for an unknown method
    if method not in model.methods:
        raise InputError(
            f"method {method!r} does not apply to model {model.name!r}; it supports {', '.join(model.methods)}"
        )
    cap = limits.sample_limit()
    auto = isinstance(samples, str) and samples.strip().lower() == AUTO
    if not auto:
        check_count("samples", samples, cap, "UQCORE_MAX_SAMPLES")
    check_count("max_samples", max_samples, cap, "UQCORE_MAX_SAMPLES")
    check_count("round_size", round_size, cap, "UQCORE_MAX_SAMPLES")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < float(target) <= 1:
        raise InputError(f"target must be a reliability in (0, 1], e.g. 0.9, got {target!r}")
    strength = float(strength) if strength is not None else 0.0
    if not math.isfinite(strength) or strength < 0:
        raise InputError(f"strength must be a finite number >= 0, got {strength}")
    if spec.strength_max is not None and strength >= spec.strength_max:
        raise InputError(f"the {spec.strength_name} must be below {spec.strength_max:g}, got {strength}")
    if not auto:
        return strength, Plan(int(samples), int(round_size))
    stop_at = float(target) if spec.auto == _methods.AUTO_ROUNDS else None
    return strength, Plan(count=int(max_samples), round_size=int(round_size), stop_at=stop_at, target=float(target))


def check_count(name: str, value, cap: int, limit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        what = 'an integer or "auto"' if name == "samples" else "an integer"
        raise InputError(f"{name} must be {what}, got {value!r}")
    if not 1 <= int(value) <= cap:
        raise InputError(f"{name} must be between 1 and {cap} ({limit}), got {value}")


@dataclass(frozen=True)
class Call:
    """The settings of one ``estimate`` call that every Estimate it returns shares."""

    method: str
    spec: _methods.MethodSpec
    layer: str | None
    strength: float | None
    seed: int
    device: str
    started: float
    target: float | None

    def result(self, run, original: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor,
               drawn: int, halves: tuple[torch.Tensor, torch.Tensor] | None = None) -> Estimate:
        """mean [C, H', W'], variance [H', W'] (device tensors) -> the Estimate on CPU; ``run``: the
        call's sampling state (``used_prefix``, ``trace``)."""
        # the moments keep the batches' memory order (channels fastest); the map is row-major
        mean = mean.to(torch.float32, memory_format=torch.contiguous_format).cpu()
        unperturbed = original[0].float().cpu()
        return Estimate(
            prediction=mean if self.spec.prediction == _methods.SAMPLE_MEAN else unperturbed,
            original=unperturbed,
            mean=mean,
            variance=variance.float().cpu(),
            samples=drawn,
            method=self.method,
            layer=self.layer,
            strength=self.strength,
            seed=self.seed,
            seconds=time.perf_counter() - self.started,
            device=self.device,
            prefix_reuse=run.used_prefix,
            reliability=run.trace[-1][1] if run.trace and run.trace[-1][0] == drawn else None,
            trace=list(run.trace),
            reliability_target=self.target,
            region=(0, 0, *mean.shape[-2:]),
            full_shape=tuple(mean.shape[-2:]),
            halves=None if halves is None else (halves[0].cpu(), halves[1].cpu()),
        )
