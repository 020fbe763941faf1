"""Exact regions and tiles: ``estimate(..., region=(top, left, h, w))`` and ``estimate(..., tile=T)``.

A box of output pixels is computed from a crop of the input: the box's input pixels plus a
margin of at least the model's receptive field (:func:`uqcore.engine.receptive.receptive_field`) on
every side that is not the image border, cut out of the output afterwards. The crop starts on
the network's stride grid (:func:`uqcore.engine.receptive.stride`) and ends where the whole image ends
modulo the stride, so that the crop is on the grid in flipped and rotated coordinates too (the
``transform`` method) and a model that pads its input to the stride pads the crop as it pads the
whole image. Feature perturbations draw by position (:mod:`uqcore.engine.positions`); the crop's place
in the whole input is set with :func:`uqcore.engine.positions.input_box` around its run. The result is
the whole-image estimate's numbers, up to float rounding (``Estimate.exact``). For noise and
dropout the box's samples run on a narrower crop, fed the perturbed layer's output from the
full-margin crop (:mod:`uqcore.engine.feed`), which is the same numbers at less cost.

Models with global context (receptive field None) are refused with a message: a region or tile
of such a model is not the same numbers as the whole image.

``samples="auto"``: the first box (the region; the first tile) decides the count, on the
reliability of the box itself (not of the crop with its margin: :func:`shown_window`), and every
other tile draws that many samples (the per-sample seeds make them the same samples).
``Estimate.reliability`` of a region or a tiled run is that of the maps it returns (the box; the
assembled whole image, from ``Estimate.halves``), not of a crop with its margin.

Progress of a tiled run: ``progress(done, total)`` counts samples over all tiles (tile k's sample
j is ``k * per_tile + j``); ``on_update(estimate_so_far, tiles_total)`` is called after each
finished tile with the assembled estimate (unfinished area NaN, ``.tiles`` = tiles done);
``stop()`` (if given) is asked before each tile: True ends the run, keeping the finished tiles.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextvars import ContextVar

import torch

from uqcore.engine import feed, positions
from uqcore.errors import InputError, ModelRunError
from uqcore.engine.moments import maps_reliability
from uqcore.engine.receptive import receptive_field, stride

Box = tuple[int, int, int, int]
# (rows, columns) of a crop's output that the caller shows (the box); the reliability that
# ``samples="auto"`` stops on and the trace refer to it (this caller's context only).
_SHOWN: ContextVar[tuple[slice, slice] | None] = ContextVar("uqcore_shown_window", default=None)


def shown_window() -> tuple[slice, slice] | None:
    """The part of the current crop's output that is shown (None: all of it)."""
    return _SHOWN.get()


def check_region(region, full: tuple[int, int]) -> Box:
    """``region`` as ints (top, left, height, width) inside the output ``full`` (H', W')."""
    try:
        top, left, h, w = (int(v) for v in region)
    except (TypeError, ValueError):
        raise InputError(f"region must be (top, left, height, width) in output pixels, got {region!r}") from None
    if h < 1 or w < 1 or top < 0 or left < 0 or top + h > full[0] or left + w > full[1]:
        raise InputError(f"region {(top, left, h, w)} is not inside the {full[0]}×{full[1]} output")
    return top, left, h, w


def _span(start: int, stop: int, size: int, margin: int, s: int) -> tuple[int, int]:
    """Input rows [a, b) covering [start, stop) plus ``margin``, with a on the stride grid and
    b where the image ends modulo the stride (or at the image end)."""
    a = max(0, start - margin) // s * s
    b = min(size, stop + margin)
    return a, size - (size - b) // s * s


