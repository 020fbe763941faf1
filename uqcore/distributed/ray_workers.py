"""The Ray side: a session for one run, the worker actor, its resources, workers kept between
the jobs of one session, handing out units (see :mod:`uqcore.distributed`). Ray is imported only
when a run uses it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from uqcore.distributed.units import Job, UnitResult, import_ray, model_source, run_one
from uqcore.errors import InputError

TASK_RETRIES = 2      # a unit is tried at most 1 + TASK_RETRIES times on workers that die under it
QUEUED_PER_ACTOR = 2  # units handed to each actor ahead, so it never waits for the driver
ENV_PREFIXES = ("UQCORE_",)  # driver variables passed to the workers of a joined cluster
ACTOR_PREFIX = "uqcore-"     # actors are named uqcore-worker-<start>-<i> (ray.util.list_named_actors)


@dataclass(frozen=True)
class Ticket:
    """What a worker needs to run a job's units: the job's id, its model (the source a worker
    loads it from and the weights' fingerprint, so a model rewritten on disk since is loaded
    again) and the job itself in Ray's object store (put once; a ref inside an argument is not
    resolved by Ray, so a worker fetches it only when the job is new to it)."""

    job_id: str
    source: dict[str, Any]
    weights: str
    job: Any = None  # ray.ObjectRef of the Job (None: only load the model)

    @classmethod
    def for_job(cls, ray: Any, job: Job | None, model: Any) -> Ticket:
        from uqcore.engine.model import fingerprint  # lazy: engine is heavy, the Ray side light

        return cls(uuid.uuid4().hex, model_source(model), fingerprint(model), None if job is None else ray.put(job))


class Worker:
    """A Ray actor (``ray.remote(Worker)``) that runs units of any job: it takes a job the first
    time one of its tickets comes, loading the job's model from its source only when it differs
    from the one it holds (so the jobs of one session reuse a loaded model)."""

    def __init__(self, threads: int, device: Any) -> None:
        torch.set_num_threads(int(threads))
        self.device = device
        self.job_id: str | None = None
        self.job: Job | None = None
        self.loaded: tuple | None = None  # (source, weights) of the model held
        self.model, self.error, self.cache = None, None, {}

    def take(self, ticket: Ticket) -> tuple[int, str | None]:
        """Take ``ticket``'s job: (process id, why its model could not be loaded or None)."""
        self._take(ticket)
        return os.getpid(), self.error

    def run(self, ticket: Ticket, key: dict[str, Any], data: Any) -> UnitResult:
        self._take(ticket)  # a no-op but after a restart: a restarted actor starts empty
        if self.error:
            return UnitResult(key=key, status="error", values=None, error=self.error)
        return run_one(self.job, self.model, key, data, self.cache, self.device)

    def pid(self) -> int:
        return os.getpid()

    def _take(self, ticket: Ticket) -> None:
        if ticket.job_id == self.job_id:
            return
        if (ticket.source, ticket.weights) != self.loaded:
            from uqcore.models.registry import load_source  # lazy: only workers load models by source

            self.model, self.error, self.loaded = None, None, (ticket.source, ticket.weights)
            try:
                self.model = load_source(ticket.source)
            except InputError as exc:  # reported by take(); every unit of the job would fail the same way
                self.error = f"{type(exc).__name__}: {exc}"
        if ticket.job is not None:
            import ray

            self.job = ray.get(ticket.job)
        self.job_id, self.cache = ticket.job_id, {}  # a unit's cache holds one job's data


class KeptWorkers:
    """The workers of one session (:func:`keep_workers`): a job that finishes leaves its actors
    here for the next job that asks for as many on the same device; any other request, an
    interrupted job and the session's end stop them."""

    def __init__(self) -> None:
        self.actors: list = []
        self.shape: tuple | None = None

    def stop(self, ray: Any) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors, self.shape = [], None


_KEPT: list[KeptWorkers] = []  # the innermost session's workers (a stack: sessions may nest)


@contextlib.contextmanager
def keep_workers() -> Iterator[KeptWorkers]:
    """Inside: the workers a job started are kept for the next job instead of stopped (Ray
    starts a worker process in seconds; every step of ``reproduce`` runs in one session)."""
    kept = KeptWorkers()
    _KEPT.append(kept)
    try:
        yield kept
    finally:
        _KEPT.remove(kept)
        if kept.actors:
            kept.stop(import_ray())


