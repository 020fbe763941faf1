"""Every bundled student card (and the likelihood baseline's card) records what it was chosen on,
and that data is disjoint from assets/samples (so the samples' scores are not measured on what
the students were chosen on)."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "assets" / "models"
SAMPLE_STEMS = {p.stem for p in (ROOT / "assets" / "samples").rglob("*") if p.is_file()}
CARDS = sorted(MODELS.glob("*.student.json"))


def check_selection(sel: dict) -> None:
    assert isinstance(sel, dict), "selection must be a dict with data, metric and candidates"
    assert sel["data"] and isinstance(sel["data"], list)
    assert isinstance(sel["metric"], str) and sel["metric"]
    assert sel["candidates"] and all(isinstance(c, dict) and c.get("name") for c in sel["candidates"])
    for item in sel["data"]:
        assert "assets/samples" not in item
        assert item.split(":")[-1] not in SAMPLE_STEMS, f"{item} is one of assets/samples"
    assert sel["chosen"] in {c["name"] for c in sel["candidates"]}


def test_there_are_student_cards():
    assert len(CARDS) >= 3


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.name)
def test_student_card_names_selection_data_disjoint_from_samples(card):
    check_selection(json.loads(card.read_text())["selection"])


def test_llm_card_records_its_selection():
    sel = json.loads((MODELS / "srresnet-llm.json").read_text())["selection"]
    check_selection(sel)
    chosen = next(c for c in sel["candidates"] if c["name"] == sel["chosen"])
    assert chosen["psnr"] >= sel["reference"]["psnr"] - 0.5  # the rule's PSNR condition
    ok = [c for c in sel["candidates"] if c["psnr"] >= sel["reference"]["psnr"] - 0.5]
    assert chosen["nll"] == min(c["nll"] for c in ok)  # then the lowest NLL


def test_check_selection_rejects_sample_data():
    with pytest.raises(AssertionError):
        check_selection({"data": ["skimage:astronaut"], "metric": "m", "candidates": [{"name": "a"}], "chosen": "a"})
