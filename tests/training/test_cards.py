"""uqcore.training.cards / python -m uqcore card: the bundled trained models' cards are what the
command derives from their weights (config and provenance), and it keeps the measured entries."""

from __future__ import annotations

import pytest

from uqcore.cli import main
from uqcore.models.card import read_card
from uqcore.models.registry import MODELS_DIR
from uqcore.training.cards import ZOO, sr_card


@pytest.mark.parametrize("name", [n for n in ZOO if (MODELS_DIR / f"{n}.json").exists()])
def test_bundled_sr_cards_are_what_card_sr_writes(name):
    bundled = read_card(MODELS_DIR / f"{name}.json")
    derived = sr_card(name)
    assert derived.config == bundled.config
    assert derived.provenance["training"]["runs"] == bundled.provenance["training"]["runs"]
    assert derived.measured == bundled.measured  # kept, not rewritten


def test_card_sr_prints_without_writing(capsys):
    before = (MODELS_DIR / "srresnet.json").read_text()
    assert main(["card", "sr", "--only", "srresnet"]) == 0
    assert "srresnet: 233,059 parameters, 1 run(s)" in capsys.readouterr().out
    assert (MODELS_DIR / "srresnet.json").read_text() == before


def test_card_depth_needs_weights():
    assert main(["card", "depth"]) == 2
