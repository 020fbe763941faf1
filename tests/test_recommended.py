"""The bundled cards' recommended settings are what ``python -m uqcore recommend --write`` derives from
the committed sweeps (docs/results_sweeps.csv, ``uqcore.datasets.sweep.best_setting``): the cards are not stale."""

from __future__ import annotations

import json
from pathlib import Path

from uqcore.datasets.sweep import best_setting, read_sweep_rows
from uqcore.models.card import read_card

ROOT = Path(__file__).resolve().parents[1]


def test_cards_carry_the_settings_the_sweeps_recommend():
    rows = read_sweep_rows(ROOT / "docs" / "results_sweeps.csv")
    models = list(dict.fromkeys(r["model"] for r in rows))
    assert {"srresnet", "srgan", "fcrn"} <= set(models)
    for model in models:
        expected = best_setting([r for r in rows if r["model"] == model], 0.05)
        card = read_card(ROOT / "assets" / "models" / f"{model}.json").flat()["recommended"]
        for field in ("method", "layer", "strength", "samples"):
            assert card[field] == expected[field], (model, field, card[field], expected[field])
