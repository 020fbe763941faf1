"""Streaming moments of perturbed outputs and the split-half reliability of a variance map.

``RunningMoments`` merges batches with Chan et al.'s update (float64 running mean and M2), so a
map does not depend on how samples were chunked; ``SampleMoments`` keeps the moments of all
samples and of the even- and odd-indexed halves, whose maps give ``split_half_reliability``
(``samples="auto"`` in :func:`uqcore.estimate` stops on it).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from uqcore.metrics.correlation import pearson_vectors, ranks

# The reliability is computed on a regular grid of at most this many pixels of the map (every
# s-th row and column): its standard error there is about 0.005, and a check stays ~10 ms.
RELIABILITY_PIXELS = 2**16


# Elements per sample in one block of an update on CPU: a 16-sample chunk's float64 deviations of
# a block are 2 MiB, which stay in cache through the update's passes.
BLOCK_ELEMENTS = 1 << 14


def _memory_order(batch: torch.Tensor) -> torch.memory_format:
    """channels_last for a channels-last image batch (what the engine's convolutions return), else
    contiguous."""
    if batch.dim() == 4 and not batch.is_contiguous() and batch.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _as_rows(batch: torch.Tensor, order: torch.memory_format) -> torch.Tensor:
    """``batch`` [k, ...] as [k, elements] in memory ``order`` (a view where it already lies so)."""
    batch = batch.contiguous(memory_format=order)
    if order == torch.channels_last:
        batch = batch.permute(0, 2, 3, 1)
    return batch.reshape(batch.shape[0], -1)


def _as_sample(flat: torch.Tensor, shape: tuple[int, ...], order: torch.memory_format) -> torch.Tensor:
    """A flat buffer in memory ``order`` seen as one sample of ``shape`` (a view)."""
    if order == torch.channels_last:
        c, h, w = shape
        return flat.view(h, w, c).permute(2, 0, 1)
    return flat.view(shape)


class RunningMoments:
    """Streaming per-element mean and (ddof=0) variance over batches (Chan et al.'s merge).

    ``mean`` and ``m2`` have the shape of one sample. They are kept flat in the memory order of the
    batches (a channels-last batch: channels fastest), so that a batch is read as it lies, and each
    update runs block by block over the elements: a block's float64 deviations stay in cache
    through the few passes the moments take (about half the time of whole-batch passes on CPU,
    the same numbers: every element's arithmetic is unchanged)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None
        self._flat: tuple[torch.Tensor, torch.Tensor] | None = None  # (mean, m2) as updated
        self._order: torch.memory_format | None = None

    def update(self, batch: torch.Tensor, rows: slice | None = None, into: "RunningMoments | None" = None) -> None:
        """Add the samples of ``batch`` [k, ...]; with ``rows`` (e.g. every other sample) and
        ``into``, add those rows to ``into`` as well, from the same deviations (two more sums over
        them instead of a second pass over the batch)."""
        k = batch.shape[0]
        order = self._order or _memory_order(batch)
        flat = _as_rows(batch, order)
        picked = len(range(k)[rows]) if into is not None and rows is not None else 0
        targets = [(self, k)] + ([(into, picked)] if picked else [])
        for moments, _ in targets:
            moments._prepare(batch, order)
        size = flat.shape[1]
        step = size if flat.device.type != "cpu" else BLOCK_ELEMENTS
        for j in range(0, size, step):
            block = flat[:, j : j + step]
            # float64 throughout; the same numbers as mean/((b - mean)**2).sum of the float64 batch
            b_mean = block.mean(0, dtype=torch.float64)
            dev = torch.sub(block, b_mean)  # float32 - float64: computed (and stored) in float64
            if picked:
                shift = dev[rows].sum(0).div_(picked)  # the rows' mean minus the batch's
                p_mean = b_mean + shift
            b_m2 = dev.mul_(dev).sum(0)
            self._merge_block(j, step, k, b_mean, b_m2)
            if picked:  # sum (x - mean_rows)^2 = sum (x - b_mean)^2 - n_rows * shift^2
                p_m2 = dev[rows].sum(0).sub_(shift.mul_(shift).mul_(picked)).clamp_(min=0.0)
                into._merge_block(j, step, picked, p_mean, p_m2)
        for moments, n in targets:
            moments.count += n

    def _prepare(self, batch: torch.Tensor, order: torch.memory_format) -> None:
        if self._flat is None:
            if self.count:
                raise ValueError("these moments are a view or a difference; they take no more samples")
            size = batch[0].numel()
            buffers = [torch.empty(size, dtype=torch.float64, device=batch.device) for _ in range(2)]
            self._flat, self._order = (buffers[0], buffers[1]), order
            self.mean, self.m2 = (_as_sample(b, tuple(batch.shape[1:]), order) for b in buffers)

    def _merge_block(self, start: int, step: int, n: int, b_mean: torch.Tensor, b_m2: torch.Tensor) -> None:
        """Chan's merge of ``n`` samples' block moments into elements start..start+step-1."""
        mean, m2 = (t[start : start + step] for t in self._flat)
        if self.count == 0:
            mean.copy_(b_mean)
            m2.copy_(b_m2)
            return
        total = self.count + n
        delta = b_mean.sub_(mean)
        # operation for operation the merge m2 + b_m2 + delta**2 * (count n / total)
        # (no ``alpha=``: that may fuse into one rounding and change the last bits)
        m2.add_(b_m2).add_(delta * delta * (self.count * n / total))
        mean.add_(delta.mul_(n / total))

    def minus(self, part: "RunningMoments") -> "RunningMoments":
        """The moments of the samples counted here but not in ``part`` (a subset of them):
        Chan's merge solved for the other part. Exact up to float64 rounding; no cancellation
        when ``part`` holds about half the samples."""
        if part.mean is None:
            return self
        rest = RunningMoments()
        rest.count = self.count - part.count
        if rest.count <= 0:
            raise ValueError("minus: the part holds all the samples")
        # in place where a temporary would be: the numbers of (mean * n - part.mean * n_part) / n_rest
        # and m2 - part.m2 - delta**2 * (...), with fewer large allocations (each a page-faulting
        # fresh block on CPU)
        rest.mean = (self.mean * self.count).sub_(part.mean * part.count).div_(rest.count)
        delta = rest.mean - part.mean
        rest.m2 = torch.sub(self.m2, part.m2).sub_(delta.mul_(delta).mul_(part.count * rest.count / self.count))
        rest.m2.clamp_(min=0.0)
        return rest

    def view(self, index) -> "RunningMoments":
        """The moments of the elements ``mean[index]`` (a view, no copy)."""
        part = RunningMoments()
        part.count, part.mean, part.m2 = self.count, self.mean[index], self.m2[index]
        return part

    @property
    def variance(self) -> torch.Tensor:
        return self.m2 / self.count

    def variance_map(self) -> torch.Tensor:
        """The variance averaged over channels (dim 0 of a sample): [H', W'] of an image output.
        Summed channel by channel in order, then divided: the same numbers in either memory order
        (a reduction over channels that lie next to each other in memory runs many times slower)."""
        variance = self.variance
        total = variance[0]
        for c in range(1, variance.shape[0]):
            total = total + variance[c]
        return total / variance.shape[0]


def split_half_reliability(first: torch.Tensor, second: torch.Tensor) -> float:
    """Spearman–Brown-corrected rank correlation of two half maps: r = Spearman(first, second)
    (average ranks for ties), reliability = 2r / (1 + r), a negative r counting as 0.

    The two maps are the variance maps of the even- and odd-indexed samples; the result
    estimates the rank correlation between the map of all the samples and a fresh map with as
    many samples. Defined cases without a rank order: two equal maps (e.g. both zero: nothing
    perturbs the output) give 1.0, a constant map against a different one 0.0."""
    a = first.detach().double().cpu().reshape(-1).numpy()
    b = second.detach().double().cpu().reshape(-1).numpy()
    if np.array_equal(a, b):
        return 1.0
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    r = pearson_vectors(ranks(a), ranks(b))
    r = max(r, 0.0) if math.isfinite(r) else 0.0
    return 2.0 * r / (1.0 + r)


class SampleMoments:
    """The moments of one call's samples: all of them, and (for the reliability) the even-indexed
    ones; the odd-indexed half is the difference (:meth:`RunningMoments.minus`)."""

    def __init__(self) -> None:
        self.all = RunningMoments()
        self.even = RunningMoments()

    @property
    def count(self) -> int:
        return self.all.count

    def update(self, batch: torch.Tensor, start: int) -> None:
        """``batch`` holds samples start, start + 1, ...; the total is updated as a whole batch,
        exactly as without halves."""
        self.all.update(batch, rows=slice(start % 2, None, 2), into=self.even)

    def reliability(self, window: tuple[slice, slice] | None = None) -> float:
        """:func:`split_half_reliability` of the halves' variance maps, on a regular grid of at
        most ``RELIABILITY_PIXELS`` pixels (all of them in maps up to 256 x 256); ``window``
        (rows, columns): of that part of the maps only (a region inside a crop's output)."""
        everything, even = self.all, self.even
        if window is not None:
            everything, even = everything.view((..., *window)), even.view((..., *window))
        grid = reliability_grid(everything.mean.shape[-2:])
        everything, even = everything.view(grid), even.view(grid)
        return split_half_reliability(even.variance_map(), everything.minus(even).variance_map())

    def half_maps(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The variance maps [H', W'] (float32, channel mean) of the even- and odd-indexed
        samples; None below 2 samples."""
        if self.count < 2 or self.even.mean is None:
            return None
        return self.even.variance_map().float(), self.all.minus(self.even).variance_map().float()


def reliability_grid(shape) -> tuple:
    """Every s-th row and column of a map of ``shape`` (H, W): at most ``RELIABILITY_PIXELS``."""
    h, w = shape[-2:]
    step = max(1, math.ceil(math.sqrt(h * w / RELIABILITY_PIXELS)))
    return (..., slice(None, None, step), slice(None, None, step))


def maps_reliability(first: torch.Tensor, second: torch.Tensor) -> float | None:
    """:func:`split_half_reliability` of two half maps [H, W] on the regular grid of
    :class:`SampleMoments` (what an estimate reports), over the pixels finite in both (a stopped
    tiled run leaves NaN); None if fewer than 2 are."""
    grid = reliability_grid(first.shape)
    a, b = first[grid].reshape(-1), second[grid].reshape(-1)
    keep = torch.isfinite(a) & torch.isfinite(b)
    return split_half_reliability(a[keep], b[keep]) if int(keep.sum()) >= 2 else None


def block_reliability(first, second, block: int) -> float | None:
    """The split-half reliability of a map shown as ``block`` x ``block`` block means (an
    overview): each half map [H, W] is averaged over non-overlapping blocks from the top-left
    corner (the last row / column of blocks over the pixels it has; NaN pixels, e.g. tiles not
    computed yet, left out of a block's mean), then :func:`split_half_reliability` of the two
    block-mean maps over the blocks finite in both; None if fewer than 2 are. ``block`` 1: the
    pixel maps."""
    a, b = (np.asarray(m.cpu() if isinstance(m, torch.Tensor) else m, dtype=np.float64) for m in (first, second))
    a, b = _block_means(a, int(block)).ravel(), _block_means(b, int(block)).ravel()
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        return None
    return split_half_reliability(torch.from_numpy(a[keep]), torch.from_numpy(b[keep]))


def _block_means(a: np.ndarray, block: int) -> np.ndarray:
    h, w = a.shape[-2:]
    rows, cols = -(-h // block), -(-w // block)
    padded = np.full((rows * block, cols * block), np.nan)
    padded[:h, :w] = a
    cells = padded.reshape(rows, block, cols, block)
    counts = np.isfinite(cells).sum(axis=(1, 3))
    sums = np.nansum(cells, axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
