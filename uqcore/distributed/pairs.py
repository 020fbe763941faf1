"""Per-pair jobs: one unit per (name, input, target) pair, whose values are a module-level
function of the model and that pair -- e.g. ``calibrate``'s per-pair statistics
(:func:`uqcore.calibration.intervals.pair_statistics`: the estimate, the residuals and variances on the
valid pixels and their seeded subsample). See :mod:`uqcore.distributed` for the job protocol.

The function travels to the workers by reference (its module and name, as pickle sends
functions), never as code; its keyword parameters must be JSON-able (they are part of every
unit's key, so a resumed unit is only reused for the same work)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from uqcore.distributed.units import UnitData, UnitResult, digest
from uqcore.errors import InputError
from uqcore.engine.model import model_identity

PAIR_COLUMNS = ("image", "index", "available", "samples_drawn", "error")


class PairJob(UnitData):
    """One unit per pair: ``values = fn(model, input, target, index=i, device=device, **params)``.

    Unit key: ``params``, the pair's name, index and a digest of its input and target; data: the
    pair. Readable rows (:data:`PAIR_COLUMNS`): the pair's name and index, and the ``available``
    and ``drawn`` values of the function's result where it has them."""

    columns = PAIR_COLUMNS

    def __init__(self, kind: str, fn: Callable[..., dict[str, Any]], model: Any, names: Sequence[str],
                 pairs: Sequence[tuple[Any, Any]], params: dict[str, Any]) -> None:
        self.kind, self.fn, self.params = kind, fn, dict(params)
        self.names = [str(n) for n in names]
        self._data = [(x, t) for x, t in pairs]
        self.digests = [digest(x, t) for x, t in self._data]
        self.identity = model_identity(model)

    def keys(self) -> list[dict[str, Any]]:
        return [{**self.params, "image": name, "index": i, "digest": d}
                for i, (name, d) in enumerate(zip(self.names, self.digests))]

    def run_info(self) -> dict[str, Any]:
        return {"model": self.identity, "function": f"{self.fn.__module__}.{self.fn.__qualname__}"}

    def data_id(self, key: dict[str, Any]) -> int:
        return int(key["index"])

    def run(self, model: Any, key: dict[str, Any], data: tuple[Any, Any], cache: dict, device: Any) -> dict[str, Any]:
        x, target = data
        return self.fn(model, x, target, index=int(key["index"]), device=device, **self.params)

    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]:
        values = values or {}
        return [{"image": key["image"], "index": key["index"], "available": values.get("available"),
                 "samples_drawn": values.get("drawn"), "error": error}]


def pair_values(results: Sequence[UnitResult], what: str) -> list[dict[str, Any]]:
    """The values of every unit in order; an InputError naming the pairs that failed (a fit
    needs all of them; with a store, ``resume`` retries only those)."""
    failed = [r for r in results if not r.ok]
    if failed:
        listed = "; ".join(f"{r.key['image']}: {r.error}" for r in failed[:5])
        raise InputError(f"{len(failed)} of {len(results)} {what} pair(s) failed ({listed}"
                         f"{'; ...' if len(failed) > 5 else ''})")
    return [r.values for r in results]
