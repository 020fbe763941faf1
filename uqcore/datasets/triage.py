"""Triage: rank a folder of images by uncertainty, without ground truth, so a user knows which
images to look at first.

Each image is one unit of a :class:`TriageJob` (run by :func:`uqcore.distributed.run_job`: here,
or on Ray workers; kept in a store, so an interrupted run resumes and a stopped one keeps every
finished row). A unit reads the image (a file that cannot be read, or one over
``UQCORE_MAX_PIXELS``, fails with the reader's InputError and is listed as *skipped* with that
reason; the run goes on), runs ``estimate`` once, and returns only numbers and two thumbnails:

* ``mean_uncertainty``: the mean of the variance map (the paper's mean level: one value per image;
  the ranking score), ``p95_uncertainty``: its 95th percentile, ``share_above``: the share of
  pixels whose variance exceeds ``threshold``;
* with ground truth: ``mean_error``, the mean absolute error (``metrics.error_map``) after the
  scorer's ``at_target`` (depth resized and, for relative depth, aligned), over valid pixels.

No map outlives its unit, so memory stays flat over the folder; :mod:`uqcore.datasets.triage_report`
computes the maps of the top images again. Ranking: descending mean uncertainty, ties by name.

Rank fast, then refine: the one-pass student ranks every image; :func:`refine` re-scores the top
K with the training-free teacher and reports the Spearman correlation of the two rankings there.
With ground truth, :func:`truth_summary` gives the image-level sparsification curve (discard the
most uncertain images, mean error of the rest; ``metrics.sparsification`` at the mean level), its
AUSE, and Spearman(image uncertainty, image error) with a 95 % bootstrap interval
(``scoring.stats.bootstrap``).
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore import metrics as M
from uqcore.distributed import Store, UnitData, UnitResult, digest, run_job
from uqcore.engine import methods
from uqcore.engine.estimate import estimate
from uqcore.engine.layers import method_setting
from uqcore.engine.model import as_model, model_identity
from uqcore.errors import InputError
from uqcore.datasets.folders import IMAGE_SUFFIXES
from uqcore.io import read_depth, read_image, to_uint8
from uqcore.limits import IMAGE_UPLOAD_MB
from uqcore.plots.figures import block_mean, display_factor
from uqcore.scoring.scorer import at_target, prepare_target
from uqcore.scoring.stats import Interval, bootstrap
from uqcore.progress import Progress

COLUMNS = ("name", "width", "height", "mean_uncertainty", "p95_uncertainty", "share_above", "seconds", "samples",
           "mean_error", "skipped")
DEFAULT_THRESHOLD = (2 / 255) ** 2  # variance (output units²): a standard deviation of 2 grey levels of 8 bits
THUMB_SIDE = 96  # pixels per side of the thumbnails a unit returns
CHECK_FRACTION = 0.1  # the "check the 10 % most uncertain images" sentence
DEPTH_SUFFIXES = (*IMAGE_SUFFIXES, ".npy")

Source = Path | bytes


@dataclass(frozen=True)
class Item:
    """One image to rank: its name, the file (or uploaded bytes), and its ground truth if any."""

    name: str
    source: Source
    truth: Source | None = None


@dataclass(frozen=True)
class Setting:
    """How the maps are made: ``estimate``'s method, layer, strength, samples and seed."""

    method: str
    layer: str | None = None
    strength: float | None = None
    samples: int | str = 8
    seed: int = 0

    def text(self) -> str:
        where = f" at {self.layer}, strength {self.strength:g}" if self.layer else ""
        count = "one pass" if methods.spec(self.method).sampling == methods.SAMPLING_STUDENT else f"{self.samples} samples"
        return f"{self.method}{where} ({count}, seed {self.seed})"