def _cluster_env() -> dict[str, Any]:
    """The joined cluster's workers get this project on PYTHONPATH and the driver's UQCORE_* variables."""
    root = str(Path(__file__).resolve().parents[2])  # the project folder (uqcore/..)
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {"env_vars": env}


def _cores() -> int:
    """The CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
        ray.init(address="local", num_cpus=max(_cores(), workers), include_dashboard=False, **quiet)
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


def _workers(ray: Any, workers: int, device: Any) -> list:
    """The session's kept workers if they have this shape, else ``workers`` new actors (kept
    ones of another shape are stopped first: they hold the CPUs the new ones need)."""
    options, threads = worker_options(ray, workers, device)
    shape = (workers, str(device), threads, tuple(sorted(options.items())))
    kept = _KEPT[-1] if _KEPT else None
    if kept is not None and kept.actors and kept.shape == shape:
        return kept.actors
    if kept is not None:
        kept.stop(ray)
    actor_class = ray.remote(Worker)
    start = uuid.uuid4().hex[:8]
    actors = [actor_class.options(name=f"{ACTOR_PREFIX}worker-{start}-{i}", **options).remote(threads, device)
              for i in range(workers)]
    if kept is not None:
        kept.actors, kept.shape = actors, shape
    return actors


def _release(ray: Any, actors: list, finished: bool) -> None:
    """After a job: its workers stay for the session's next job if the job finished, else stop."""
    kept = _KEPT[-1] if _KEPT else None
    if kept is not None and kept.actors is actors:
        if not finished:
            kept.stop(ray)  # units of the interrupted job may still be queued on them
        return
    for actor in actors:
        ray.kill(actor)


def ray_units(ray: Any, job: Job, model: Any, keys: Sequence[dict[str, Any]], workers: int | None,
               device: Any) -> Iterator[UnitResult]:
    from ray.exceptions import OutOfMemoryError, RayActorError

    ticket = Ticket.for_job(ray, job, model)  # refuses a model built in memory
    workers = workers or default_workers(ray, device)
    actors = _workers(ray, workers, device)
    finished = False
    try:
        _check_ready(ray, actors, ticket)
        yield from _hand_out(ray, job, keys, actors, ticket, (RayActorError, OutOfMemoryError))
        finished = True
    finally:
        _release(ray, actors, finished)


def _hand_out(ray: Any, job: Job, keys: Sequence[dict[str, Any]], actors: list, ticket: Ticket,
              died: tuple) -> Iterator[UnitResult]:
    """Every unit of ``keys`` on the ``actors``, :data:`QUEUED_PER_ACTOR` queued on each; the
    results as they finish."""
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
        inflight[actors[a].run.remote(ticket, key, data_refs[did])] = (a, key)

    for _ in range(QUEUED_PER_ACTOR):
        for a in range(len(actors)):
            if queue:
                submit(a)
    while inflight:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        a, key = inflight.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except died as exc:
            result = UnitResult(
                key=key,
                status="error",
                values=None,
                error=f"the worker died {1 + TASK_RETRIES} times running this unit "
                f"(out of memory? a crash in the model?): {type(exc).__name__}: {exc}",
            )
        did = job.data_id(key)
        uses[did] -= 1
        if not uses[did]:
            data_refs.pop(did, None)  # its last unit is done: let the object store free it
        if queue:
            submit(a)
        yield result


def _check_ready(ray: Any, actors: list, ticket: Ticket) -> None:
    """Hand the job to the workers and wait for its model; an InputError that says why one could not load it."""
    from ray.exceptions import RayActorError

    try:
        states = ray.get([a.take.remote(ticket) for a in actors])
    except RayActorError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        raise InputError(f"a Ray worker could not start ({lines[-1].strip() if lines else type(exc).__name__}); "
                         "every node needs this project and its Python environment at the same path") from None
    for _, error in states:
        if error:
            raise InputError(f"a Ray worker could not load the model {ticket.source.get('args')}: {error}. "
                             "Every node needs the model's files at the same path (or use a bundled model)")
