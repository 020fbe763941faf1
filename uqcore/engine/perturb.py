"""Perturbations: dihedral transforms with exact inverses, and seeded feature-map perturbations.

Feature-map perturbations draw every sample's randomness from that sample's own seed, derived
from ``(seed, sample index)``, in blocks keyed to positions of the perturbed layer's full output
grid (:mod:`uqcore.engine.positions`), so a sample's perturbation does not depend on how samples are
batched or chunked, on prefix reuse, on other callers, or on which tile or region of the image a
forward pass computes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from uqcore.engine import positions
from uqcore.errors import InputError
from uqcore.engine.methods import FEATURE_DROPOUT, FEATURE_GAUSSIAN, FEATURE_OWN_DROPOUT

# name -> (quarter turns counter-clockwise, horizontal flip first); identity first, then the
# rotations, so that taking the first 4 gives the 4 rotations.
DIHEDRAL: dict[str, tuple[int, bool]] = {
    "identity": (0, False),
    "rot90": (1, False),
    "rot180": (2, False),
    "rot270": (3, False),
    "flip": (0, True),
    "flip_rot90": (1, True),
    "flip_rot180": (2, True),
    "flip_rot270": (3, True),
}
# Orientation is a strong prior for depth: only the horizontal flip is tolerable there.
DEPTH_TRANSFORMS = ("identity", "flip")


def default_transforms(task: str) -> tuple[str, ...]:
    return DEPTH_TRANSFORMS if task == "depth" else tuple(DIHEDRAL)


def check_transforms(names: Sequence[str]) -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in DIHEDRAL]
    if unknown or not names:
        raise InputError(f"unknown transforms {unknown or names}; choose from {', '.join(DIHEDRAL)}")
    return names


def apply_transform(x: torch.Tensor, name: str) -> torch.Tensor:
    """Flip (if any) then rotate the last two dims of ``x``."""
    turns, flip = DIHEDRAL[name]
    if flip:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, turns, dims=(-2, -1)) if turns else x


def invert_transform(y: torch.Tensor, name: str) -> torch.Tensor:
    """Exact inverse of ``apply_transform``: rotate back, then undo the flip."""
    turns, flip = DIHEDRAL[name]
    if turns:
        y = torch.rot90(y, -turns, dims=(-2, -1))
    return torch.flip(y, dims=(-1,)) if flip else y


def sample_seed(seed: int, index: int) -> int:
    """An independent 63-bit seed for sample ``index`` of a call seeded with ``seed``."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, int(index)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def sample_seeds(seed: int, indices: Sequence[int]) -> list[int]:
    return [sample_seed(seed, i) for i in indices]


