"""A tile of a layer method computed on a narrower crop, fed the layer's output from a wider one.

For ``noise`` and ``dropout`` at a layer, the network up to that layer (its prefix) gives the same
output in every sample. A box (a tile or a region, :mod:`uqcore.engine.tiling`) is then computed
from two crops of the input instead of one:

1. the *wide* crop (the box plus the ``wide`` margin, at least the receptive field): the prefix runs
   on it once, stopped at the layer, and the layer's output is kept (:meth:`Feeder.capture`);
2. the *narrow* crop (the box plus the ``narrow`` margin: the layer's reach to the output and the
   reach of the paths that bypass the layer, such as a skip from before it or an interpolation of
   the input): the whole estimate runs on it, with the layer's output replaced by the kept one,
   cut to the narrow crop (:func:`feed_hooks` inside :meth:`Feeder.feeding`).

The kept output is exact wherever the narrow run uses it (the wide margin covers the narrow
margin plus the prefix's reach), so the box gets the whole image's numbers, and the samples,
most of the work, pay only the narrow margin (srresnet at ``body.5``: 7 LR pixels instead of 22;
benchmarks/bench_tiles.py). Where that saves nothing, or the kept output does not fit the narrow
crop's layer (:class:`FeedMismatch`), the box is computed the usual way.

:func:`margins` measures both once per (model, layer), as the receptive field is measured
(:mod:`uqcore.engine.receptive`): the narrow margin by probes that change one position of the
layer's output, or one input pixel with the layer's output held fixed, and see how far the output
changes, raised to the kernel bound of the layers that run after the layer; the wide one adds the
kernel bound of the layers before it (never below the receptive field). A layer whose narrow margin
would be over ``WORTH`` of the receptive field, or whose probes would cost more than
``PROBE_WORK`` multiply-adds (a heavy network with a wide margin), is not fed.
"""

from __future__ import annotations

import math
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch import nn

from uqcore.engine import positions
from uqcore.engine.hooks import forward_hooks
from uqcore.engine.layers import resolve_layer
from uqcore.engine.model import UQModel, as_model, checked_forward
from uqcore.engine.receptive import CHANGED, START_PROBE, kernel_reach, receptive_field, stride
from uqcore.errors import ModelRunError

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Feed a layer only where its narrow margin is at most this share of the receptive field: above
# it the samples save little, and the probe's image (4 x the margin a side) costs more.
WORTH = 0.75
# The probes' forward passes, and the most multiply-adds they may cost together (about a second on
# one CPU core): a heavy network with a wide margin is not probed (its boxes run the usual way).
PROBE_PASSES = 5
PROBE_WORK = 2e10
# (layer name, kept output [1, C, h, w], its offset in the layer's full grid); None = no feed.
_FEED: ContextVar[tuple[str, torch.Tensor, tuple[int, int]] | None] = ContextVar("uqcore_feed", default=None)


@dataclass(frozen=True)
class Margins:
    """Input pixels around a box: ``narrow`` for the fed run, ``wide`` for the prefix pass."""

    narrow: int
    wide: int


class FeedMismatch(RuntimeError):
    """The kept layer output does not fit the narrow crop's layer; the box runs the usual way."""


class _Kept(Exception):
    """Raised by the capture hook to end the prefix pass once the layer's output is kept."""


def margins(model, layer: str) -> Margins | None:
    """The two margins for ``layer`` of ``model``, or None where a fed run saves nothing (or the
    model has global context). Measured once per (model, layer) and cached on the model."""
    model = as_model(model)
    per_layer = _CACHE.setdefault(model, {})
    if layer not in per_layer:
        per_layer[layer] = _measure(model, layer)
    return per_layer[layer]


def caused_by_mismatch(exc: BaseException) -> bool:
    """Whether ``exc`` (a ModelRunError from a forward pass) comes from a FeedMismatch."""
    while exc is not None:
        if isinstance(exc, FeedMismatch):
            return True
        exc = exc.__cause__
    return False


