"""The paper run's tables as units: :func:`uqcore.paper.run.score_columns`'s per-image estimates
run by :func:`uqcore.distributed.run_job` (in this process by default, or on Ray workers with
``workers`` / ``ray_address``), then summarised by the one scorer.

A unit is one engine method, sample count and image of one *part* of the split: ``cal`` (the
σ-scaling and the error bars are fitted on it), ``test`` (scored) or ``heldout`` (held-out
calibration images of the error bars). A test unit is :class:`uqcore.datasets.evaluate.EvaluateJob`'s
(the estimate and each variant's :class:`~uqcore.scoring.scorer.ImageScore`); a calibration or held-out
unit returns each variant's signed residuals and variances in float64
(:func:`uqcore.scoring.scorer.residual_vectors`), what :meth:`Scorer.add_fit_image` keeps. Every
estimate uses the run's seed; the summary takes the per-image results in image order, so the
rows are the same wherever the units ran (all but the wall times)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from uqcore import distributed
from uqcore.calibration.fit import Vectors
from uqcore.datasets.evaluate import IMAGE_COLUMNS, EvaluateJob, method_plan
from uqcore.scoring.scorer import ImageScore, Scorer, prepare_target, residual_vectors
from uqcore.progress import Progress

PARTS = ("cal", "test", "heldout")


class TableJob(EvaluateJob):
    """The units of one table: :class:`EvaluateJob` with per-engine sample counts and a ``part``
    in every key (see the module docstring)."""

    kind = "paper-table"
    columns = (*IMAGE_COLUMNS, "part")

    def __init__(self, model: Any, parts: Sequence[tuple[str, Sequence[str], Sequence[tuple[Any, Any]]]],
                 plan: list, settings: dict, samples: dict[str, tuple[int, ...]], seed: int, patch: int,
                 steps: int) -> None:
        names = [f"{part}:{name}" for part, part_names, _ in parts for name in part_names]
        pairs = [p for _, _, part_pairs in parts for p in part_pairs]
        targets = [prepare_target(model.task, t) for _, t in pairs]
        counts = sorted({int(n) for engine, _ in plan for n in samples[engine]})
        super().__init__(model, names, pairs, targets, plan, settings, counts, seed, patch, steps)
        self.part = [part for part, part_names, _ in parts for _ in part_names]
        self.samples = {engine: [int(n) for n in samples[engine]] for engine, _ in plan}

    def key(self, engine: str, n: int | str, i: int) -> dict[str, Any]:
        return {**super().key(engine, n, i), "part": self.part[i]}

    def keys(self) -> list[dict[str, Any]]:
        return [self.key(engine, n, i) for engine, _ in self.plan for n in self.samples[engine]
                for i in range(len(self.names))]

    def score(self, model: Any, key: dict[str, Any], est: Any, label: str, prediction: Any, target: Any,
              cache: dict) -> dict[str, Any]:
        if key["part"] == "test":
            return super().score(model, key, est, label, prediction, target, cache)
        res, v = residual_vectors(model, prediction, est.variance, target)
        return {"res": res, "var": v}

    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]:
        if key["part"] == "test" or values is None:
            return [dict(r, part=key["part"]) for r in super().rows(key, values, error)]
        base = {"samples": key["samples"], "image": key["image"], "index": self.data_id(key), "layer": key["layer"],
                "strength": key["strength"], "seed": self.seed, "part": key["part"]}
        return [{"method": label, **base} for label in values]


def table_scorers(model: Any, cal_pairs: Sequence[tuple[Any, Any]], test_pairs: Sequence[tuple[Any, Any]],
                  interval_pairs: Sequence[tuple[Any, Any]], methods: Sequence[str],
                  samples: dict[str, tuple[int, ...]], settings: dict[str, tuple[Any, Any]], seed: int,
                  device: Any, progress: Progress | None, *, patch: int, steps: int,
                  workers: int | None, ray_address: str | None, store: Any = None
                  ) -> Iterator[tuple[str, int, str, Scorer, list[Vectors]]]:
    """(engine, samples, variant, its Scorer, its held-out residual vectors) for every column in
    the table's order: the scorer has the calibration images (float64 residuals) and the scored
    test images, from the :class:`TableJob` units run by :func:`uqcore.distributed.run_job` --
    here, in order, by default (a bad input raises), or on Ray with ``workers`` / ``ray_address``
    (an InputError then names the images that failed: a table needs all of them).
    ``settings``: {engine: (layer, strength)}. ``store``: a run folder that keeps every unit as it
    finishes; the units already there are not run again (resume)."""
    plan = method_plan(model, list(methods))
    parts = [("cal", [f"{i}" for i in range(len(cal_pairs))], cal_pairs),
             ("test", [f"{i}" for i in range(len(test_pairs))], test_pairs),
             ("heldout", [f"{i}" for i in range(len(interval_pairs))], interval_pairs)]
    job = TableJob(model, parts, plan, settings, samples, seed, patch, steps)
    results = distributed.run_job(job, model, workers=workers, ray_address=ray_address, device=device,
                                  progress=progress, raise_errors=workers is None and ray_address is None,
                                  store=store, resume=store is not None)
    values = iter(distributed.pair_values(results, f"table {model.name}"))  # every image ok, in key order
    for engine, variants in plan:
        for n in samples[engine]:
            units = [next(values) for _ in job.part]
            for label, _ in variants:
                scorer = Scorer(model, patch=patch, steps=steps)
                for unit, part in zip(units, job.part):
                    if part == "cal":
                        scorer.add_fit_residuals(unit[label]["res"], unit[label]["var"])
                scorer.merge(ImageScore.from_values(u[label]) for u, part in zip(units, job.part) if part == "test")
                held = [(u[label]["res"], u[label]["var"]) for u, part in zip(units, job.part) if part == "heldout"]
                yield engine, int(n), label, scorer, held
