"""Scale-out and resumable runs: dataset-level work split into *units*, run in this process or by
Ray actors, each finished unit kept on disk so an interrupted run loses nothing.

Principle 10 of the design: past one machine we use Ray, never a home-made scheduler, and the
serial path stays the embedded default with identical results. ``evaluate`` and ``sweep`` take
``workers=`` / ``ray_address=`` / ``store=`` / ``resume=`` (CLI: ``--workers N``,
``--ray-address ADDRESS`` or ``RAY_ADDRESS``, ``--resume``); without any of them they run their
serial loop unchanged. The owner of each command defines its *job* (what one unit computes);
this module only runs units and keeps them:

**Jobs** (``evaluation.EvaluateJob``, ``tolerability.SweepJob``) are plain picklable objects with

* ``kind`` (a name), ``columns`` (the readable CSV's columns), ``run_info()`` (what every unit of
  a store must agree on: model fingerprint, seed, ... -- checked on ``resume``);
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
of the ``workers`` actors loads the model once from its ``source`` (``load_model`` /
``load_user_model`` arguments recorded on the model -- a module is never pickled and sent; a
model built in memory is refused), sets ``torch.set_num_threads`` to its CPU share
(cluster CPUs // workers, at least 1) and asks for ``num_gpus`` = GPUs / workers (at most 1)
when the cluster has GPUs and ``device`` is not "cpu". The job (images included) goes to the
object store once. Units are handed out with plain actor calls and ``ray.wait``, two queued per
actor. An actor that dies (killed, out of memory) is restarted by Ray (``max_restarts=-1``) and
its units retried (``max_task_retries`` = :data:`TASK_RETRIES`); a unit that kills its worker
every time is reported as failed. A unit that raises an :class:`~uqcore.errors.InputError`
(a bad input; ``ModelRunError`` included) is reported with its message and the run goes on.

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
first. A line cut short by a kill, or one whose arrays are missing, does not count as done.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import sys
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from uqcore.errors import InputError

RAY_PIN = "ray==2.60.0"
INSTALL_HINT = f'pip install "{RAY_PIN}"'
TASK_RETRIES = 2      # a unit is tried at most 1 + TASK_RETRIES times on workers that die under it
QUEUED_PER_ACTOR = 2  # units handed to each actor ahead, so it never waits for the driver
ENV_PREFIXES = ("UQCORE_",)  # driver variables passed to the workers of a joined cluster
ACTOR_PREFIX = "uqcore-"     # actors are named uqcore-<kind>-<run>-<i> (ray.util.list_named_actors)

Progress = Callable[[int, int], None]


class Job(Protocol):
    kind: str
    columns: Sequence[str]

    def keys(self) -> list[dict[str, Any]]: ...
    def run_info(self) -> dict[str, Any]: ...
    def data_id(self, key: dict[str, Any]) -> Any: ...
    def data(self, data_id: Any) -> Any: ...
    def run(self, model: Any, key: dict[str, Any], data: Any, cache: dict, device: Any) -> dict[str, Any]: ...
    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]: ...


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


def model_fingerprint(model: Any) -> str:
    """The model's name, task, scale and a hash of every member's parameters and buffers."""
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{model.name}|{model.task}|{model.scale}|{model.output}".encode())
    for member in model.members:
        for name, t in list(member.state_dict().items()):
            h.update(name.encode())
            h.update(np.ascontiguousarray(t.detach().cpu().float().numpy() if t.is_floating_point()
                                          else t.detach().cpu().numpy()).tobytes())
    return h.hexdigest()


def unit_id(key: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(key, sort_keys=True, default=str).encode(), digest_size=10).hexdigest()


# -- the store -------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"cannot store {type(value).__name__} in a unit record")


def _split_arrays(values: Any, arrays: dict[str, np.ndarray], path: str = "") -> Any:
    """``values`` with every numpy array replaced by {"__array__": name}; arrays collected."""
    if isinstance(values, dict):
        return {k: _split_arrays(v, arrays, f"{path}/{k}") for k, v in values.items()}
    if isinstance(values, np.ndarray):
        arrays[path] = values
        return {"__array__": path}
    if isinstance(values, torch.Tensor):
        arrays[path] = values.detach().cpu().numpy()
        return {"__array__": path}
    return values


def _join_arrays(values: Any, arrays: Any) -> Any:
    if isinstance(values, dict):
        if set(values) == {"__array__"}:
            return arrays[values["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in values.items()}
    return values


def _cell(v: Any) -> Any:
    return "" if v is None else v


class Store:
    """A run's folder: ``run.json``, ``units.jsonl``, ``scores/`` and the readable CSV (``rows``,
    default ``folder/rows.csv``). See the module docstring."""

    def __init__(self, folder: str | Path, rows: str | Path | None = None) -> None:
        self.folder = Path(folder)
        self.rows_path = Path(rows) if rows is not None else self.folder / "rows.csv"
        self.units_path = self.folder / "units.jsonl"
        self.scores = self.folder / "scores"
        self._units = self._rows = self._writer = None
        self._job: Any = None

    # reading
    def _read(self) -> tuple[dict[str, UnitResult], dict[str, str]]:
        """({uid: result}, {uid: its JSON line}) of the units kept; the last line of a unit wins."""
        done: dict[str, UnitResult] = {}
        lines: dict[str, str] = {}
        if not self.units_path.exists():
            return done, lines
        with self.units_path.open() as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    uid = rec["uid"]
                    result = UnitResult(rec["key"], rec["status"], rec.get("values"), rec.get("error"))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill: that unit is not done
                if rec.get("arrays"):
                    npz = self.scores / f"{uid}.npz"
                    if not npz.exists():
                        continue
                    with np.load(npz) as data:
                        result.values = _join_arrays(result.values, {k: data[k] for k in data.files})
                done[uid] = result
                lines[uid] = line if line.endswith("\n") else line + "\n"
        return done, lines

    def open(self, job: Job, keys: Sequence[dict[str, Any]], resume: bool) -> dict[str, UnitResult]:
        """Start (or, with ``resume``, continue) the run of ``job``; the units of ``keys`` already done."""
        info = {"kind": job.kind, **job.run_info()}
        info = json.loads(json.dumps(info, default=_jsonable))
        run_json = self.folder / "run.json"
        if resume and run_json.exists():
            old = json.loads(run_json.read_text())
            diff = [k for k in sorted(set(old) | set(info)) if old.get(k) != info.get(k)]
            if diff:
                raise InputError(
                    f"{self.folder} holds a run with another {', '.join(diff)} "
                    f"({'; '.join(f'{k}: {old.get(k)!r} there, {info.get(k)!r} now' for k in diff)}); "
                    "resume it with the same settings, or use another output (or drop --resume to start afresh)")
        self.folder.mkdir(parents=True, exist_ok=True)
        if not resume:
            self.units_path.unlink(missing_ok=True)
            shutil.rmtree(self.scores, ignore_errors=True)
        run_json.write_text(json.dumps(info, indent=1))
        wanted = {unit_id(k) for k in keys}
        kept, lines = self._read()
        done = {uid: r for uid, r in kept.items() if uid in wanted and r.ok}
        # units.jsonl rewritten with only the units kept (no half-written line, no stale failure)
        tmp = self.units_path.with_name(self.units_path.name + ".tmp")
        tmp.write_text("".join(lines[uid] for uid in kept if kept[uid].ok))
        os.replace(tmp, self.units_path)
        self._job = job
        self.rows_path.parent.mkdir(parents=True, exist_ok=True)
        self._write_rows([done[unit_id(k)] for k in keys if unit_id(k) in done])
        self._units = self.units_path.open("a")
        return done

    # writing
    def _write_rows(self, results: Sequence[UnitResult]) -> None:
        if self._rows is not None:
            self._rows.close()
        tmp = self.rows_path.with_name(self.rows_path.name + ".tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(self._job.columns), extrasaction="ignore")
            writer.writeheader()
            for r in results:
                for row in self._job.rows(r.key, r.values, r.error):
                    writer.writerow({k: _cell(v) for k, v in row.items()})
        os.replace(tmp, self.rows_path)
        self._rows = self.rows_path.open("a", newline="")
        self._writer = csv.DictWriter(self._rows, fieldnames=list(self._job.columns), extrasaction="ignore")

    def add(self, result: UnitResult) -> None:
        """Keep one finished unit: arrays first (atomically), then its line, then its readable rows."""
        uid = unit_id(result.key)
        arrays: dict[str, np.ndarray] = {}
        values = _split_arrays(result.values, arrays)
        if arrays:
            self.scores.mkdir(exist_ok=True)
            tmp = self.scores / f"{uid}.tmp.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, self.scores / f"{uid}.npz")
        rec = {"uid": uid, "key": result.key, "status": result.status, "error": result.error,
               "values": values, "arrays": bool(arrays)}
        self._units.write(json.dumps(rec, default=_jsonable) + "\n")
        self._units.flush()
        for row in self._job.rows(result.key, result.values, result.error):
            self._writer.writerow({k: _cell(v) for k, v in row.items()})
        self._rows.flush()

    def close(self, results: Sequence[UnitResult] | None = None) -> None:
        """Rewrite the readable CSV in key order (when ``results`` are given) and close the files."""
        if results is not None and self._job is not None:
            self._write_rows(results)
        for fh in (self._units, self._rows):
            if fh is not None:
                fh.close()
        self._units = self._rows = self._writer = None


# -- running units ---------------------------------------------------------------------------------
def run_one(job: Job, model: Any, key: dict[str, Any], data: Any, cache: dict, device: Any) -> UnitResult:
    """One unit; a bad input (InputError, ModelRunError) becomes a failed unit with its message."""
    try:
        return UnitResult(key, "ok", job.run(model, key, data, cache, device))
    except InputError as exc:
        return UnitResult(key, "error", None, f"{type(exc).__name__}: {exc}")


class Worker:
    """A Ray actor (``ray.remote(Worker)``): loads the model once from its source and runs units."""

    def __init__(self, source: dict[str, Any], threads: int, job: Job, device: Any) -> None:
        from uqcore.models.registry import load_source  # lazy: only workers load models by source

        torch.set_num_threads(int(threads))
        self.job, self.device, self.cache = job, device, {}
        self.model, self.error = None, None
        try:
            self.model = load_source(source)
        except InputError as exc:  # reported by ready(); a restart would fail the same way
            self.error = f"{type(exc).__name__}: {exc}"

    def ready(self) -> tuple[int, str | None]:
        """(process id, why the model could not be loaded or None)."""
        return os.getpid(), self.error

    def run(self, key: dict[str, Any], data: Any) -> UnitResult:
        return run_one(self.job, self.model, key, data, self.cache, self.device)

    def pid(self) -> int:
        return os.getpid()


def _cluster_env() -> dict[str, Any]:
    """The joined cluster's workers get this project on PYTHONPATH and the driver's UQCORE_* variables."""
    root = str(Path(__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {"env_vars": env}


@contextlib.contextmanager
def ray_session(workers: int, ray_address: str | None) -> Iterator[Any]:
    """Ray for one run: the caller's session if ``ray.init`` was already called (left running),
    else a cluster joined at ``ray_address``, else a local Ray with max(cores, workers) CPUs;
    what is started here is shut down after."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet = dict(logging_level="ERROR", log_to_driver=True, configure_logging=True)
    if ray_address is not None:
        ray.init(address=ray_address, runtime_env=_cluster_env(), **quiet)
    else:
        ray.init(address="local", num_cpus=max(os.cpu_count() or 1, workers), include_dashboard=False, **quiet)
    try:
        yield ray
    finally:
        ray.shutdown()


