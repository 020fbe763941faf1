"""A triage's outputs beyond its CSV (:mod:`uqcore.datasets.triage`): the maps of the top images,
``summary.json`` and a self-contained HTML report with a sortable gallery (thumbnails inline).

The maps are computed again for the top k only (the units keep no maps, so memory stays flat);
each goes to ``maps/<rank>_<name>/`` as the ``map`` command writes them: ``variance.npy`` (float32),
``variance.png`` (16-bit, ``plots.export.map_png16``), the prediction, and with ground truth
``error.npy``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from uqcore.datasets.triage import Item, Ranking, Refinement, Setting, Truth, error_map_of, read_source
from uqcore.engine.estimate import estimate
from uqcore.io import to_uint8
from uqcore.plots import export
from uqcore.plots.figures import colour_map, picture_source, sparsification_figure

GALLERY_SIDE = 128  # pixels per thumbnail in the report


def write_top_maps(model: Any, items: Sequence[Item], rows: Sequence[Mapping[str, Any]], settings: Mapping[str, Setting],
                   folder: Path, device: Any = None, tile: int | None = None) -> list[Path]:
    """The maps of ``rows`` (the top k, in order) under ``folder/<rank>_<name>/``; each with the
    setting that ranked it (``settings[name]``). Returns the folders written."""
    by_name = {item.name: item for item in items}
    written = []
    for rank, row in enumerate(rows, 1):
        item, s = by_name[row["name"]], settings[row["name"]]
        est = estimate(model, read_source(item.source, item.name), method=s.method, layer=s.layer, strength=s.strength,
                       samples=s.samples, seed=s.seed, device=device, tile=tile)
        out = folder / f"{rank:03d}_{item.name}"
        out.mkdir(parents=True, exist_ok=True)
        variance = est.variance.numpy().astype(np.float32)
        np.save(out / "variance.npy", variance)
        (out / "variance.png").write_bytes(export.map_png16(variance))
        if est.prediction.shape[0] == 3:
            Image.fromarray(to_uint8(est.prediction)).save(out / "prediction.png")
        else:
            np.save(out / "prediction.npy", est.prediction.numpy())
        if item.truth is not None:
            np.save(out / "error.npy", error_map_of(model, est, item.truth, item.name).astype(np.float32))
        written.append(out)
    return written


# -- summary ---------------------------------------------------------------------------------------
def summary(ranking: Ranking, order: Sequence[Mapping[str, Any]], refinement: Refinement | None,
            truth: Truth | None, teacher: Setting | None = None) -> dict[str, Any]:
    """The run's numbers as a JSON-able dict (also the HTML report's metrics table)."""
    out: dict[str, Any] = {"images": len(ranking.rows) + len(ranking.skipped), "ranked": len(ranking.rows),
                           "skipped": ranking.skipped, "setting": ranking.setting.text(),
                           "order": [r["name"] for r in order],
                           "seconds_per_image": _mean([r["seconds"] for r in ranking.rows])}
    if refinement is not None:
        ratio = refinement.teacher_seconds / max(refinement.student_seconds, 1e-12)
        out["refine"] = {"teacher": teacher.text() if teacher else None, "images": len(refinement.ranking.rows),
                         "spearman": _interval(refinement.agreement), "student_seconds": refinement.student_seconds,
                         "teacher_seconds": refinement.teacher_seconds, "speedup": ratio,
                         "skipped": refinement.ranking.skipped}
    if truth is not None:
        out["truth"] = {"images": truth.images, "ause": truth.ause, "spearman": _interval(truth.spearman),
                        "checked": truth.checked, "caught": truth.caught, "oracle_caught": truth.oracle_caught,
                        "sentence": truth.sentence(), "fractions": truth.curve.fractions.tolist(),
                        "estimate": truth.curve.estimate.tolist(), "oracle": truth.curve.oracle.tolist()}
    return out


def _interval(iv) -> dict[str, Any]:
    return {"estimate": iv.estimate, "lo": iv.lo, "hi": iv.hi, "n": iv.n, "text": iv.text()}


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def write_summary(path: Path, numbers: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(_finite(numbers), indent=1) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# -- the HTML report -------------------------------------------------------------------------------
def map_scale(rows: Sequence[Mapping[str, Any]]) -> float:
    """One colour scale for every thumbnail: the largest 95th percentile of the images."""
    values = [r["p95_uncertainty"] for r in rows if np.isfinite(r.get("p95_uncertainty", np.nan))]
    return max(values, default=1.0) or 1.0


def map_thumbnail(row: Mapping[str, Any], zmax: float, colormap: str = "viridis") -> np.ndarray:
    """A row's map thumbnail coloured on [0, zmax]: uint8 [h, w, 3]."""
    return colour_map(np.asarray(row["thumb_map"]), zmax, colormap)