class Feeder:
    """What a tiled or region run of one (model, layer, device) needs to feed its boxes."""

    def __init__(self, model: UQModel, layer: str, device: torch.device, found: Margins) -> None:
        self.model, self.layer, self.device, self.margins = model, layer, device, found

    @torch.inference_mode()
    def capture(self, crop: torch.Tensor, box: tuple[int, int, int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        """The layer's output on the input ``crop`` at ``box`` of the whole input, and its offset
        in the layer's full grid; the rest of the network is not run."""
        module = self.model.module_on(self.device)
        kept: list = []

        def keep(_module, _inputs, output):
            kept.append((output.detach(), positions.layer_offset(tuple(output.shape[-2:]))))
            raise _Kept

        x = crop.to(self.device).contiguous(memory_format=torch.channels_last)
        with positions.input_box(*box), forward_hooks(post={resolve_layer(module, self.layer): keep}):
            try:
                checked_forward(module, x)
            except ModelRunError as exc:
                if not isinstance(exc.__cause__, _Kept):
                    raise
        if not kept:
            raise FeedMismatch(f"layer {self.layer!r} did not run")
        return kept[0]

    @contextmanager
    def feeding(self, features: torch.Tensor, offset: tuple[int, int]):
        """Forward passes of this context (the narrow crop's estimate) take the layer's output
        from ``features`` (at ``offset`` in the layer's full grid)."""
        reset = _FEED.set((self.layer, features, offset))
        try:
            yield
        finally:
            _FEED.reset(reset)


def feed_hooks(layer: str | None, target: nn.Module) -> dict:
    """The post-hook that replaces ``target``'s output with the kept one while a feed for
    ``layer`` is active in this context (register it before any perturbation hook); else {}."""
    active = _FEED.get()
    if active is None or layer is None or active[0] != layer:
        return {}
    _, features, (wy, wx) = active

    def replace(_module, _inputs, output):
        h, w = output.shape[-2:]
        ny, nx = positions.layer_offset((h, w))
        top, left = ny - wy, nx - wx
        part = features[..., top : top + h, left : left + w]
        if top < 0 or left < 0 or part.shape[1:] != output.shape[1:]:
            raise FeedMismatch(f"kept output {tuple(features.shape)} does not cover the crop's {tuple(output.shape)} "
                               f"at ({top}, {left})")
        layout = torch.channels_last if output.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        return part.to(output.dtype).contiguous(memory_format=layout).expand(output.shape[0], *part.shape[1:])

    return {target: replace}


@torch.inference_mode()
def _measure(model: UQModel, layer: str) -> Margins | None:
    rf = receptive_field(model)
    if rf is None:
        return None
    s = stride(model)
    module = model.module
    target = resolve_layer(module, layer)
    small = _round_up(max(START_PROBE, 4 * s), s)
    cpu_limit = int(model.card.get("cpu_max_pixels") or 0)  # an own model's per-pass input limit
    if cpu_limit and small * small > cpu_limit:
        return None
    before, after, span, work = _kernel_bounds(module, target, _image(model, small))
    bound = _margin_of(after)
    if bound > rf * WORTH:  # checked before the probes, which cost forward passes of a size that grows with it
        return None
    size = _round_up(max(small, 2 * bound + 4 * s + 8), s)
    if (cpu_limit and size * size > cpu_limit) or PROBE_PASSES * work * (size / small) ** 2 > PROBE_WORK:
        return None
    probe = _Probe(model, module, target, _image(model, size))
    if probe.calls != 1:  # a module run twice in one pass (shared weights) has no one output to keep
        return None
    reaches = (probe.layer_reach(), probe.bypass_reach())
    if None in reaches:  # a change reached the probe's border: farther than is worth feeding
        return None
    narrow = max(bound, *reaches)
    if narrow > rf * WORTH:
        return None
    # a kept position is exact where the prefix sees all its input: the narrow margin, the
    # position's own span (a coarse layer's covers several input pixels) and the prefix's kernels
    # (plus 2 pixels for an interpolation outside any layer, as the receptive field's bound has)
    return Margins(narrow, max(rf, narrow + _margin_of(before) + 2 + math.ceil(span)))


def _round_up(n: int, s: int) -> int:
    return -(-n // s) * s


def _image(model: UQModel, size: int) -> torch.Tensor:
    return torch.rand((1, model.in_channels, size, size), generator=torch.Generator().manual_seed(0))


def _margin_of(gap: float) -> int:
    """The margin (input pixels) that keeps everything within ``gap`` input pixels of a box."""
    return int(math.floor(gap)) + 1


class _Probe:
    """One random image, its layer output and its output; each reach is the margin (input
    pixels) that covers the farthest changed output from the change, None where the change
    reaches the probe's border."""

    def __init__(self, model: UQModel, module: nn.Module, target: nn.Module, x: torch.Tensor) -> None:
        self.model, self.module, self.target, self.x = model, module, target, x
        kept: list[torch.Tensor] = []
        with forward_hooks(post={target: lambda _m, _i, out: kept.append(out.detach().clone())}):
            self.base = self._output(x)
        self.kept, self.calls = kept[0], len(kept)
        self.span = x.shape[-1] / self.kept.shape[-1]  # input pixels per position of the layer's grid

    def _output(self, x: torch.Tensor, layer_output: torch.Tensor | None = None) -> torch.Tensor:
        hooks = {} if layer_output is None else {self.target: lambda _m, _i, _o: layer_output}
        with forward_hooks(post=hooks):
            return self.model.split_output(checked_forward(self.module, x))[0]

    def layer_reach(self) -> int | None:
        """A change of the layer's output at one position: how far the output changes."""
        h = self.kept.shape[-2]
        gen = torch.Generator().manual_seed(1)
        reach = 0
        for p in (h // 2, h // 2 + 1):
            changed = self.kept.clone()
            changed[0, :, p, p] += torch.randn(changed.shape[1], generator=gen) * (self.kept.std() + 1)
            found = _reach(self._output(self.x, changed) - self.base, (p * self.span, (p + 1) * self.span),
                           self.x.shape[-1])
            if found is None:
                return None
            reach = max(reach, found)
        return reach

    def bypass_reach(self) -> int | None:
        """A change of one input pixel with the layer's output held: how far the output changes."""
        size, reach = self.x.shape[-1], 0
        c = size // 2
        for phase in sorted({0, 1, stride(self.model) - 1}):
            x2 = self.x.clone()
            x2[..., c + phase, c + phase] = 1.0 - x2[..., c + phase, c + phase]
            found = _reach(self._output(x2, self.kept) - self.base, (c + phase, c + phase + 1), size)
            if found is None:
                return None
            reach = max(reach, found)
        return reach


def _reach(diff: torch.Tensor, source: tuple[float, float], size: int) -> int | None:
    """The margin that covers every changed element of ``diff`` [1, C, H, W] (a map over an
    input of ``size`` pixels a side) from the input span ``source`` that was changed; None if
    the change reaches the map's border."""
    diff = diff.abs().amax(dim=(0, 1))
    top = float(diff.max())
    if top == 0:
        return 0
    per = size / diff.shape[-1]  # input pixels per element
    gap = 0.0
    for axis in (1, 0):
        hit = torch.nonzero(diff.amax(axis) > top * CHANGED).flatten()
        first, last = int(hit[0]), int(hit[-1])
        if first == 0 or last == diff.shape[1 - axis] - 1:
            return None
        gap = max(gap, source[0] - (first + 1) * per, last * per - source[1])
    return _margin_of(max(gap, 0.0))


def _kernel_bounds(module: nn.Module, target: nn.Module, x: torch.Tensor) -> tuple[float, float, float, float]:
    """Upper bounds (input pixels) on the reach of the layers that run before ``target``'s output
    and of those that run after it (their kernels' reaches, each times the input pixels per
    position of its input grid, as :mod:`uqcore.engine.receptive` bounds the whole network), the
    input pixels per position of ``target``'s output, and the pass's multiply-adds (weighted layers)."""
    totals = {"before": 0.0, "after": 0.0, "work": 0.0}
    state = {"side": "before", "span": 1.0}
    size = x.shape[-1]

    def count(mod, inputs):
        totals[state["side"]] += kernel_reach(mod, inputs, size)

    def passed(_mod, _inputs, output):
        if state["side"] == "before":
            state.update(side="after", span=size / output.shape[-1])

    def work(mod, _inputs, output):
        weight = getattr(mod, "weight", None)
        if isinstance(output, torch.Tensor) and isinstance(weight, torch.Tensor) and weight.dim() > 1:
            totals["work"] += output.numel() * weight.numel() / weight.shape[0]

    layers = {m: count for m in module.modules() if hasattr(m, "kernel_size")}
    weighted = {m: work for m in module.modules() if next(m.children(), None) is None}
    with forward_hooks(pre=layers, post=weighted), forward_hooks(post={target: passed}):
        checked_forward(module, x)
    return totals["before"], totals["after"], state["span"], totals["work"]
