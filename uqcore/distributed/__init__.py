"""Scale-out and resumable runs: dataset-level work split into *units*, run in this process or by
Ray actors, each finished unit kept on disk so an interrupted run loses nothing.

Principle 10 of the design: past one machine we use Ray, never a home-made scheduler, and the
serial path stays the embedded default with identical results (``reproduce`` runs its sweeps and
tables on the same machinery, in one :func:`session`). ``evaluate``, ``sweep`` and ``calibrate`` take
``workers=`` / ``ray_address=`` / ``store=`` / ``resume=`` (CLI: ``--workers N``,
``--ray-address ADDRESS`` or ``RAY_ADDRESS``, ``--resume``); without any of them ``evaluate``
and the paper tables run the same units here, in order (``raise_errors``: a bad input raises as
from a plain loop), and ``sweep`` / ``calibrate`` their serial loop, whose body is their unit's.
The owner of each command defines its *job* (what one unit computes); this module only runs
units and keeps them:

**Jobs** (``datasets.evaluate.EvaluateJob``, ``datasets.sweep.SweepJob``, and :class:`PairJob` -- one unit
per (input, target) pair, e.g. ``calibrate``'s per-pair statistics, run by :func:`map_pairs`) are
plain picklable objects with

* ``kind`` (a name), ``columns`` (the readable CSV's columns), ``run_info()`` (what every unit of
  a store must agree on: the model's identity (:func:`uqcore.engine.model.model_identity`), seed, ... -- checked on ``resume``);
* ``keys()``: every unit's key, a JSON-able dict, in the order results are reported. A key
  names everything that decides the unit's result (method, layer, strength, samples and a
  digest of the image and target), so a resumed unit is only reused for the same work;
* ``data_id(key)`` / ``data(data_id)``: the unit's input data (e.g. one image and its target)
  and an id shared by the units that use the same data. Data travel per unit (each distinct
  data put in Ray's object store once, released when its last unit is done), never with the
  job: a job pickles without its data, so every worker holds only what it is working on;
* ``run(model, key, data, cache, device)``: the unit's values (a dict; numpy arrays allowed,
  nested dicts allowed). ``cache`` is a dict that lives as long as the worker (e.g. superpixels);
* ``rows(key, values, error)``: the unit's readable rows (``values`` is None for a failed unit).

**Where units run** (:func:`run_job`): ``workers`` None or 1 without ``ray_address``: in this
process, in key order (no Ray needed). Otherwise Ray: a local Ray started for the run
(``ray.init(address="local", num_cpus=max(cores, workers))``, shut down after) or, with
``ray_address`` ("auto", "ray://host:10001", "host:6379"), an existing cluster joined as a
client; if the caller already called ``ray.init`` that session is used and left running. Each
of the ``workers`` actors sets ``torch.set_num_threads`` to its CPU share (cluster CPUs //
workers, at least 1), asks for ``num_gpus`` = GPUs / workers (at most 1) when the cluster has
GPUs and ``device`` is not "cpu", and loads the model once from its ``source`` (``load_model`` /
``load_user_model`` arguments recorded on the model -- a module is never pickled and sent; a
model built in memory is refused); a worker that cannot load the model stops the run before any
unit with an InputError saying why. The job (without its data) goes to each worker once; each
unit's data is put in the object store once. Inside one :func:`session` (every step of
``reproduce``) the actors outlive their job: the next job that asks for as many workers on the
same device runs on them (a worker loads that job's model only if it is another one), an
interrupted job stops them, and so does the session's end. Units are handed out with plain
actor calls and ``ray.wait``, two queued per actor. An actor that dies (killed, out of memory)
is restarted by Ray (``max_restarts=-1``) and its units retried (``max_task_retries`` =
:data:`TASK_RETRIES`); a unit that kills its worker every time is reported as failed. A unit
that raises an :class:`~uqcore.errors.InputError` (a bad input; ``ModelRunError`` included) is
reported with its message and the run goes on.

**The store** (:class:`Store`, a folder; the CLI puts it at ``<out>_run/`` next to ``--out``):

* ``run.json``: the job's kind and ``run_info()``; ``resume`` refuses a store whose run info
  differs (another model, seed, ...), naming the field.
* ``units.jsonl``: one JSON line per finished unit, appended (and flushed) as it finishes:
  ``{"uid", "key", "status": "ok" | "error", "error", "values"}``. Floats are written with
  ``repr`` so they read back bit-identical; arrays are replaced by references into
  ``scores/<uid>.npz`` (written first, atomically). The unit id is a hash of the key.
* the readable CSV (``rows.csv`` in the folder unless the caller names another file, e.g.
  ``<out>_images.csv``): ``rows()`` of every finished unit, appended as it finishes, rewritten
  in key order when the run starts (from the units kept) and when it ends.

With ``resume=True`` the units of this run that are already in ``units.jsonl`` with status
"ok" are not run again (failed units are retried); without it an existing store is emptied
first. A line cut short by a kill, or one whose arrays are missing, does not count as done;
opening a store rewrites ``units.jsonl`` with the units kept, one line each.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from uqcore.distributed.ray_workers import (
    ACTOR_PREFIX,
    TASK_RETRIES,
    KeptWorkers,
    Ticket,
    Worker,
    default_workers,
    keep_workers,
    ray_session,
    ray_units,
    worker_options,
)
from uqcore.distributed.pairs import PAIR_COLUMNS, PairJob, pair_values
from uqcore.distributed.store import Store
from uqcore.distributed.units import (
    INSTALL_HINT,
    RAY_PIN,
    Job,
    UnitData,
    UnitResult,
    check_workers,
    digest,
    import_ray,
    in_order,
    model_source,
    run_one,
    unit_id,
    uses_ray,
    uses_units,
)
from uqcore.errors import InputError
from uqcore.progress import Progress

__all__ = [
    "ACTOR_PREFIX", "INSTALL_HINT", "RAY_PIN", "TASK_RETRIES", "Job", "KeptWorkers", "Store", "Ticket", "UnitData",
    "UnitResult", "Worker",
    "PAIR_COLUMNS", "PairJob",
    "check_workers", "default_workers", "digest", "import_ray", "in_order", "keep_workers", "map_pairs",
    "model_source", "pair_values", "ray_session", "resolve_address", "run_job", "session", "run_one", "unit_id", "uses_ray", "uses_units",
    "worker_options",
]



def run_job(job: Job, model: Any, *, workers: int | None = None, ray_address: str | None = None,
            device: Any = None, store: Store | str | Path | None = None, resume: bool = False,
            progress: Progress | None = None, on_result: Callable[[UnitResult], None] | None = None,
            raise_errors: bool = False, keep_values: bool = True) -> list[UnitResult]:
    """Run every unit of ``job`` (see the module docstring); the results in ``job.keys()`` order.

    ``progress(done, total)`` after each unit (units found in the store count as done at the
    start); ``on_result(result)`` for each unit as it finishes (kept ones first, in key order;
    :func:`in_order` keeps key order throughout). ``raise_errors``: in this process, a unit's
    InputError propagates at once instead of making a failed unit (the embedded default of
    ``evaluate`` and the paper tables: a bad input stops the run, as from a plain loop).
    ``keep_values=False`` (without a store): each result's values go to ``on_result`` only and
    are not kept (the results returned carry keys, statuses and errors), so a caller that
    summarises as results come in holds no more than it needs."""
    workers = check_workers(workers)
    if resume and store is None:
        raise InputError("resume=True needs store= (the folder of the run to resume)")
    keys = job.keys()
    uids = [unit_id(k) for k in keys]
    # the store and Ray track units by id; a plain run here may repeat a unit (it gives the same result)
    if len(set(uids)) != len(uids) and (store is not None or uses_ray(workers, resolve_address(workers, ray_address))):
        raise InputError("two units of this run have the same key (the same image twice under one name?)")
    if store is not None and not isinstance(store, Store):
        store = Store(store)
    done: dict[str, UnitResult] = store.open(job, keys, resume) if store is not None else {}
    total, count = len(keys), len(done)
    release = not keep_values and store is None and on_result is not None
    try:
        if on_result is not None:
            for uid in uids:
                if uid in done:
                    on_result(done[uid])
        if progress is not None:
            progress(len(done), total)
        pending = [k for k, uid in zip(keys, uids) if uid not in done]
        if pending:
            units = contextlib.closing(_execute(job, model, pending, workers, ray_address, device, raise_errors))
            with units as stream:  # closed at once on an interruption: workers stopped, Ray shut down
                for result in stream:
                    count += 1
                    done[unit_id(result.key)] = result
                    if store is not None:
                        store.add(result)
                    if on_result is not None:
                        on_result(result)
                    if release:
                        done[unit_id(result.key)] = UnitResult(
                            key=result.key, status=result.status, values=None, error=result.error
                        )
                    if progress is not None:
                        progress(count, total)
        results = [done[uid] for uid in uids]
    except BaseException:
        if store is not None:
            store.close()
        raise
    if store is not None:
        store.close(results)
    return results


def map_pairs(fn: Callable[..., dict[str, Any]], model: Any, names: Sequence[str], pairs: Sequence[tuple[Any, Any]],
              params: dict[str, Any], *, kind: str, workers: int | None = None, ray_address: str | None = None,
              device: Any = None, store: Store | str | Path | None = None, resume: bool = False,
              progress: Progress | None = None) -> list[dict[str, Any]]:
    """``[fn(model, x, t, index=i, device=device, **params) for i, (x, t) in enumerate(pairs)]``
    as the units of a :class:`~uqcore.distributed.pairs.PairJob` (here, or on Ray workers; kept in
    ``store``); an InputError naming the pairs that failed (a bad input), after the others ran."""
    job = PairJob(kind, fn, model, names, pairs, params)
    results = run_job(job, model, workers=workers, ray_address=ray_address, device=device, store=store,
                      resume=resume, progress=progress)
    return pair_values(results, kind)


def resolve_address(workers: int | None, ray_address: str | None) -> str | None:
    """``ray_address``, else the ``RAY_ADDRESS`` variable once workers are asked for (Ray's own
    rule; so embedding code never goes distributed because of a variable alone)."""
    if ray_address is None and workers is not None:
        return os.environ.get("RAY_ADDRESS") or None
    return ray_address


@contextlib.contextmanager
def session(workers: int | None, ray_address: str | None) -> Iterator[None]:
    """One Ray session around several jobs (e.g. every step of ``reproduce``): started here when
    ``workers`` / ``ray_address`` ask for Ray and none is running, shut down after; the jobs run
    inside use it (:func:`ray_session` keeps a running session) and its workers
    (:func:`keep_workers`: stopped at the end, also in a session the caller started). Nothing
    without Ray options."""
    workers = check_workers(workers)
    ray_address = resolve_address(workers, ray_address)
    if not uses_ray(workers, ray_address):
        yield
        return
    with ray_session(workers or 1, ray_address), keep_workers():
        yield


def _execute(job: Job, model: Any, keys: list[dict[str, Any]], workers: int | None, ray_address: str | None,
             device: Any, raise_errors: bool = False) -> Iterator[UnitResult]:
    ray_address = resolve_address(workers, ray_address)
    if not uses_ray(workers, ray_address):
        cache: dict = {}
        for key in keys:
            yield run_one(job, model, key, job.data(job.data_id(key)), cache, device, raise_errors)
        return
    model_source(model)  # refuse an in-memory model before starting Ray
    with ray_session(workers or 1, ray_address) as ray:
        yield from ray_units(ray, job, model, keys, workers, device)