def _uri(rgb: np.ndarray) -> str:
    return picture_source(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0)


def gallery_html(order: Sequence[Mapping[str, Any]], refined: Mapping[str, float] | None = None) -> str:
    """A table of the images in ``order`` (input and map thumbnails, the numbers), sortable by a
    click on a column header (a few lines of inline script; no external file)."""
    zmax = map_scale(order)
    numbers = ["mean_uncertainty", "p95_uncertainty", "share_above", "mean_error", "seconds"]
    head = "".join(f"<th onclick='sortBy({i})'>{html.escape(h)}</th>" for i, h in
                   enumerate(["check order", "name", "image", "map", *numbers, *(["teacher mean"] if refined else [])]))
    body = []
    for i, row in enumerate(order, 1):
        cells = [str(i), html.escape(row["name"]), f"<img src='{_uri(row['thumb_image'])}' width={GALLERY_SIDE}>",
                 f"<img src='{_uri(map_thumbnail(row, zmax))}' width={GALLERY_SIDE}>"]
        cells += [_cell(row.get(c)) for c in numbers]
        if refined:
            cells.append(_cell(refined.get(row["name"])))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    script = ("<script>function sortBy(c){const t=document.getElementById('gallery'),b=t.tBodies[0],"
              "r=[...b.rows],d=t.dataset.col==c&&t.dataset.dir!='asc'?'asc':'desc';"
              "const v=x=>{const s=x.cells[c].innerText;const n=parseFloat(s);return isNaN(n)?s:n};"
              "r.sort((a,e)=>{const p=v(a),q=v(e);const o=p<q?-1:p>q?1:0;return d=='asc'?o:-o});"
              "r.forEach(x=>b.appendChild(x));t.dataset.col=c;t.dataset.dir=d}</script>")
    return (f"<h2>Images, most uncertain first</h2><p>Map thumbnails share one colour scale: 0 to {zmax:.4g} "
            "(the largest 95th percentile). Click a column header to sort.</p>"
            f"<table id='gallery'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{script}")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.5g}" if isinstance(value, float) else html.escape(str(value))


def skipped_html(skipped: Sequence[Mapping[str, Any]]) -> str:
    if not skipped:
        return ""
    rows = "".join(f"<tr><td>{html.escape(s['name'])}</td><td>{html.escape(str(s['reason']))}</td></tr>" for s in skipped)
    return f"<h2>Skipped ({len(skipped)})</h2><table><tr><th>name</th><th>reason</th></tr>{rows}</table>"


def report_html(numbers: Mapping[str, Any], order: Sequence[Mapping[str, Any]], truth: Truth | None,
                refinement: Refinement | None, settings: Mapping[str, Any]) -> str:
    """The self-contained report (``plots.export.html_report``): settings, numbers, the
    image-level curve with ground truth, the gallery, the skipped files."""
    metrics = {"images ranked": numbers["ranked"], "skipped": len(numbers["skipped"]),
               "seconds per image": numbers["seconds_per_image"]}
    notes, figures = [], []
    if refinement is not None:
        ref = numbers["refine"]
        metrics["Spearman student vs teacher (top images)"] = ref["spearman"]["text"]
        metrics["teacher / student time"] = f"{ref['speedup']:.1f}×"
    if truth is not None:
        metrics["image-level AUSE"] = truth.ause
        metrics["Spearman(image uncertainty, image error)"] = truth.spearman.text()
        notes.append(truth.sentence()[0].upper() + truth.sentence()[1:] + ".")
        figures.append(sparsification_figure(truth.curve, title="Image-level sparsification",
                                             x_title="fraction of images removed (most uncertain first)"))
    refined = {r["name"]: r["mean_uncertainty"] for r in refinement.ranking.rows} if refinement else None
    return export.html_report("uqcore triage", settings, metrics, figures, notes,
                              sections=[gallery_html(order, refined), skipped_html(numbers["skipped"])])