def crop_for(model, box: Box, in_shape: tuple[int, int], margin: int | None = None) -> Box:
    """The input crop (top, left, height, width) whose output contains output box ``box``
    exactly (``margin``: input pixels around the box, default the receptive field); an
    InputError for a model with global context."""
    rf = receptive_field(model)
    if rf is None:
        raise InputError(
            f"model {model.name!r} has global context (its output depends on the whole image), so a "
            "region or tile would not be the same numbers as the whole image; run it without region/tile"
        )
    s, k, margin = stride(model), model.scale, rf if margin is None else margin
    top, left, h, w = box
    a, b = _span(top // k, -(-(top + h) // k), in_shape[0], margin, s)
    c, d = _span(left // k, -(-(left + w) // k), in_shape[1], margin, s)
    return a, c, b - a, d - c


def tile_boxes(full: tuple[int, int], tile: int) -> list[Box]:
    """Evenly sized output tiles covering ``full``, row by row: as many per side as fit whole
    (never smaller than ``tile`` unless the side is, and under 2 x ``tile``). Fewer, larger tiles
    recompute less of the receptive-field margin around each (e.g. a 2000-pixel side at 512: 3
    tiles of 666-667 instead of 4 of 500; benchmarks/bench_tiles.py prints the crops' share)."""
    rows, cols = max(1, full[0] // tile), max(1, full[1] // tile)
    ys = [round(i * full[0] / rows) for i in range(rows + 1)]
    xs = [round(j * full[1] / cols) for j in range(cols + 1)]
    return [(ys[i], xs[j], ys[i + 1] - ys[i], xs[j + 1] - xs[j]) for i in range(rows) for j in range(cols)]


def check_tile(model, tile) -> int:
    """``tile`` if it is an integer of at least the model's stride in output pixels, else an InputError."""
    smallest = model.scale * stride(model)
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < smallest:
        raise InputError(f"tile must be an integer of at least {smallest} output pixels (the model's stride), "
                         f"got {tile!r}")
    return tile


def run_box(model, x: torch.Tensor, box: Box, run: Callable, on_update=None, feeder=None) -> object:
    """``run(crop, ...)``'s Estimate for the input crop of ``box`` (output pixels), cut to the box;
    ``on_update(estimate_so_far, total)`` (if given) gets the crop run's updates, cut too. With a
    ``feeder`` (:class:`uqcore.engine.feed.Feeder`) the run takes a narrower crop, fed the layer's
    output from the wide crop's prefix pass; where that does not fit, the usual crop."""
    in_shape = tuple(x.shape[-2:])
    if feeder is not None:
        wide = crop_for(model, box, in_shape, feeder.margins.wide)
        narrow = crop_for(model, box, in_shape, feeder.margins.narrow)
        try:
            started = time.perf_counter()
            features, offset = feeder.capture(_cut(x, wide), wide)
            kept_seconds = time.perf_counter() - started
            with feeder.feeding(features, offset):
                est = _run_crop(model, x, box, narrow, run, on_update)
            return dataclasses.replace(est, seconds=est.seconds + kept_seconds)
        except (ModelRunError, feed.FeedMismatch) as exc:
            if not feed.caused_by_mismatch(exc):
                raise
    return _run_crop(model, x, box, crop_for(model, box, in_shape), run, on_update)


def _cut(x: torch.Tensor, crop: Box) -> torch.Tensor:
    top, left, h, w = crop
    return x[..., top : top + h, left : left + w]


def _run_crop(model, x: torch.Tensor, box: Box, crop: Box, run: Callable, on_update) -> object:
    ct, cl, ch, cw = crop
    k = model.scale
    top, left, h, w = box
    ys, xs = slice(top - ct * k, top - ct * k + h), slice(left - cl * k, left - cl * k + w)

    def cut(est):
        halves = None if est.halves is None else tuple(m[ys, xs] for m in est.halves)
        # the box's, not the crop's (None where the run reports none: below 4 samples)
        reliability = est.reliability if halves is None or est.reliability is None else maps_reliability(*halves)
        return dataclasses.replace(
            est, prediction=est.prediction[:, ys, xs], original=est.original[:, ys, xs], mean=est.mean[:, ys, xs],
            variance=est.variance[ys, xs], region=box, tiles=1, halves=halves, reliability=reliability,
        )

    update = None if on_update is None else (lambda est, total: on_update(cut(est), total))
    shown = _SHOWN.set((ys, xs))
    try:
        with positions.input_box(ct, cl, ch, cw):
            return cut(run(_cut(x, crop), update))
    finally:
        _SHOWN.reset(shown)


def run_request(model, x: torch.Tensor, full: tuple[int, int], run: Callable, region, tile, *,
                progress=None, on_update=None, stop=None, feeder=None) -> object:
    """``estimate(..., region=...)`` or ``estimate(..., tile=...)``: ``run(crop, samples=None,
    progress=..., on_update=None)`` is an untiled estimate of an input crop. A region's run
    reports as an untiled run does (``on_update`` with the box's estimate so far). ``feeder``:
    see :func:`run_box`."""
    if region is not None:
        box = check_region(region, full)
        est = run_box(model, x, box, lambda crop, upd: run(crop, None, progress, upd),
                      None if on_update is None else (lambda e, t: on_update(dataclasses.replace(e, full_shape=full), t)),
                      feeder)
        return dataclasses.replace(est, full_shape=full)
    check_tile(model, tile)
    return run_tiles(model, x, tile_boxes(full, tile), full, run, progress=progress, on_update=on_update, stop=stop,
                     feeder=feeder)


def run_tiles(model, x: torch.Tensor, boxes: list[Box], full: tuple[int, int], run: Callable, *,
              progress=None, on_update=None, stop=None, feeder=None) -> object:
    """The whole output from ``boxes``; see the module docstring for progress and stop.
    ``run(crop, samples, progress)`` runs one crop; the first tile's sample count is kept."""
    est, out, samples = None, None, None
    for i, box in enumerate(boxes):
        if stop is not None and stop():
            break
        tile_progress = None
        if progress is not None:
            tile_progress = lambda d, t, i=i: progress(i * t + d, len(boxes) * t)  # noqa: E731
        part = run_box(model, x, box, lambda crop, _upd: run(crop, samples, tile_progress), feeder=feeder)
        if out is None:
            out = _empty(part, full)
            samples = part.samples or None
        _paste(out, part, box)
        halves = (out["even"], out["odd"]) if "even" in out else None
        maps = {k: v for k, v in out.items() if k not in ("even", "odd")}
        est = dataclasses.replace(part, region=(0, 0, *full), full_shape=full, tiles=i + 1, halves=halves,
                                  reliability=None if halves is None or part.reliability is None else
                                  maps_reliability(*halves), **maps)
        if on_update is not None:
            on_update(est, len(boxes))
    if est is None:
        raise InputError("the run was stopped before its first tile")
    return est


def _empty(part, full: tuple[int, int]) -> dict[str, torch.Tensor]:
    nan = float("nan")
    c = part.mean.shape[0]
    out = {"prediction": torch.full((c, *full), nan), "original": torch.full((c, *full), nan),
           "mean": torch.full((c, *full), nan), "variance": torch.full(full, nan)}
    if part.halves is not None:  # the halves' maps, for the whole map's reliability
        out.update(even=torch.full(full, nan), odd=torch.full(full, nan))
    return out


def _paste(out: dict[str, torch.Tensor], part, box: Box) -> None:
    top, left, h, w = box
    for name, target in out.items():
        value = part.halves[name == "odd"] if name in ("even", "odd") else getattr(part, name)
        target[..., top : top + h, left : left + w] = value
