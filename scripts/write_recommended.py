"""Write each bundled model's recommended setting into its card (``recommended``), the setting
the dashboard's Explore page opens on.

Training-free models: the best of the paper run's infer-noise and infer-dropout settings, each
chosen by ``uqcore.sweep.recommend`` (highest pixel correlation within a 5% loss increase) over
the tolerability sweeps on the calibration split that ``python -m uqcore reproduce`` wrote to
docs/results_sweeps.csv. Baseline models (MC-dropout, ensemble, likelihood head): their own
method. Run after ``reproduce``:  .venv/bin/python scripts/write_recommended.py
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uqcore.datasets.sweep import recommend  # noqa: E402 (after the path set-up)
SOURCE = ("python -m uqcore reproduce: tolerability sweeps on the calibration split (docs/results_sweeps.csv), "
          "highest pixel correlation within a {tol:.0%} loss increase; scripts/write_recommended.py")
BASELINES = (("mc_dropout", "srresnet-mcdrop"), ("ensemble", "srresnet-ens"), ("llm", "srresnet-llm"),
             ("llm", "srresnet-llm-head"))  # (method, model): a baseline model recommends its own method


def read_rows(path: Path) -> list[dict]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for field in ("strength", "loss_increase", "corr_pixel"):
            row[field] = float(row[field]) if row[field] not in ("", "None") else None
        row["samples"] = int(row["samples"])
    return rows


def best_setting(rows: list[dict], tolerance: float) -> dict | None:
    picks = [recommend([r for r in rows if r["method"] == m], tolerance=tolerance) for m in ("noise", "dropout")]
    picks = [p for p in picks if p is not None]
    if not picks:
        return None
    best = max(picks, key=lambda r: r["corr_pixel"])
    return dict(method=best["method"], layer=best["layer"], strength=best["strength"], samples=best["samples"],
                corr_pixel=round(best["corr_pixel"], 4), loss_increase=round(best["loss_increase"], 4),
                source=SOURCE.format(tol=tolerance))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=Path, default=ROOT / "docs" / "results_sweeps.csv")
    parser.add_argument("--models", type=Path, default=ROOT / "assets" / "models")
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    rows = read_rows(args.sweeps)
    recommended = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        setting = best_setting([r for r in rows if r["model"] == model], args.tolerance)
        if setting:
            recommended[model] = setting
    for method, model in BASELINES:
        if (args.models / f"{model}.json").exists():
            recommended[model] = dict(method=method, samples=8, source="the model's own baseline method")
    for model, setting in recommended.items():
        path = args.models / f"{model}.json"
        text = path.read_text()
        indent = len(text.splitlines()[1]) - len(text.splitlines()[1].lstrip())  # keep the card's style
        card = json.loads(text)
        card["recommended"] = setting
        path.write_text(json.dumps(card, indent=indent, ensure_ascii=False) + "\n")
        print(f"{model}: {setting}")


if __name__ == "__main__":
    main()
