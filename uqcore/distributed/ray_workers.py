"""The Ray side: a session for one run, the worker actor, its resources, handing out units
(see :mod:`uqcore.distributed`). Ray is imported only when a run uses it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from uqcore.distributed.units import Job, UnitResult, import_ray, model_source, run_one
from uqcore.errors import InputError

TASK_RETRIES = 2      # a unit is tried at most 1 + TASK_RETRIES times on workers that die under it
QUEUED_PER_ACTOR = 2  # units handed to each actor ahead, so it never waits for the driver
ENV_PREFIXES = ("UQCORE_",)  # driver variables passed to the workers of a joined cluster
ACTOR_PREFIX = "uqcore-"     # actors are named uqcore-<kind>-<run>-<i> (ray.util.list_named_actors)


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


def ray_units(ray: Any, job: Job, model: Any, keys: Sequence[dict[str, Any]], workers: int | None,
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
