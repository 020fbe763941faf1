"""The paper run's tables as units (issue 18): :func:`uqcore.paper.run.score_columns` with
``workers`` / ``ray_address``, its per-image estimates run by :func:`uqcore.distributed.run_job`
(in this process or on Ray workers) and summarised exactly as the serial loop does.

A unit is one engine method, sample count and image of one *part* of the split: ``cal`` (the
σ-scaling and the error bars are fitted on it), ``test`` (scored) or ``heldout`` (held-out
calibration images of the error bars). A test unit is :class:`uqcore.datasets.evaluate.EvaluateJob`'s
(the estimate and each variant's :class:`~uqcore.scoring.scorer.ImageScore`); a calibration or held-out
unit returns each variant's signed residuals and variances in float64
(:func:`uqcore.scoring.scorer.residual_vectors`), what :meth:`Scorer.add_calibration` keeps. Every
estimate uses the run's seed, as in the serial loop; the summary puts the per-image results back
in image order, so the rows are the serial run's (all but the wall times)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from uqcore import distributed
from uqcore.calibration.fit import Vectors
from uqcore.datasets.evaluate import IMAGE_COLUMNS, EvaluateJob, method_plan
from uqcore.engine.estimate import estimate
from uqcore.scoring.scorer import ImageScore, Scorer, prepare_target, residual_vectors

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

    def run(self, model: Any, key: dict[str, Any], data: tuple[Any, Any], cache: dict, device: Any) -> dict[str, Any]:
        if key["part"] == "test":
            return super().run(model, key, data, cache, device)
        x, target = data
        est = estimate(model, x, method=key["method"], layer=key["layer"], strength=key["strength"],
                       samples=key["samples"], seed=self.seed, device=device)
        out = {}
        for label, source in self.variants[key["method"]]:
            res, v = residual_vectors(model, getattr(est, source), est.variance, target)
            out[label] = {"res": res, "var": v}
        return out

    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]:
        if key["part"] == "test" or values is None:
            return [dict(r, part=key["part"]) for r in super().rows(key, values, error)]
        base = {"samples": key["samples"], "image": key["image"], "index": self.data_id(key), "layer": key["layer"],
                "strength": key["strength"], "seed": self.seed, "part": key["part"]}
        return [{"method": label, **base} for label in values]


def _image_score(values: dict[str, Any]) -> ImageScore:
    s = ImageScore()
    for slot in ImageScore.__slots__:
        setattr(s, slot, values[slot])
    return s


def table_scorers(model: Any, cal_pairs: Sequence[tuple[Any, Any]], test_pairs: Sequence[tuple[Any, Any]],
                  interval_pairs: Sequence[tuple[Any, Any]], methods: Sequence[str],
                  samples: dict[str, tuple[int, ...]], settings: dict[str, tuple[Any, Any]], seed: int,
                  device: Any, progress: Callable[[int, int], None] | None, *, patch: int, steps: int,
                  workers: int | None, ray_address: str | None
                  ) -> dict[tuple[str, int], tuple[dict[str, Scorer], dict[str, list[Vectors]]]]:
    """{(engine, samples): ({variant: Scorer}, {variant: held-out residual vectors})} as the serial
    loop of ``score_columns`` fills them (calibration images added with their float64 residuals,
    test images scored, held-out vectors kept), the estimates run as :class:`TableJob` units on
    ``workers`` (:func:`uqcore.distributed.run_job`). ``settings``: {engine: (layer, strength)}.
    An InputError naming the images that failed (a table needs all of them)."""
    plan = method_plan(model, list(methods))
    parts = [("cal", [f"{i}" for i in range(len(cal_pairs))], cal_pairs),
             ("test", [f"{i}" for i in range(len(test_pairs))], test_pairs),
             ("heldout", [f"{i}" for i in range(len(interval_pairs))], interval_pairs)]
    job = TableJob(model, parts, plan, settings, samples, seed, patch, steps)
    results = distributed.run_job(job, model, workers=workers, ray_address=ray_address, device=device,
                                  progress=progress)
    values = distributed.pair_values(results, f"table {model.name}")  # every image ok, in key order
    found = {distributed.unit_id(r.key): v for r, v in zip(results, values)}
    out = {}
    for engine, variants in plan:
        for n in samples[engine]:
            scorers = {label: Scorer(model, patch=patch, steps=steps) for label, _ in variants}
            held: dict[str, list[Vectors]] = {label: [] for label, _ in variants}
            for i, part in enumerate(job.part):
                unit = found[distributed.unit_id(job.key(engine, int(n), i))]
                for label, _ in variants:
                    v = unit[label]
                    if part == "cal":
                        scorers[label].add_calibration_residuals(v["res"], v["var"])
                    elif part == "heldout":
                        held[label].append((v["res"], v["var"]))
                    else:
                        scorers[label].scores.append(_image_score(v))
            out[(engine, int(n))] = scorers, held
    return out