# -- inputs ----------------------------------------------------------------------------------------
def folder_items(images: str | Path, truth: str | Path | None = None) -> list[Item]:
    """Every file of the folder ``images`` (sorted by name; a file that is no image is skipped by
    its unit with the reason), each with the file of ``truth`` of the same stem (also
    ``<stem>_depth`` / ``<stem>_target``), or None where there is none."""
    folder = Path(images)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass the folder of images to rank")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError(f"{folder} holds no files; pass a folder of images ({', '.join(IMAGE_SUFFIXES)})")
    if truth is not None and not Path(truth).is_dir():
        raise InputError(f"the ground truth {truth} is not a folder; pass a folder of HR images / depth maps "
                         "named as the inputs")
    return [Item(name=p.stem, source=p, truth=None if truth is None else truth_file(Path(truth), p.stem)) for p in files]


def upload_items(files: Sequence[tuple[str, bytes]], truth: Sequence[tuple[str, bytes]] = ()) -> list[Item]:
    """Items from uploaded ``(file name, bytes)``: a ``.zip`` counts as its files (folders inside
    flattened); each input gets the ground truth of the same stem (also ``<stem>_depth`` /
    ``<stem>_target``) from ``truth``, or None."""
    inputs, targets = _unpacked(files), {Path(n).stem: data for n, data in _unpacked(truth)}
    if not inputs:
        raise InputError("no images were uploaded; upload images or a .zip of images")
    items = []
    for name, data in inputs:
        stem = Path(name).stem
        match = next((targets[s] for s in (stem, f"{stem}_depth", f"{stem}_target") if s in targets), None)
        items.append(Item(name=stem, source=data, truth=match))
    return items