def worker_options(ray: Any, workers: int, device: Any) -> tuple[dict[str, Any], int]:
    """(actor options, threads per worker) from the cluster's CPUs and GPUs (see the module docstring)."""
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 1.0)), float(resources.get("GPU", 0.0))
    share = cpus / workers
    threads = max(1, int(share))
    options: dict[str, Any] = {"num_cpus": min(float(threads), share), "max_restarts": -1,
                               "max_task_retries": TASK_RETRIES}
    if gpus > 0 and not (device is not None and str(device).startswith("cpu")):
        options["num_gpus"] = min(1.0, gpus / workers)
    return options, threads


def default_workers(ray: Any, device: Any) -> int:
    """Workers when only an address is given: one per GPU of the cluster, else one per CPU."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus and not (device is not None and str(device).startswith("cpu")):
        return gpus
    return max(1, int(resources.get("CPU", 1)))


def _ray_units(ray: Any, job: Job, model: Any, keys: Sequence[dict[str, Any]], workers: int | None,
               device: Any) -> Iterator[UnitResult]:
    from ray.exceptions import OutOfMemoryError, RayActorError

    source = model_source(model)
    workers = workers or default_workers(ray, device)
    options, threads = worker_options(ray, workers, device)
    actor_class = ray.remote(Worker)
    run = uuid.uuid4().hex[:8]
    actors = [actor_class.options(name=f"{ACTOR_PREFIX}{job.kind}-{run}-{i}", **options)
              .remote(source, threads, job, device) for i in range(workers)]
    try:
        _check_ready(ray, actors, source)
    except BaseException:
        for actor in actors:
            ray.kill(actor)
        raise
    queue = deque(keys)
    inflight: dict[Any, tuple[int, dict[str, Any]]] = {}
    data_refs: dict[Any, Any] = {}
    uses: dict[Any, int] = {}
    for key in keys:
        uses[job.data_id(key)] = uses.get(job.data_id(key), 0) + 1

    def submit(a: int) -> None:
        key = queue.popleft()
        did = job.data_id(key)
        if did not in data_refs:
            data_refs[did] = ray.put(job.data(did))
        inflight[actors[a].run.remote(key, data_refs[did])] = (a, key)

    for _ in range(QUEUED_PER_ACTOR):
        for a in range(len(actors)):
            if queue:
                submit(a)
    try:
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1)
            a, key = inflight.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except (RayActorError, OutOfMemoryError) as exc:
                result = UnitResult(key, "error", None,
                                    f"the worker died {1 + TASK_RETRIES} times running this unit "
                                    f"(out of memory? a crash in the model?): {type(exc).__name__}: {exc}")
            did = job.data_id(key)
            uses[did] -= 1
            if not uses[did]:
                data_refs.pop(did, None)  # its last unit is done: let the object store free it
            if queue:
                submit(a)
            yield result
    finally:
        for actor in actors:
            ray.kill(actor)


def _check_ready(ray: Any, actors: list, source: dict[str, Any]) -> None:
    """Wait for the workers to load the model; an InputError that says why one could not."""
    from ray.exceptions import RayActorError

    try:
        states = ray.get([a.ready.remote() for a in actors])
    except RayActorError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        raise InputError(f"a Ray worker could not start ({lines[-1].strip() if lines else type(exc).__name__}); "
                         "every node needs this project and its Python environment at the same path") from None
    for _, error in states:
        if error:
            raise InputError(f"a Ray worker could not load the model {source.get('args')}: {error}. "
                             "Every node needs the model's files at the same path (or use a bundled model)")


def run_job(job: Job, model: Any, *, workers: int | None = None, ray_address: str | None = None,
            device: Any = None, store: Store | str | Path | None = None, resume: bool = False,
            progress: Progress | None = None, on_result: Callable[[UnitResult], None] | None = None
            ) -> list[UnitResult]:
    """Run every unit of ``job`` (see the module docstring); the results in ``job.keys()`` order.

    ``progress(done, total)`` after each unit (units found in the store count as done at the
    start); ``on_result(result)`` for each unit as it finishes (kept ones first, in key order)."""
    workers = check_workers(workers)
    if resume and store is None:
        raise InputError("resume=True needs store= (the folder of the run to resume)")
    keys = job.keys()
    uids = [unit_id(k) for k in keys]
    if len(set(uids)) != len(uids):
        raise InputError("two units of this run have the same key (the same image twice under one name?)")
    if store is not None and not isinstance(store, Store):
        store = Store(store)
    done: dict[str, UnitResult] = store.open(job, keys, resume) if store is not None else {}
    total = len(keys)
    try:
        if on_result is not None:
            for uid in uids:
                if uid in done:
                    on_result(done[uid])
        if progress is not None:
            progress(len(done), total)
        pending = [k for k, uid in zip(keys, uids) if uid not in done]
        if pending:
            units = contextlib.closing(_execute(job, model, pending, workers, ray_address, device))
            with units as stream:  # closed at once on an interruption: workers stopped, Ray shut down
                for result in stream:
                    done[unit_id(result.key)] = result
                    if store is not None:
                        store.add(result)
                    if on_result is not None:
                        on_result(result)
                    if progress is not None:
                        progress(len(done), total)
        results = [done[uid] for uid in uids]
    except BaseException:
        if store is not None:
            store.close()
        raise
    if store is not None:
        store.close(results)
    return results


def _execute(job: Job, model: Any, keys: list[dict[str, Any]], workers: int | None, ray_address: str | None,
             device: Any) -> Iterator[UnitResult]:
    if ray_address is None and workers is not None:
        ray_address = os.environ.get("RAY_ADDRESS") or None  # Ray's own rule, once workers are asked for
    if not uses_ray(workers, ray_address):
        cache: dict = {}
        for key in keys:
            yield run_one(job, model, key, job.data(job.data_id(key)), cache, device)
        return
    model_source(model)  # refuse an in-memory model before starting Ray
    with ray_session(workers or 1, ray_address) as ray:
        yield from _ray_units(ray, job, model, keys, workers, device)


def warn_failed(results: Sequence[UnitResult], where: str | None = None) -> None:
    """One line on stderr per failed unit (the first few), and where the full list is."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return
    print(f"{len(failed)} of {len(results)} unit(s) failed and are left out of the summary"
          + (f"; their errors are in {where}" if where else "") + ":", file=sys.stderr)
    for r in failed[:5]:
        print(f"  {r.key}: {r.error}", file=sys.stderr)


