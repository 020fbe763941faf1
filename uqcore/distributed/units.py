"""Units: the job protocol, a unit's result, running one unit, keys and fingerprints, and the
checks of the scale-out options (see :mod:`uqcore.distributed`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from uqcore.errors import InputError

RAY_PIN = "ray==2.60.0"
INSTALL_HINT = f'pip install "{RAY_PIN}"'


class Job(Protocol):
    kind: str
    columns: Sequence[str]

    def keys(self) -> list[dict[str, Any]]: ...
    def run_info(self) -> dict[str, Any]: ...
    def data_id(self, key: dict[str, Any]) -> Any: ...
    def data(self, data_id: Any) -> Any: ...
    def run(self, model: Any, key: dict[str, Any], data: Any, cache: dict, device: Any) -> dict[str, Any]: ...
    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]: ...


class UnitData:
    """The data side of a job: ``_data[data_id]`` is a unit's data, and a pickled job leaves
    ``_data`` out -- the data travel per unit (see :mod:`uqcore.distributed`), never with the job,
    so every worker holds only what it is working on."""

    _data: Sequence[Any]

    def data(self, data_id: Any) -> Any:
        return self._data[data_id]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_data": None}


@dataclass
class UnitResult:
    """One finished unit: its key, "ok" with ``values`` or "error" with the message."""

    key: dict[str, Any]
    status: str
    values: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# -- Ray, optional -------------------------------------------------------------------------------
def import_ray():
    """The ``ray`` module, or an InputError that says how to install it."""
    try:
        import ray  # lazy: Ray is optional and slow to import; only parallel runs need it
    except ImportError as exc:
        raise InputError(f"running with workers (--workers / --ray-address) needs Ray, which is not installed: "
                         f"{INSTALL_HINT} (it is pinned in requirements.txt); without workers the run is serial"
                         ) from exc
    return ray


def check_workers(workers: Any) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or int(workers) < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


def uses_units(workers: Any, ray_address: Any, store: Any, resume: bool) -> bool:
    """True when a command should take the unit path (any of the scale-out / resume options)."""
    if resume and store is None:
        raise InputError("resume=True needs store= (the folder of the run to resume); "
                         "on the command line --resume needs --out")
    return workers is not None or ray_address is not None or store is not None or bool(resume)


def uses_ray(workers: int | None, ray_address: str | None) -> bool:
    return ray_address is not None or (workers is not None and workers > 1)


def model_source(model: Any) -> dict[str, Any]:
    """How a worker loads ``model``: its recorded ``source``; an InputError for a model built in memory."""
    source = getattr(model, "source", None)
    if not source:
        raise InputError(
            f"model {getattr(model, 'name', type(model).__name__)!r} was built in memory (uqcore.wrap or a bare "
            "nn.Module), so Ray workers cannot load it (a module is never pickled and sent): load it with "
            "uqcore.load_model(NAME_OR_PATH) (a bundled name, a model card, or your own model's file / "
            "'package.module:factory' spec), or run without workers (workers=None or 1)")
    return source


# -- fingerprints ----------------------------------------------------------------------------------
def digest(*arrays: Any) -> str:
    """A short content hash of tensors / arrays (shape, dtype and bytes) or nested lists of them."""
    h = hashlib.blake2b(digest_size=12)

    def feed(a: Any) -> None:
        if a is None:
            h.update(b"none")
        elif isinstance(a, (list, tuple)):
            h.update(b"[%d" % len(a))
            for item in a:
                feed(item)
        else:
            t = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
            t = np.ascontiguousarray(t)
            h.update(f"{t.dtype}{t.shape}".encode())
            h.update(t.tobytes())

    for a in arrays:
        feed(a)
    return h.hexdigest()


def unit_id(key: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(key, sort_keys=True, default=str).encode(), digest_size=10).hexdigest()


# -- running units ---------------------------------------------------------------------------------
def run_one(job: Job, model: Any, key: dict[str, Any], data: Any, cache: dict, device: Any,
            raise_errors: bool = False) -> UnitResult:
    """One unit; a bad input (InputError, ModelRunError) becomes a failed unit with its message
    (``raise_errors``: it propagates, as from a plain loop)."""
    try:
        return UnitResult(key=key, status="ok", values=job.run(model, key, data, cache, device))
    except InputError as exc:
        if raise_errors:
            raise
        return UnitResult(key=key, status="error", values=None, error=f"{type(exc).__name__}: {exc}")


def in_order(keys: Sequence[dict[str, Any]], callback: Callable[[UnitResult], None]) -> Callable[[UnitResult], None]:
    """An ``on_result`` for :func:`uqcore.distributed.run_job` that hands the results to
    ``callback`` in the order of ``keys``: Ray finishes units in any order, and a result that
    comes early waits here until those before it are in."""
    uids = [unit_id(k) for k in keys]
    waiting: dict[str, UnitResult] = {}
    position = [0]

    def take(result: UnitResult) -> None:
        waiting[unit_id(result.key)] = result
        while position[0] < len(uids) and uids[position[0]] in waiting:
            callback(waiting.pop(uids[position[0]]))
            position[0] += 1
    return take