def _unpacked(files: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Uploads with every .zip replaced by its files, sorted by name; each file of a zip is held to
    the image upload limit before it is read (a zip bomb is refused, not unpacked)."""
    out = []
    for name, data in files:
        if not name.lower().endswith(".zip"):
            out.append((name, bytes(data)))
            continue
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    base = Path(info.filename).name
                    if info.is_dir() or not base or base.startswith(".") or "__MACOSX" in info.filename:
                        continue
                    if info.file_size > IMAGE_UPLOAD_MB * 2**20:
                        raise InputError(f"{name}: {base} unpacks to {info.file_size / 2**20:,.0f} MB; images are "
                                         f"limited to {IMAGE_UPLOAD_MB} MB")
                    out.append((base, archive.read(info)))
        except zipfile.BadZipFile as exc:
            raise InputError(f"{name} is not a readable zip archive ({exc}); upload the images or zip them again") from None
    return sorted(out)


def truth_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}_depth", f"{stem}_target"):
        for suffix in DEPTH_SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    return None


def source_digest(source: Source | None) -> str:
    """Identifies a unit's data: a file by size and modification time, uploaded bytes by content."""
    if source is None:
        return "none"
    if isinstance(source, Path):
        stat = source.stat()
        return f"{stat.st_size}-{stat.st_mtime_ns}"
    return digest(np.frombuffer(bytes(source), dtype=np.uint8))


def read_source(source: Source, label: str, reader: Callable = read_image, **kwargs: Any) -> Any:
    """``reader`` on a file or on uploaded bytes; an InputError names the image (``label``)."""
    if isinstance(source, Path) and source.suffix.lower() not in DEPTH_SUFFIXES:
        raise InputError(f"{source.name} is not an image file ({source.suffix or 'no suffix'}); "
                         f"triage reads {', '.join(IMAGE_SUFFIXES)}")
    try:
        return reader(source if isinstance(source, Path) else bytes(source), **kwargs)
    except InputError as exc:
        text = str(exc)
        raise InputError(text if label in text else f"{label}: {text}") from None


# -- the job ---------------------------------------------------------------------------------------
class TriageJob(UnitData):
    """One unit per image: its map's numbers and thumbnails (module docstring). Key: the setting,
    the image's name and the digest of its files; run info: the model (and its student head), the
    threshold."""

    kind = "triage"
    columns = COLUMNS

    def __init__(self, model: Any, items: Sequence[Item], setting: Setting, threshold: float = DEFAULT_THRESHOLD,
                 tile: int | None = None) -> None:
        names = [item.name for item in items]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise InputError(f"two images share the name {twice[0]!r} (names are file names without the suffix); "
                             "rename one")
        if not threshold > 0:
            raise InputError(f"the threshold must be a positive variance, got {threshold!r}")
        self._data = [(item.source, item.truth) for item in items]
        self.names = names
        self.digests = [f"{source_digest(item.source)}/{source_digest(item.truth)}" for item in items]
        self.index = {n: i for i, n in enumerate(names)}
        self.setting, self.threshold, self.tile = setting, float(threshold), tile
        model = as_model(model)
        self.identity = model_identity(model)
        self.head = "" if model.student is None else digest(list(model.student.state_dict().values()))

    def keys(self) -> list[dict[str, Any]]:
        s = self.setting
        return [{"name": n, "digest": d, "method": s.method, "layer": s.layer, "strength": s.strength,
                 "samples": s.samples, "seed": s.seed} for n, d in zip(self.names, self.digests)]

    def run_info(self) -> dict[str, Any]:
        head = self.head if methods.spec(self.setting.method).sampling == methods.SAMPLING_STUDENT else ""
        return {"model": self.identity, "head": head, "threshold": self.threshold, "tile": self.tile}

    def data_id(self, key: dict[str, Any]) -> int:
        return self.index[key["name"]]

    def run(self, model: Any, key: dict[str, Any], data: tuple[Source, Source | None], cache: dict,
            device: Any) -> dict[str, Any]:
        source, truth = data
        x = read_source(source, key["name"])
        started = time.perf_counter()
        est = estimate(model, x, method=key["method"], layer=key["layer"], strength=key["strength"],
                       samples=key["samples"], seed=key["seed"], device=device, tile=self.tile)
        seconds = time.perf_counter() - started
        var = est.variance.double().numpy()
        finite = var[np.isfinite(var)]
        if finite.size == 0:
            raise InputError(f"{key['name']}: the uncertainty map has no finite value (the model's output is NaN or inf)")
        values = {"width": int(x.shape[-1]), "height": int(x.shape[-2]), "seconds": seconds, "samples": est.samples,
                  "mean_uncertainty": float(finite.mean()), "p95_uncertainty": float(np.percentile(finite, 95)),
                  "share_above": float((finite > self.threshold).mean()),
                  "mean_error": image_error(model, est, truth, key["name"]) if truth is not None else None}
        values.update(thumbnails(x, var))
        return values

    def rows(self, key: dict[str, Any], values: dict[str, Any] | None, error: str | None) -> list[dict[str, Any]]:
        if values is None:
            return [{"name": key["name"], "skipped": reason(error)}]
        return [{"name": key["name"], **{c: values.get(c) for c in COLUMNS[1:-1]}, "skipped": None}]


def reason(error: str | None) -> str | None:
    """A failed unit's message without the class name of a plain bad input."""
    prefix = f"{InputError.__name__}: "
    return error[len(prefix):] if error and error.startswith(prefix) else error


def image_error(model: Any, est: Any, truth: Source, name: str) -> float:
    """Mean absolute error of the prediction against the ground truth (valid pixels)."""
    return float(np.nanmean(error_map_of(model, est, truth, name)))


def error_map_of(model: Any, est: Any, truth: Source, name: str) -> np.ndarray:
    """The estimate's error map against the ground truth, as the scorer sees it (``at_target``)."""
    model = as_model(model)
    label = f"{name} (ground truth)"
    if model.task == "depth":
        target = read_source(truth, label, read_depth, name=label)
    else:
        target = read_source(truth, label)
    target = prepare_target(model.task, target)
    prediction, _ = at_target(model, est.prediction, est.variance, target)
    return M.error_map(prediction, target, mask=M.valid_mask(target) if model.task == "depth" else None)


def thumbnails(x: torch.Tensor, variance: np.ndarray) -> dict[str, np.ndarray]:
    """The input (uint8 [h, w, 3]) and the variance map (float32 [h, w]) at most THUMB_SIDE a side."""
    image = x[0].numpy()
    small = block_mean(image, display_factor(image.shape, THUMB_SIDE))
    return {"thumb_image": to_uint8(small), "thumb_map": block_mean(variance, display_factor(variance.shape, THUMB_SIDE)
                                                                    ).astype(np.float32)}


# -- ranking ---------------------------------------------------------------------------------------
@dataclass
class Ranking:
    """The finished images, most uncertain first (each row: the CSV columns, ``rank``, and the
    thumbnails), and the skipped ones (name and reason)."""

    rows: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    setting: Setting

    @property
    def names(self) -> list[str]:
        return [r["name"] for r in self.rows]


def ranked(rows: Sequence[Mapping[str, Any]], setting: Setting) -> Ranking:
    """:class:`Ranking` of the rows of finished units (``skipped`` None: ranked by descending mean
    uncertainty, ties by name; else skipped with that reason)."""
    done = [dict(r) for r in rows if not r.get("skipped")]
    done.sort(key=lambda r: (-r["mean_uncertainty"], r["name"]))
    for i, row in enumerate(done, 1):
        row["rank"] = i
    skipped = [{"name": r["name"], "reason": r["skipped"]} for r in rows if r.get("skipped")]
    return Ranking(rows=done, skipped=skipped, setting=setting)


def unit_row(result: UnitResult) -> dict[str, Any]:
    """A finished unit as a row: its values (thumbnails included) and ``skipped`` (None or the reason)."""
    return {"name": result.key["name"], **(result.values or {}), "skipped": reason(result.error) if not result.ok else None}


def rank_images(model: Any, items: Sequence[Item], setting: Setting, *, threshold: float = DEFAULT_THRESHOLD,
                store: Store | str | Path | None = None, resume: bool = False, workers: int | None = None,
                ray_address: str | None = None, device: Any = None, tile: int | None = None,
                progress: Progress | None = None,
                on_row: Callable[[dict[str, Any]], None] | None = None) -> Ranking:
    """Rank ``items`` by ``setting``'s mean uncertainty (module docstring). ``on_row(row)`` for each
    image as it finishes (kept ones first on a resume; a skipped one has ``skipped`` = the reason)."""
    job = TriageJob(model, items, setting, threshold, tile)

    def take(result: UnitResult) -> None:
        if on_row is not None:
            on_row(unit_row(result))

    results = run_job(job, model, workers=workers, ray_address=ray_address, device=device, store=store,
                      resume=resume, progress=progress, on_result=take)
    return ranked([unit_row(r) for r in results], setting)


def ranking_setting(model: Any, method: str | None = None, layer: str | None = None, strength: float | None = None,
                    samples: int | str | None = None, seed: int = 0) -> Setting:
    """The setting to rank with: ``method`` (default: the student when the model has one, else the
    card's recommended method), with the card's recommended layer / strength / samples for that
    method where not given, else the engine's defaults."""
    model = as_model(model)
    rec = model.card.get("recommended") or {}
    if method is None:
        method = "student" if "student" in model.methods else rec.get("method", model.methods[0])
    if method not in model.methods:
        raise InputError(f"model {model.name!r} offers {', '.join(model.methods)}, not {method!r}")
    same = rec.get("method") == method
    layer, strength = method_setting(model, method, layer or (rec.get("layer") if same else None),
                                     strength if strength is not None else (rec.get("strength") if same else None))
    count = samples if samples is not None else int(rec.get("samples", 8)) if same else 8
    return Setting(method=method, layer=layer, strength=strength, samples=count, seed=int(seed))


def teacher_setting(model: Any, method: str | None = None, seed: int = 0) -> Setting:
    """The training-free teacher that refines a student's ranking: ``method``, by default the one
    the student head was distilled from (its card), else the card's recommended method;
    ``"recommended"``: the card's recommended setting. Layer / strength / samples: the head's
    teacher's or the card's recommended ones for that method, else the engine's defaults."""
    model = as_model(model)
    taught = dict((model.student_card or {}).get("teacher") or {})
    rec = dict(model.card.get("recommended") or {})
    if method == "recommended" or (method is None and not taught.get("method")):
        if not rec.get("method"):
            raise InputError(f"model {model.name!r} has no recommended setting in its card; name the teacher "
                             "method (transform, noise, dropout)")
        method = rec["method"]
    method = method or taught["method"]
    if methods.spec(method).sampling == methods.SAMPLING_STUDENT:
        raise InputError("the teacher refines the student's ranking: choose a training-free method "
                         "(transform, noise, dropout)")
    source = taught if taught.get("method") == method else rec if rec.get("method") == method else {}
    return ranking_setting(model, method, source.get("layer"), source.get("strength"), source.get("samples"), seed)


# -- refine and ground truth ------------------------------------------------------------------------
@dataclass
class Refinement:
    """The top K re-scored by the teacher: its ranking of them, and Spearman(student, teacher)
    over those images with a 95 % bootstrap interval."""

    ranking: Ranking
    agreement: Interval
    student_seconds: float
    teacher_seconds: float


def refine(model: Any, items: Sequence[Item], ranking: Ranking, teacher: Setting, k: int, **run: Any) -> Refinement:
    """Re-score the ``k`` most uncertain images of ``ranking`` with ``teacher`` (keyword arguments
    as :func:`rank_images`)."""
    if k < 2:
        raise InputError(f"--refine needs at least 2 images to compare two rankings, got {k}")
    top = ranking.rows[:k]
    by_name = {item.name: item for item in items}
    again = rank_images(model, [by_name[r["name"]] for r in top], teacher, **run)
    scores = {r["name"]: r["mean_uncertainty"] for r in again.rows}
    pairs = [(r["mean_uncertainty"], scores[r["name"]]) for r in top if r["name"] in scores]
    student, taught = (np.array(v) for v in zip(*pairs)) if pairs else (np.zeros(0), np.zeros(0))
    agreement = bootstrap([student, taught], lambda a, b: M.spearman(a, b, level="mean"), vectorized=False)
    return Refinement(ranking=again, agreement=agreement,
                      student_seconds=float(sum(r["seconds"] for r in top if r["name"] in scores)),
                      teacher_seconds=float(sum(r["seconds"] for r in again.rows)))


def final_order(ranking: Ranking, refinement: Refinement | None) -> list[dict[str, Any]]:
    """The rows in the order to check them: the refined top K by the teacher, then the rest."""
    if refinement is None:
        return list(ranking.rows)
    teacher_rank = {r["name"]: r["rank"] for r in refinement.ranking.rows}
    top = sorted((r for r in ranking.rows if r["name"] in teacher_rank), key=lambda r: teacher_rank[r["name"]])
    return top + [r for r in ranking.rows if r["name"] not in teacher_rank]


@dataclass
class Truth:
    """What triage buys, measured against the ground truth (module docstring): the image-level
    curve, its AUSE, the Spearman interval and the share of the total error in the most uncertain
    ``checked`` images (and the oracle's, which checks the images with the largest error)."""

    curve: Any
    spearman: Interval
    checked: int
    caught: float
    oracle_caught: float
    images: int
    names: list[str] = field(default_factory=list)

    @property
    def ause(self) -> float:
        return self.curve.ause

    def sentence(self) -> str:
        return (f"checking the {CHECK_FRACTION:.0%} most uncertain images ({self.checked} of {self.images}) catches "
                f"{self.caught:.0%} of the total error (oracle {self.oracle_caught:.0%})").replace("%", " %")


def truth_summary(rows: Sequence[Mapping[str, Any]], steps: int = 50) -> Truth | None:
    """:class:`Truth` over the rows with a finite ``mean_error``; None with fewer than 2 of them."""
    rows = [r for r in rows if r.get("mean_error") is not None and np.isfinite(r["mean_error"])]
    if len(rows) < 2:
        return None
    error = np.array([r["mean_error"] for r in rows], dtype=np.float64)
    unc = np.array([r["mean_uncertainty"] for r in rows], dtype=np.float64)
    curve = M.sparsification(error, unc, steps=steps, level="mean")
    tenth = M.sparsification(error, unc, steps=round(1 / CHECK_FRACTION), level="mean")
    n, checked = len(rows), int(len(rows) * CHECK_FRACTION)
    kept = (n - checked) / n  # the remaining share of images after removing the checked ones
    rho = bootstrap([error, unc], lambda e, u: M.spearman(e, u, level="mean"), vectorized=False)
    return Truth(curve=curve, spearman=rho, checked=checked, caught=float(1 - tenth.estimate[1] * kept),
                 oracle_caught=float(1 - tenth.oracle[1] * kept), images=n, names=[r["name"] for r in rows])
