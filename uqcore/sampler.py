"""``estimate()``: draw perturbed outputs and stream their per-pixel mean and variance.

Speed without changing results:
- prefix reuse (``noise``, ``dropout``, ``mc_dropout``): the input goes in at batch 1 and the
  hooked layer expands its output to the chunk's samples, so the network before that layer runs
  once per chunk instead of once per sample. Where the model does not allow it (e.g. a skip
  connection concatenated after the layer), the chunk is re-run with the input batched, and the
  model/layer pair is remembered so the next call goes straight to the fallback;
- samples are processed in chunks under ``torch.inference_mode`` with channels-last inputs;
  on CUDA an out-of-memory error halves the chunk and retries.
Each sample's randomness comes from its own generator seeded by (seed, sample index), so the
maps do not depend on chunk size, prefix reuse or concurrent callers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from uqcore import limits
from uqcore import methods as _methods
from uqcore.errors import InputError, ModelRunError
from uqcore.hooks import forward_hooks
from uqcore.layers import resolve_layer
from uqcore.models.base import DROPOUT_TYPES, UQModel, checked_forward, wrap
from uqcore.perturb import (
    FeaturePerturbation,
    PrefixMismatch,
    apply_transform,
    check_transforms,
    default_transforms,
    invert_transform,
    sample_generators,
)

METHODS = _methods.METHODS
# Samples per forward pass. On CPU batching helps little beyond a few samples (measured in
# benchmarks/bench_sampling.py); on CUDA larger batches keep the GPU busy.
DEFAULT_CHUNK = {"cpu": 4, "cuda": 16}
# With prefix reuse each chunk re-runs the network up to the perturbed layer once. When that
# prefix is most of the network (a late layer), larger chunks save whole prefix passes; for an
# early layer, large batches only cost memory traffic on CPU (benchmarks/bench_sampling.py).
# The prefix's share is counted on the unperturbed forward pass that every call makes anyway.
PREFIX_CHUNK = {"cpu": 16, "cuda": 32}
PREFIX_METHODS = _methods.PREFIX_METHODS
LATE_LAYER_SHARE = 0.5
# Memory bound for a chunk: a sample's activations are taken as ACTIVATION_FACTOR times its
# output (SR/depth networks carry tens of feature channels at output resolution); the chunk is
# shrunk so that chunk x output bytes x factor stays under CHUNK_MEMORY_BYTES.
ACTIVATION_FACTOR = 16
CHUNK_MEMORY_BYTES = 2 * 1024**3

Progress = Callable[[int, int], None]


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


class RunningMoments:
    """Streaming per-element mean and (ddof=0) variance over batches (Chan et al.'s merge)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def update(self, batch: torch.Tensor) -> None:
        batch = batch.to(torch.float64)
        n = batch.shape[0]
        b_mean = batch.mean(0)
        b_m2 = ((batch - b_mean) ** 2).sum(0)
        if self.mean is None:
            self.count, self.mean, self.m2 = n, b_mean, b_m2
            return
        total = self.count + n
        delta = b_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + b_m2 + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def variance(self) -> torch.Tensor:
        return self.m2 / self.count


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no GPU is available; use device='cpu'")
    return device


def _check_input(model: UQModel, x) -> torch.Tensor:
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


def _check_args(model: UQModel, method: str, strength, samples) -> tuple[float, int]:
    spec = _methods.spec(method)  # InputError for an unknown method
    if method not in model.methods:
        raise InputError(
            f"method {method!r} does not apply to model {model.name!r}; it supports {', '.join(model.methods)}"
        )
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise InputError(f"samples must be an integer, got {samples!r}")
    if not 1 <= int(samples) <= limits.max_samples():
        raise InputError(f"samples must be between 1 and {limits.max_samples()} (UQCORE_MAX_SAMPLES), got {samples}")
    strength = float(strength) if strength is not None else 0.0
    if not math.isfinite(strength) or strength < 0:
        raise InputError(f"strength must be a finite number >= 0, got {strength}")
    if spec.feature == _methods.FEATURE_DROPOUT and strength >= 1:
        raise InputError(f"the dropout rate must be below 1, got {strength}")
    return strength, int(samples)


def estimate(
    model: UQModel | nn.Module,
    x: torch.Tensor,
    method: str = _methods.DEFAULT_METHOD,
    layer: str | None = None,
    strength: float | None = 0.05,
    samples: int = 8,
    seed: int = 0,
    device: str | torch.device | None = None,
    *,
    transforms: list[str] | None = None,
    chunk_size: int | None = None,
    prefix_reuse: bool = True,
    sample_callback: Callable[[torch.Tensor], None] | None = None,
    progress: Progress | None = None,
    on_update: Callable[[Estimate, int], None] | None = None,
) -> Estimate:
    """Perturbation-based uncertainty map of ``model`` on one image ``x`` [1, C, H, W] in [0, 1].

    method:   "transform" (dihedral transforms, inverted on the output; depth: identity + flip;
              ``transforms`` picks the set), "noise" (Gaussian noise of std ``strength`` added to
              the output of ``layer``), "dropout" (dropout of rate ``strength`` on the output of
              ``layer``, scaled by 1/(1-p)), "mc_dropout" (the model's own dropout layers at their
              own rate), "ensemble" (one sample per member), "llm" (the predicted variance of a
              mean/log-variance head; no sampling).
    samples:  perturbed outputs to draw (capped by the transform set / ensemble size).
    sample_callback: called with each chunk of perturbed outputs [k, C, H', W'] (on the device).
    progress: called as ``progress(done, total)`` after each chunk.
    on_update: called as ``on_update(estimate_so_far, total)`` after each chunk, for live views
              (a stopped run keeps the last one; its ``samples`` says how many were drawn).
    """
    if not isinstance(model, UQModel):
        model = wrap(model, task="image")
    strength, samples = _check_args(model, method, strength, samples)
    spec = _methods.spec(method)
    x = _check_input(model, x)
    dev = resolve_device(device)
    # Up-front memory estimate (one sample's activations + the running moments), before any work.
    out_pixels = x.shape[-2] * x.shape[-1] * model.scale**2
    estimated = out_pixels * x.shape[1] * 4 * ACTIVATION_FACTOR + out_pixels * x.shape[1] * 8 * 2
    limits.check_request_memory(estimated, f"a {x.shape[-2]}×{x.shape[-1]} input to this ×{model.scale} model")
    chunk = int(chunk_size or DEFAULT_CHUNK.get(dev.type, 4))
    if chunk < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    started = time.perf_counter()
    members = model.members_on(dev)
    x = x.to(dev).contiguous(memory_format=torch.channels_last)
    run = _Run(model, members, x, int(seed), chunk, progress, sample_callback)
    used_prefix = False

    def result(mean: torch.Tensor, variance: torch.Tensor, drawn: int) -> Estimate:
        """mean [C, H', W'], variance [H', W'] (device tensors) -> the Estimate on CPU."""
        mean, unperturbed = mean.float().cpu(), original[0].float().cpu()
        return Estimate(
            prediction=mean if spec.prediction == _methods.SAMPLE_MEAN else unperturbed,
            original=unperturbed,
            mean=mean,
            variance=variance.float().cpu(),
            samples=drawn,
            method=method,
            layer=layer if spec.needs_layer else None,
            strength=strength if spec.needs_layer else None,
            seed=int(seed),
            seconds=time.perf_counter() - started,
            device=str(dev),
            prefix_reuse=used_prefix,
        )

    if on_update is not None:
        run.on_moments = lambda m, total: on_update(result(m.mean, m.variance.mean(0), m.count), total)
    targets = _perturbed_modules(members[0], spec, layer) if spec.sampling == _methods.SAMPLING_FEATURE else []
    with torch.inference_mode():
        if targets and chunk_size is None:
            original, share = _prefix_share(run, members[0], x, targets[0])
            if dev.type != "cpu" or share >= LATE_LAYER_SHARE:
                chunk = PREFIX_CHUNK.get(dev.type, chunk)
        else:
            original = run.forward(members[0], x)
        if chunk_size is None:
            run.chunk = _memory_bounded_chunk(chunk, original)
        if spec.sampling == _methods.SAMPLING_HEAD:
            mean, logvar = model.split_output(checked_forward(members[0], x))
            moments = None
            variance = logvar.float().exp().mean(1)[0]
            drawn = 0
        else:
            if spec.sampling == _methods.SAMPLING_TRANSFORM:
                names = check_transforms(transforms or default_transforms(model.task))[:samples]
                moments = run.transform(names, original)
            elif spec.sampling == _methods.SAMPLING_MEMBERS:
                moments = run.ensemble(min(samples, len(members)))
            else:
                if spec.needs_layer and strength == 0:
                    # No perturbation: every sample is the original output. Computing them would
                    # only add batch-size-dependent rounding noise (~1e-17) to a zero map.
                    moments = run.repeated(original, samples)
                else:
                    moments, used_prefix = run.perturbed(spec, targets, strength, samples, layer,
                                                         prefix_reuse and spec.prefix_reuse)
            mean = moments.mean.unsqueeze(0)
            variance = moments.variance.mean(0)
            drawn = moments.count
    return result(mean[0], variance, drawn)


def _prefix_share(run: "_Run", module: nn.Module, x: torch.Tensor, target: nn.Module) -> tuple[torch.Tensor, float]:
    """The unperturbed output, and the share of the forward pass's work done before ``target``'s
    output. Work is counted, not timed, so the chunk (and the map's last bits) never depend on
    machine load: a leaf module costs its output size times its weights per output channel."""
    done = [0.0]
    at_target: list[float] = []

    def count(mod, _inputs, output):
        if isinstance(output, torch.Tensor):
            weight = getattr(mod, "weight", None)
            per_out = weight.numel() / max(weight.shape[0], 1) if isinstance(weight, torch.Tensor) and weight.dim() > 1 else 1
            done[0] += output.numel() * per_out

    def mark(_mod, _inputs, _output):
        if not at_target:
            at_target.append(done[0])

    leaves = {m: count for m in module.modules() if next(m.children(), None) is None}
    with forward_hooks(post=leaves):
        with forward_hooks(post={target: mark}):
            original = run.forward(module, x)
    return original, at_target[0] / done[0] if at_target and done[0] > 0 else 0.0


def _memory_bounded_chunk(chunk: int, output: torch.Tensor) -> int:
    per_sample = output.numel() * output.element_size() * ACTIVATION_FACTOR
    return max(1, min(chunk, CHUNK_MEMORY_BYTES // max(per_sample, 1)))


def _perturbed_modules(module: nn.Module, spec: _methods.MethodSpec, layer: str | None) -> list[nn.Module]:
    if spec.feature == _methods.FEATURE_OWN_DROPOUT:
        found = [m for m in module.modules() if isinstance(m, DROPOUT_TYPES)]
        if not found:
            raise InputError(f"{spec.name} needs a model with dropout layers; this one has none")
        return found
    if not layer:
        raise InputError(f"method {spec.name!r} needs a layer; see uqcore.list_layers(model) for valid names")
    return [resolve_layer(module, layer)]


class _Run:
    """State of one ``estimate`` call: chunked forward passes feeding running moments."""

    # (id(module), layer) pairs where prefix reuse failed; tried no more. Shared on purpose:
    # it only ever skips a fast path that would fall back anyway.
    _prefix_unsafe: set[tuple[int, str]] = set()

    def __init__(self, model, members, x, seed, chunk, progress, callback):
        self.model, self.members, self.x, self.seed = model, members, x, seed
        self.chunk, self.progress, self.callback = chunk, progress, callback
        self.on_moments = None  # set by estimate() for live views

    def forward(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self.model.split_output(checked_forward(module, x))[0]

    def _emit(self, moments: RunningMoments, batch: torch.Tensor, total: int) -> None:
        moments.update(batch)
        if self.callback is not None:
            self.callback(batch)
        if self.on_moments is not None:
            self.on_moments(moments, total)
        if self.progress is not None:
            self.progress(moments.count, total)

    def _chunked(self, total: int, run_chunk) -> RunningMoments:
        """Run ``run_chunk(indices)`` over chunks; on CUDA OOM halve the chunk and retry."""
        moments = RunningMoments()
        start = 0
        while start < total:
            stop = min(start + self.chunk, total)
            try:
                batch = run_chunk(range(start, stop))
            except torch.cuda.OutOfMemoryError:
                if self.chunk == 1:
                    raise
                self.chunk = max(1, self.chunk // 2)
                torch.cuda.empty_cache()
                continue
            self._emit(moments, batch, total)
            start = stop
        return moments

    def transform(self, names: list[str], original: torch.Tensor) -> RunningMoments:
        """Transformed inputs, batched by shape (90° rotations swap H and W of non-square
        images); outputs inverted. The identity's output is the unperturbed one, not rerun."""

        def run_chunk(indices: range) -> torch.Tensor:
            chunk_names = [names[i] for i in indices]
            outs: dict[str, torch.Tensor] = {}
            groups: dict[tuple[int, ...], list[str]] = {}
            for name in chunk_names:
                if name == "identity":
                    outs[name] = original
                else:
                    shape = tuple(apply_transform(self.x, name).shape)
                    groups.setdefault(shape, []).append(name)
            for group in groups.values():
                batch = torch.cat([apply_transform(self.x, n) for n in group])
                y = self.forward(self.members[0], batch.contiguous(memory_format=torch.channels_last))
                outs.update({n: invert_transform(y[j : j + 1], n) for j, n in enumerate(group)})
            return torch.cat([outs[n] for n in chunk_names])

        return self._chunked(len(names), run_chunk)

    def repeated(self, output: torch.Tensor, count: int) -> RunningMoments:
        return self._chunked(count, lambda idx: output.expand(len(idx), *output.shape[1:]))

    def ensemble(self, count: int) -> RunningMoments:
        return self._chunked(
            count, lambda idx: torch.cat([self.forward(self.members[i], self.x) for i in idx])
        )

    def perturbed(self, spec, targets, strength, samples, layer, prefix_reuse):
        key = (id(self.members[0]), layer or "<dropout>")
        use_prefix = prefix_reuse and key not in self._prefix_unsafe

        def run_chunk(indices: range, expand: bool) -> torch.Tensor:
            gens = sample_generators(self.seed, indices, self.x.device)
            hook = FeaturePerturbation(spec.feature, strength, gens, expand=expand)
            x = self.x if expand else self.x.expand(len(indices), *self.x.shape[1:])
            with forward_hooks(post={m: hook for m in targets}):
                out = self.forward(self.members[0], x)
            if out.shape[0] != len(indices):
                raise PrefixMismatch(f"model output batch {out.shape[0]} != {len(indices)} samples")
            return out

        if use_prefix:
            try:
                return self._chunked(samples, lambda idx: run_chunk(idx, True)), True
            except (PrefixMismatch, ModelRunError):
                self._prefix_unsafe.add(key)
        return self._chunked(samples, lambda idx: run_chunk(idx, False)), False


def sample_cap(model: UQModel, method: str) -> int:
    """The most samples ``method`` draws on ``model``: the transform set's size for
    ``transform`` (8 dihedral transforms; 2 for depth, identity and flip), the members for
    ``ensemble``, 0 for ``llm`` (one pass), else the ``UQCORE_MAX_SAMPLES`` limit."""
    sampling = _methods.spec(method).sampling
    if sampling == _methods.SAMPLING_TRANSFORM:
        return len(default_transforms(model.task))
    if sampling == _methods.SAMPLING_MEMBERS:
        return len(model.members)
    if sampling == _methods.SAMPLING_HEAD:
        return 0
    return limits.max_samples()
