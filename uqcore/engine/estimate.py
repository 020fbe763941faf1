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

How many samples: ``samples="auto"`` draws in rounds and stops when the variance map's split-half
reliability (the Spearman rank correlation between the maps of the even- and odd-indexed
samples, Spearman–Brown-corrected to the full count: 2r / (1 + r)) reaches ``target``, or at
``max_samples``. The moments of the even half are streamed next to the total, the odd half is
their difference, so memory stays bounded. Rounds end on chunk boundaries, so an auto run that
stops at N samples is the run ``samples=N`` bit for bit; fixed counts record the same trace.

Methods as objects: every method of the table (:mod:`uqcore.engine.methods`) is run by an
:class:`UncertaintyMethod` whose ``estimate(model, x, ...)`` is the entry point; ``estimate()``
looks the object up by name and calls it. The shared steps (checks, device, tiling, chunking,
moments, the result) are the base class's; a subclass per sampling routine says what it perturbs
(:meth:`~UncertaintyMethod.targets`) and how it draws (:meth:`~UncertaintyMethod.draw`, or
:meth:`~UncertaintyMethod.one_pass` for a method that predicts its variance in one pass):
:class:`TransformMethod`, :class:`FeatureMethod` (noise, dropout, MC-dropout), :class:`MembersMethod`
(ensemble), :class:`HeadMethod` (llm), :class:`StudentMethod`. A new method is one object whose
``spec`` is a new :class:`~uqcore.engine.methods.MethodSpec`, added with
:func:`uqcore.engine.methods.register_method`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from uqcore import limits
from uqcore.engine import memory
from uqcore.engine import feed, tiling
from uqcore.engine.moments import RunningMoments, SampleMoments, split_half_reliability  # noqa: F401 (public here too)
from uqcore.engine import methods as _methods
from uqcore.errors import InputError, ModelRunError
from uqcore.progress import Progress
from uqcore.engine.hooks import forward_hooks
from uqcore.engine.layers import resolve_layer
from uqcore.engine.positions import in_crop
from uqcore.engine.receptive import output_shape
from uqcore.engine.model import DROPOUT_TYPES, NON_FINITE, UQModel, checked_forward, wrap
from uqcore.engine.student_head import head_on
from uqcore.engine.perturb import (
    FeaturePerturbation,
    PrefixMismatch,
    apply_transform,
    check_transforms,
    default_transforms,
    invert_transform,
    sample_seeds,
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
ACTIVATION_FACTOR, CHUNK_MEMORY_BYTES = memory.ACTIVATION_FACTOR, memory.CHUNK_MEMORY_BYTES

# On CPU, where nothing is shared between a chunk's samples (transform), a forward pass only adds
# memory traffic by batching once its outputs pass this many pixels: one sample per pass made
# transform about 13 % faster at 512x512 outputs (docs/BENCHMARKS.md, bench_sampling --only
# transform --pass-pixels). The chunk (what the moments take at once) stays as it is.
CPU_PASS_PIXELS = 1 << 15


from uqcore.engine.request import (  # noqa: E402,F401 (the call's arguments and result; public here too)
    AUTO, DEFAULT_MAX_SAMPLES, DEFAULT_ROUND, DEFAULT_TARGET, MIN_RELIABILITY_SAMPLES, Call, Estimate, Plan,
    check_args, check_input, resolve_device,
)


def estimate(
    model: UQModel | nn.Module,
    x: torch.Tensor,
    method: str = _methods.DEFAULT_METHOD,
    layer: str | None = None,
    strength: float | None = 0.05,
    samples: int | str = 8,
    seed: int = 0,
    device: str | torch.device | None = None,
    **options: Any,
) -> Estimate:
    """Perturbation-based uncertainty map of ``model`` on one image ``x`` [1, C, H, W] in [0, 1].

    method:   "transform" (dihedral transforms, inverted on the output; depth: identity + flip;
              ``transforms`` picks the set), "noise" (Gaussian noise of std ``strength`` added to
              the output of ``layer``), "dropout" (dropout of rate ``strength`` on the output of
              ``layer``, scaled by 1/(1-p)), "mc_dropout" (the model's own dropout layers at their
              own rate), "ensemble" (one sample per member), "llm" (the predicted variance of a
              mean/log-variance head), "student" (an attached distilled head); these two: one pass.
    samples:  perturbed outputs to draw (capped by the transform set / ensemble size), or "auto"
              (module docstring; ``target``, ``max_samples``, ``round_size``): an auto run that
              stops at N samples gives the map of ``samples=N`` bit for bit.
    sample_callback: called with each chunk of perturbed outputs [k, C, H', W'] (on the device).
    progress: called as ``progress(done, total)`` after each chunk.
    on_update: called as ``on_update(estimate_so_far, total)`` after each chunk, for live views
              (a stopped run keeps the last one; its ``samples`` says how many were drawn).
              ``total`` is the most that may be drawn (``max_samples`` for "auto"); an auto run
              that stops early ends with one more ``progress`` / ``on_update`` call with
              ``total`` equal to the samples drawn.
    region / tile: only the box (top, left, height, width) of output pixels, or the whole output
              in even tiles of ``tile`` to 2 x ``tile`` pixels a side: the whole image's numbers (:mod:`uqcore.engine.tiling`,
              also for progress, ``on_update`` and ``stop()`` over tiles). A request over
              ``UQCORE_MAX_REQUEST_MB`` (or an own model's CPU input limit) is tiled by itself.
    Keyword options (``target``, ``max_samples``, ``round_size``, ``transforms``, ``chunk_size``,
    ``prefix_reuse``, ``sample_callback``, ``progress``, ``on_update``, ``region``, ``tile``,
    ``stop``): :meth:`UncertaintyMethod.estimate`, which runs the call for ``method``'s object.
    """
    return _methods.method_object(method).estimate(model, x, layer, strength, samples, seed, device, **options)


@dataclass(frozen=True)
class Draw:
    """What one call asks a sampling routine for: at most ``count`` samples of ``layer`` at
    ``strength`` (layer methods), perturbing ``targets`` (feature methods), the ``transforms`` set
    (transform), with or without ``prefix_reuse``."""

    count: int
    layer: str | None
    strength: float
    targets: list[nn.Module]
    transforms: list[str] | None
    prefix_reuse: bool


class UncertaintyMethod:
    """One uncertainty method: its row of the method table (``spec``, which owns every property:
    label, help, grids, requirements, variants) and how it samples. ``estimate(model, x, ...)`` is
    the entry point (what ``uqcore.estimate(method=spec.name)`` calls); subclasses fill in
    :meth:`draw` (a sampled method: the perturbed outputs streamed through ``run.sample``) or
    :meth:`one_pass` (``spec.sampled`` False: the prediction and variance of one forward pass),
    and where needed :meth:`targets`, :meth:`feeder` and :meth:`sample_cap`."""

    def __init__(self, spec: _methods.MethodSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.name!r})"

    def targets(self, module: nn.Module, layer: str | None) -> list[nn.Module]:
        """The modules whose outputs a hook perturbs (none unless a feature method)."""
        return []

    def draw(self, run: "SampleRun", original: torch.Tensor, request: Draw) -> SampleMoments:
        """The samples' moments: ``run.sample(total, run_chunk)`` over the call's chunks."""
        raise NotImplementedError(f"{type(self).__name__} draws no samples")

    def one_pass(self, model: UQModel, module: nn.Module, x: torch.Tensor,
                 dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(prediction [1, C, H', W'], variance [H', W']) of a one-pass method."""
        raise NotImplementedError(f"{type(self).__name__} is a sampled method")

    def feeder(self, model: UQModel, dev: torch.device, layer: Any) -> feed.Feeder | None:
        """For boxes: a feed of the layer's output from a wider crop (:mod:`uqcore.engine.feed`), or None."""
        return None

    def sample_cap(self, model: UQModel) -> int:
        """The most samples this method draws on ``model``."""
        return limits.sample_limit()

    def estimate(
        self, model: UQModel | nn.Module, x: torch.Tensor, layer: str | None = None, strength: float | None = 0.05,
        samples: int | str = 8, seed: int = 0, device: str | torch.device | None = None, *,
        target: float = DEFAULT_TARGET, max_samples: int = DEFAULT_MAX_SAMPLES, round_size: int = DEFAULT_ROUND,
        transforms: list[str] | None = None, chunk_size: int | None = None, prefix_reuse: bool = True,
        sample_callback: Callable[[torch.Tensor], None] | None = None, progress: Progress | None = None,
        on_update: Callable[[Estimate, int], None] | None = None,
        region: tuple[int, int, int, int] | None = None, tile: int | None = None, stop: Callable[[], bool] | None = None,
    ) -> Estimate:
        """This method's uncertainty map of ``model`` on ``x``: the arguments of :func:`estimate`."""
        method, spec = self.spec.name, self.spec
        model = model if isinstance(model, UQModel) else wrap(model, task="image")
        strength, plan = check_args(model, method, strength, samples, target, max_samples, round_size)
        x = check_input(model, x)
        dev = resolve_device(device)
        over = not in_crop() and memory.over_limits(model, x, dev, _chunk_bound(dev, chunk_size))  # a crop never re-tiles
        if region is not None or tile is not None or over:
            return self._in_boxes(model, x, dev, samples, region, tile, progress, on_update, stop, dict(
                layer=layer, strength=strength, seed=seed, device=device, target=target, max_samples=max_samples,
                round_size=round_size, transforms=transforms, chunk_size=chunk_size, prefix_reuse=prefix_reuse,
                sample_callback=sample_callback))
        memory.check(model, x, dev, _chunk_bound(dev, chunk_size))
        chunk = _first_chunk(dev, chunk_size)
        call = Call(method=method, spec=spec, layer=layer if spec.needs_layer else None, seed=int(seed), device=str(dev),
                    strength=strength if spec.needs_layer else None, started=time.perf_counter(), target=plan.target)
        members = model.members_on(dev)
        x = x.to(dev).contiguous(memory_format=torch.channels_last)
        run = SampleRun(model, members, x, int(seed), chunk, progress, sample_callback)
        targets = self.targets(members[0], layer)
        fed = feed.feed_hooks(call.layer, targets[0]) if targets else {}  # before the perturbation's hook
        with torch.inference_mode(), forward_hooks(post=fed):
            if not spec.sampled:  # a variance head or a student head: one pass, no samples
                original, variance = self.one_pass(model, members[0], x, dev)
                return call.result(run, original, original[0], variance, 0)
            original = run.start(targets, chunk_size is None, plan)
            if on_update is not None:
                run.on_moments = lambda m, total: on_update(call.result(run, original, m.all.mean, m.all.variance_map(), m.count), total)
            request = Draw(count=plan.count, layer=layer, strength=strength, targets=targets, transforms=transforms,
                           prefix_reuse=prefix_reuse)
            moments = self.draw(run, original, request)
        return call.result(run, original, moments.all.mean, moments.all.variance_map(), moments.count, moments.half_maps())

    def _in_boxes(self, model, x, dev, samples, region, tile, progress, on_update, stop, settings) -> Estimate:
        """A region, or the whole output in tiles (:mod:`uqcore.engine.tiling`); each crop an untiled run."""
        if region is None and tile is None:
            tile, settings["chunk_size"] = memory.auto_plan(model, x, dev, _chunk_bound(dev, settings["chunk_size"]))

        def run(crop, count=None, crop_progress=progress, crop_update=None):
            return self.estimate(model, crop, samples=count or samples, progress=crop_progress, on_update=crop_update,
                                 **settings)

        return tiling.run_request(model, x, output_shape(model, x), run, region, tile, progress=progress,
                                  on_update=on_update, stop=stop, feeder=self.feeder(model, dev, settings["layer"]))


def _first_chunk(dev: torch.device, chunk_size: int | None) -> int:
    chunk = int(chunk_size or DEFAULT_CHUNK.get(dev.type, 4))
    if chunk < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    return chunk


def _chunk_bound(dev: torch.device, chunk_size: int | None) -> int:
    """The most samples a chunk may hold before the memory bound (what memory.request_bytes needs)."""
    return int(chunk_size or max(DEFAULT_CHUNK.get(dev.type, 4), PREFIX_CHUNK.get(dev.type, 16)))


def _memory_bounded_chunk(chunk: int, output: torch.Tensor) -> int:
    per_sample = output.numel() * output.element_size() * ACTIVATION_FACTOR
    return max(1, min(chunk, CHUNK_MEMORY_BYTES // max(per_sample, 1)))


class SampleRun:
    """State of one ``estimate`` call: chunked forward passes feeding running moments, the
    reliability trace, and the stop rule of ``samples="auto"``. What a method's ``draw`` uses:
    ``x`` (the input on the device), ``members`` (the networks there), ``seed``, ``model``,
    ``forward(module, x, in_loop=True)`` and ``sample(total, run_chunk)``."""

    # (id(module), layer) pairs where prefix reuse failed; tried no more. Shared on purpose:
    # it only ever skips a fast path that would fall back anyway.
    prefix_unsafe: set[tuple[int, str]] = set()

    def __init__(self, model, members, x, seed, chunk, progress, callback):
        self.model, self.members, self.x, self.seed = model, members, x, seed
        self.chunk, self.progress, self.callback = chunk, progress, callback
        self.on_moments = None  # set by estimate() for live views
        self.plan = Plan(0, DEFAULT_ROUND)
        self.round = DEFAULT_ROUND
        self.trace: list[tuple[int, float]] = []
        self.used_prefix = False
        self.late_layer = False  # the layer's prefix is most of the work (counted in start())

    def forward(self, module: nn.Module, x: torch.Tensor, in_loop: bool = False) -> torch.Tensor:
        """The model's output; in the sampling loop on a GPU without the per-pass value check,
        which waits for the device (:meth:`sample` checks the moments once at the end instead)."""
        return self.model.split_output(checked_forward(module, x, check_values=not in_loop or x.device.type == "cpu"))[0]

    def start(self, targets: list[nn.Module], choose_chunk: bool, plan: Plan) -> torch.Tensor:
        """The unperturbed output; with ``choose_chunk`` the chunk size for this layer and
        output (the prefix's share of the work, the memory bound); rounds in whole chunks."""
        if targets:
            original, share = memory.prefix_share(self.forward, self.members[0], self.x, targets[0])
            self.late_layer = share >= LATE_LAYER_SHARE
            if choose_chunk and (self.x.device.type != "cpu" or self.late_layer):
                self.chunk = PREFIX_CHUNK.get(self.x.device.type, self.chunk)
        else:
            original = self.forward(self.members[0], self.x)
        if choose_chunk:
            self.chunk = _memory_bounded_chunk(self.chunk, original)
        self.plan = plan
        self.round = -(-plan.round_size // self.chunk) * self.chunk
        return original

    def _checkpoint(self, moments: SampleMoments, total: int) -> bool:
        """Record the reliability at a round's end (and at the last sample); True to stop."""
        n = moments.count
        if n < MIN_RELIABILITY_SAMPLES or (n % self.round and n < total):
            return False
        self.trace.append((n, moments.reliability(tiling.shown_window())))  # of what is shown: a region's box
        return self.plan.stop_at is not None and self.trace[-1][1] >= self.plan.stop_at

    def _report(self, moments: SampleMoments, total: int) -> None:
        if self.on_moments is not None:
            self.on_moments(moments, total)
        if self.progress is not None:
            self.progress(moments.count, total)

    def sample(self, total: int, run_chunk) -> SampleMoments:
        """Run ``run_chunk(indices)`` over chunks of samples 0..total-1 into the moments, with
        the reliability at each round's end; stop early when ``samples="auto"`` is reached.
        On CUDA out-of-memory the chunk is halved and the chunk retried."""
        moments = SampleMoments()
        while moments.count < total:
            start = moments.count
            stop = min(start + self.chunk, total)
            try:
                batch = run_chunk(range(start, stop))
            except torch.cuda.OutOfMemoryError:
                if self.chunk == 1:
                    raise
                self.chunk = max(1, self.chunk // 2)
                torch.cuda.empty_cache()
                continue
            moments.update(batch, start)
            if self.callback is not None:
                self.callback(batch)
            reached = self._checkpoint(moments, total)
            self._report(moments, total)
            if reached and moments.count < total:
                self._report(moments, moments.count)  # the run is complete at this count
                break
        if moments.count and not bool(torch.isfinite(moments.all.mean).all()):  # a non-finite sample spreads here
            raise ModelRunError(NON_FINITE)
        return moments



# -- one class per sampling routine -----------------------------------------------------------------
class TransformMethod(UncertaintyMethod):
    """Transformed inputs (dihedral; depth: identity + flip), batched by shape (90° rotations swap
    H and W of non-square images), outputs inverted. The identity's output is the unperturbed one."""

    def sample_cap(self, model: UQModel) -> int:
        return len(default_transforms(model.task))

    def draw(self, run: SampleRun, original: torch.Tensor, request: Draw) -> SampleMoments:
        names = check_transforms(request.transforms or default_transforms(run.model.task))[:request.count]
        pixels = original.shape[-1] * original.shape[-2]
        per_pass = max(1, CPU_PASS_PIXELS // pixels) if run.x.device.type == "cpu" else len(names)

        def run_chunk(indices: range) -> torch.Tensor:
            chunk_names = [names[i] for i in indices]
            outs: dict[str, torch.Tensor] = {}
            groups: dict[tuple[int, ...], list[str]] = {}
            for name in chunk_names:
                if name == "identity":
                    outs[name] = original
                else:
                    groups.setdefault(tuple(apply_transform(run.x, name).shape), []).append(name)
            for group in groups.values():
                for start in range(0, len(group), per_pass):
                    in_pass = group[start : start + per_pass]
                    batch = torch.cat([apply_transform(run.x, n) for n in in_pass])
                    y = run.forward(run.members[0], batch.contiguous(memory_format=torch.channels_last), in_loop=True)
                    outs.update({n: invert_transform(y[j : j + 1], n) for j, n in enumerate(in_pass)})
            return torch.cat([outs[n] for n in chunk_names])

        return run.sample(len(names), run_chunk)


class FeatureMethod(UncertaintyMethod):
    """A forward hook perturbs layer outputs (``spec.feature``: noise or dropout on the chosen
    layer, or the model's own dropout layers). With prefix reuse the input goes in at batch 1;
    where the model does not allow that, the chunk (and every later one) runs with the input
    batched instead."""

    def targets(self, module: nn.Module, layer: str | None) -> list[nn.Module]:
        if self.spec.feature == _methods.FEATURE_OWN_DROPOUT:
            found = [m for m in module.modules() if isinstance(m, DROPOUT_TYPES)]
            if not found:
                raise InputError(f"{self.spec.name} needs a model with dropout layers; this one has none")
            return found
        if not layer:
            raise InputError(f"method {self.spec.name!r} needs a layer; see uqcore.list_layers(model) for valid names")
        return [resolve_layer(module, layer)]

    def feeder(self, model: UQModel, dev: torch.device, layer: Any) -> feed.Feeder | None:
        if not (self.spec.needs_layer and isinstance(layer, str)):
            return None
        resolve_layer(model.module, layer)  # an unknown layer is the caller's InputError, not a probe's
        found = feed.margins(model, layer)
        return None if found is None else feed.Feeder(model, layer, dev, found)

    def draw(self, run: SampleRun, original: torch.Tensor, request: Draw) -> SampleMoments:
        if self.spec.needs_layer and request.strength == 0:
            # No perturbation: every sample is the original output. Computing them would
            # only add batch-size-dependent rounding noise (~1e-17) to a zero map.
            return run.sample(request.count, lambda idx: original.expand(len(idx), *original.shape[1:]))
        targets, layer = request.targets, request.layer
        key = (id(run.members[0]), layer or "<dropout>")
        # each perturbed layer's draws are keyed by its place among the targets (one layer: 0;
        # MC-dropout: the model's dropout layers in module order), not by the name a wrapper gives it
        keys = {m: i for i, m in enumerate(targets)}
        run.used_prefix = request.prefix_reuse and self.spec.prefix_reuse and key not in run.prefix_unsafe

        def run_chunk(indices: range, expand: bool) -> torch.Tensor:
            hook = FeaturePerturbation(self.spec.feature, request.strength, sample_seeds(run.seed, indices),
                                       expand=expand, layers=keys)
            x = run.x if expand else run.x.expand(len(indices), *run.x.shape[1:])
            with forward_hooks(post={m: hook for m in targets}):
                out = run.forward(run.members[0], x, in_loop=True)
            if out.shape[0] != len(indices):
                raise PrefixMismatch(f"model output batch {out.shape[0]} != {len(indices)} samples")
            return out

        def run_with_fallback(indices: range) -> torch.Tensor:
            if run.used_prefix:
                try:
                    return run_chunk(indices, True)
                except (PrefixMismatch, ModelRunError):
                    run.prefix_unsafe.add(key)
                    run.used_prefix = False
            return run_chunk(indices, False)

        return run.sample(request.count, run_with_fallback)


class MembersMethod(UncertaintyMethod):
    """One sample per ensemble member."""

    def sample_cap(self, model: UQModel) -> int:
        return len(model.members)

    def draw(self, run: SampleRun, original: torch.Tensor, request: Draw) -> SampleMoments:
        count = min(request.count, len(run.members))
        return run.sample(count, lambda idx: torch.cat([run.forward(run.members[i], run.x, in_loop=True) for i in idx]))


class HeadMethod(UncertaintyMethod):
    """The model's own mean / log-variance head: exp(log-variance) averaged over channels."""

    def sample_cap(self, model: UQModel) -> int:
        return 0

    def one_pass(self, model, module, x, dev):
        prediction, logvar = model.split_output(checked_forward(module, x))
        return prediction, logvar.float().exp().mean(1)[0]


class StudentMethod(HeadMethod):
    """The attached distilled head (:mod:`uqcore.student`), which reads the features of the same pass."""

    def one_pass(self, model, module, x, dev):
        prediction, logvar = head_on(model.student, dev).predict(module, x, model.split_output)
        return prediction, logvar.float().exp()[0, 0]


# The class that runs each sampling routine of the table (``spec.sampling``).
ROUTINES: dict[str, type[UncertaintyMethod]] = {
    _methods.SAMPLING_TRANSFORM: TransformMethod, _methods.SAMPLING_FEATURE: FeatureMethod,
    _methods.SAMPLING_MEMBERS: MembersMethod, _methods.SAMPLING_HEAD: HeadMethod,
    _methods.SAMPLING_STUDENT: StudentMethod,
}
for _spec in _methods.SPECS:
    _methods.register_method(ROUTINES[_spec.sampling](_spec))
del _spec


def sample_cap(model: UQModel, method: str) -> int:
    """The most samples ``method`` draws on ``model``: the transform set's size for
    ``transform`` (8 dihedral transforms; 2 for depth, identity and flip), the members for
    ``ensemble``, 0 for ``llm`` and ``student`` (one pass), else the ``UQCORE_MAX_SAMPLES`` limit."""
    return _methods.method_object(method).sample_cap(model)
