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
    samples, so everything before the hooked layer ran once for all samples. With
    ``keep_layout=True`` a channels-last output gives a channels-last result, so the rest of the
    network keeps running in the layout the engine chose (the draws themselves are contiguous:
    the same numbers in the same places); the sampler turns it off where the rest of the network
    is cheaper than the copy (a layer near the output).
    """

    def __init__(self, kind: str, strength: float, seeds: list[int], expand: bool,
                 keep_layout: bool = False, layers: dict | None = None):
        if kind not in (FEATURE_GAUSSIAN, FEATURE_DROPOUT, FEATURE_OWN_DROPOUT):
            raise InputError(f"unknown feature perturbation {kind!r}")
        self.kind = kind
        self.strength = float(strength)
        self.seeds = list(seeds)
        self.layers = layers or {}
        self.expand = expand
        self.keep_layout = keep_layout

    def __call__(self, module: nn.Module, inputs: tuple, output):
        result = self._perturb(module, output)
        if self.keep_layout and output.dim() == 4 and output.is_contiguous(memory_format=torch.channels_last):
            return result.contiguous(memory_format=torch.channels_last)
        return result

    def _perturb(self, module: nn.Module, output):
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
                return output.expand(k, *output.shape[1:]).clone() if shared else output.clone()
            # each sample's draw goes straight into one buffer, scaled and shifted in place:
            # the same numbers as output + strength * randn per sample, in fewer passes (the
            # output is made contiguous like the buffer: a channels-last operand makes add_ slow)
            return self._draws(module, output, torch.randn).mul_(self.strength).add_(output.contiguous())
        p = self.strength if self.kind == FEATURE_DROPOUT else _module_rate(module)
        if p <= 0:
            return output.expand(k, *output.shape[1:]).clone() if shared else output.clone()
        shape = output.shape[1:]
        if _channelwise(module, self.kind):
            shape = (shape[0],) + (1,) * (len(shape) - 1)
        draws = self._draws(module, output, torch.rand, shape=shape, dtype=torch.float32)
        keep = draws >= p
        # == output * keep / (1 - p) for finite outputs; the scaling runs once on a shared output.
        # Element-wise float32 masks write the result into the draws' buffer: no fresh
        # allocation of the (possibly large) sample batch
        scaled, zero = (output / (1.0 - p)).contiguous(), output.new_zeros(())
        if draws.shape[1:] == output.shape[1:] and output.dtype == draws.dtype:
            return torch.where(keep, scaled, zero, out=draws)
        return torch.where(keep, scaled, zero)

    def _draws(self, module: nn.Module, out: torch.Tensor, sampler, shape=None, dtype=None) -> torch.Tensor:
        """[k, *shape] with row i drawn by ``sampler`` from sample i's seed, block by block at
        the positions of the layer's full grid (:mod:`uqcore.engine.positions`), into one buffer.

        On CPU, torch draws from one generator on one thread; the rows come from independent
        generators, so they are filled by up to ``torch.get_num_threads()`` threads at once:
        the same numbers, in a fraction of the time where the draws are large (a layer at
        output resolution)."""
        shape = tuple(out.shape[1:] if shape is None else shape)
        buffer = torch.empty((len(self.seeds),) + shape, device=out.device, dtype=dtype or out.dtype)
        rows = list(zip(buffer, self.seeds))
        key = self.layers.get(module, 0)
        spatial = len(shape) == 3 and shape[1:] != (1, 1)  # channel-wise masks have no position
        offset = positions.layer_offset(tuple(out.shape[-2:])) if spatial else (0, 0)
        inference = torch.is_inference_mode_enabled()  # thread-local: carried into the workers

        def fill(part: list) -> None:
            with torch.inference_mode(inference):
                for row, s in part:
                    if spatial:
                        positions.fill_row(row, s, key, offset, sampler)
                    else:
                        positions.fill_flat(row, s, key, sampler)

        workers = min(len(rows), torch.get_num_threads())
        if out.device.type != "cpu" or workers < 2 or buffer[0].numel() < PARALLEL_DRAW_MIN:
            fill(rows)
        else:
            list(_draw_pool().map(fill, [rows[i::workers] for i in range(workers)]))
        return buffer


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