class FeaturePerturbation:
    """A forward-hook body that perturbs a module's output, one sample per batch element.

    ``kind`` is a method's ``spec.feature`` (:mod:`uqcore.engine.methods`): Gaussian noise of std
    ``strength``, dropout at rate ``strength``, or the module's own dropout at its own rate.
    ``seeds`` holds one seed per sample (:func:`sample_seeds`); ``layers`` maps each hooked
    module to its key (its place among the perturbed layers): the draws of sample i at a position of a
    layer depend on (seeds[i], layer, position) only.
    With ``expand=True`` (prefix reuse) a batch-1 output is first expanded to the number of
    samples, so everything before the hooked layer ran once for all samples.
    An image-shaped result is channels-last, the layout the engine runs the network in (its
    convolutions are several times slower on CPU in the default layout, most of all at a layer
    near the output, where the batch is large and the rest of the network is one convolution).
    """

    def __init__(self, kind: str, strength: float, seeds: list[int], expand: bool, layers: dict | None = None):
        if kind not in (FEATURE_GAUSSIAN, FEATURE_DROPOUT, FEATURE_OWN_DROPOUT):
            raise InputError(f"unknown feature perturbation {kind!r}")
        self.kind = kind
        self.strength = float(strength)
        self.seeds = list(seeds)
        self.layers = layers or {}
        self.expand = expand

    def __call__(self, module: nn.Module, inputs: tuple, output):
        if not isinstance(output, torch.Tensor):
            raise InputError(
                f"layer {type(module).__name__} returns {type(output).__name__}, not a tensor; "
                "choose a layer whose output is a feature map"
            )
        k = len(self.seeds)
        shared = output.shape[0] == 1 and k > 1 and self.expand  # one output, branched into k samples
        if output.shape[0] != k and not shared:
            raise PrefixMismatch(f"expected batch {k} at the perturbed layer, got {output.shape[0]}")
        if self.kind == FEATURE_GAUSSIAN:
            if self.strength <= 0:
                return self._copies(output, shared)
            # output + strength * randn per sample, in one pass per block of draws
            return self._combine(module, output, shared, torch.randn, output.dtype,
                                 lambda src, draws, dest: torch.add(src, draws, alpha=self.strength, out=dest))
        p = self.strength if self.kind == FEATURE_DROPOUT else _module_rate(module)
        if p <= 0:
            return self._copies(output, shared)
        # output / (1 - p) * keep, the scaling once on a shared output; the uniform draws become
        # the 0/1 mask in place (a float mask multiplies twice as fast as torch.where selects);
        # masks are drawn in float32 whatever the output's dtype
        return self._combine(module, output / (1.0 - p), shared, torch.rand, torch.float32,
                             lambda src, draws, dest: torch.mul(src, draws.ge_(p), out=dest),
                             channelwise=_channelwise(module, self.kind))

    def _copies(self, output: torch.Tensor, shared: bool) -> torch.Tensor:
        k = len(self.seeds)
        return self._empty(output, k).copy_(output.expand(k, *output.shape[1:]) if shared else output)

    @staticmethod
    def _empty(like: torch.Tensor, k: int) -> torch.Tensor:
        """The sample batch [k, *like.shape[1:]]: channels-last when image-shaped."""
        fmt = torch.channels_last if like.dim() == 4 else torch.contiguous_format
        return torch.empty((k,) + tuple(like.shape[1:]), dtype=like.dtype, device=like.device, memory_format=fmt)

    def _combine(self, module: nn.Module, source: torch.Tensor, shared: bool, sampler, dtype, combine,
                 channelwise: bool = False) -> torch.Tensor:
        """Row i of the result = ``combine(source row, draws of sample i, result row)``, the draws
        taken by ``sampler`` from sample i's seed at the positions of the layer's full grid
        (:mod:`uqcore.engine.positions`) and combined block by block where they have a position.

        On CPU, torch draws from one generator on one thread; the rows come from independent
        generators, so they are filled by up to ``torch.get_num_threads()`` threads at once:
        the same numbers, in a fraction of the time where the draws are large (a layer at
        output resolution)."""
        result = self._empty(source, len(self.seeds))
        if source.dim() == 4:  # the result's layout, so that the blocks stream through one layout
            source = source.contiguous(memory_format=torch.channels_last)
        shape = tuple(source.shape[1:])
        if channelwise:  # DropoutNd drops whole channels: one draw per channel
            shape = (shape[0],) + (1,) * (len(shape) - 1)
        key = self.layers.get(module, 0)
        spatial = len(shape) == 3 and shape[1:] != (1, 1)  # channel-wise masks have no position
        offset = positions.layer_offset(tuple(source.shape[-2:])) if spatial else (0, 0)
        inference = torch.is_inference_mode_enabled()  # thread-local: carried into the workers
        k = len(self.seeds)

        def fill(first: int, last: int) -> None:  # samples first..last-1
            src = source if shared else source[first:last]
            with torch.inference_mode(inference):
                if spatial:
                    positions.fill_rows(shape, self.seeds[first:last], key, offset, sampler,
                                        lambda ys, xs, d: combine(src[:, :, ys, xs], d, result[first:last, :, ys, xs]),
                                        dtype, source.device)
                    return
                for i in range(first, last):
                    draws = torch.empty(shape, dtype=dtype, device=source.device)
                    positions.fill_flat(draws, self.seeds[i], key, sampler)
                    result[i].copy_(combine(source[0 if shared else i], draws, None))

        workers = min(k, torch.get_num_threads())
        if source.device.type != "cpu" or workers < 2 or result[0].numel() < PARALLEL_DRAW_MIN:
            fill(0, k)
        else:  # contiguous runs of samples, so that each worker writes a view of the result
            bounds = [round(k * j / workers) for j in range(workers + 1)]
            list(_draw_pool().map(fill, bounds[:-1], bounds[1:]))
        return result


# Rows smaller than this are drawn on the calling thread (a thread hand-off costs more).
PARALLEL_DRAW_MIN = 1 << 16
_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _draw_pool() -> ThreadPoolExecutor:
    """One process-wide pool for the draws (threads are started once, not per call)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="uqcore-draws"))
        return _POOL[0]


class PrefixMismatch(RuntimeError):
    """Prefix reuse did not fit this model; the sampler falls back to batching the input."""


def _module_rate(module: nn.Module) -> float:
    return float(getattr(module, "p", 0.0))


def _channelwise(module: nn.Module, kind: str) -> bool:
    """MC-dropout keeps the model's own dropout type: DropoutNd drops whole channels."""
    return kind == FEATURE_OWN_DROPOUT and isinstance(module, (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d))