# -- the command line --------------------------------------------------------------------------------
def add_cli_options(parser: Any) -> None:
    """``--workers N``, ``--ray-address ADDRESS`` and ``--resume`` for a dataset-level command."""
    group = parser.add_argument_group("scale-out (Ray) and resume")
    group.add_argument("--workers", type=int, metavar="N",
                       help="run the per-image work on N Ray worker processes (a local Ray started for the run, "
                            "or the cluster of --ray-address); results are the serial run's")
    group.add_argument("--ray-address", metavar="ADDRESS",
                       help="join an existing Ray cluster (e.g. auto, 10.0.0.5:6379, ray://head:10001); default: "
                            "the RAY_ADDRESS variable. Nodes need this project and the model's files at the same paths")
    group.add_argument("--resume", action="store_true",
                       help="continue the run kept next to --out (in <out>_run/): finished units are not run again")


def cli_options(args: Any, rows: str) -> dict[str, Any]:
    """evaluate/sweep keyword arguments from the flags of :func:`add_cli_options`; {} (the serial
    path) when none is given and RAY_ADDRESS is unset. With ``--out DIR/NAME.ext`` the run is kept
    in ``DIR/NAME_run/`` and its readable rows go to ``DIR/NAME_images.csv`` (``rows="images"``)
    or to the ``--out`` CSV itself (``rows="out"``; ``DIR/NAME_run/rows.csv`` for a JSON --out)."""
    workers = check_workers(args.workers)
    ray_address = args.ray_address or os.environ.get("RAY_ADDRESS") or None
    if workers is None and ray_address is None and not args.resume:
        return {}
    store = None
    if args.out:
        out = Path(args.out)
        folder = out.with_name(out.stem + "_run")
        if rows == "images":
            store = Store(folder, out.with_name(out.stem + "_images.csv"))
        else:
            store = Store(folder, out if out.suffix.lower() == ".csv" else None)
    elif args.resume:
        raise InputError("--resume needs --out: a run is kept next to its output file (in <out>_run/)")
    if uses_ray(workers, ray_address):
        where = f"the Ray cluster at {ray_address}" if ray_address else "a local Ray started for this run"
        print(f"{workers or 'one per GPU (else CPU) of the cluster:'} worker(s) on {where}", file=sys.stderr)
    return {"workers": workers, "ray_address": ray_address, "store": store, "resume": bool(args.resume)}
