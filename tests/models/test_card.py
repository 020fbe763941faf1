"""The model card schema (uqcore.models.card): every bundled card validates, unknown keys fail with
the card's path, cards round-trip, every measured number names the command that wrote it, and
every card's selection data is disjoint from assets/samples (choices are made on decision images,
never on the samples). The architecture registry's decorator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from torch import nn

import uqcore
from uqcore.cli import COMMANDS
from uqcore.models.architectures import build_architecture, list_architectures, register_architecture
from uqcore.models.card import STUDENT_KIND, read_card

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "assets" / "models"
SAMPLE_STEMS = {p.stem for p in (ROOT / "assets" / "samples").rglob("*") if p.is_file()}
CARDS = sorted(MODELS.glob("*.json"))
STUDENT_CARDS = sorted(MODELS.glob("*.student.json"))


@pytest.mark.parametrize("path", CARDS, ids=lambda p: p.name)
def test_every_bundled_card_validates_and_is_sectioned(path):
    doc = json.loads(path.read_text())
    assert {"config", "provenance", "measured"} <= doc.keys()
    card = read_card(path)
    assert card.kind == (STUDENT_KIND if path.name.endswith(".student.json") else "model")
    if card.kind == "model":
        assert uqcore.model_card(card.name) == card.flat()


def test_bundled_models_load_through_their_cards():
    for name in ("srresnet", "fcrn"):
        model = uqcore.load_model(name)
        assert model.card["architecture"] == read_card(MODELS / f"{name}.json").config["architecture"]


@pytest.mark.parametrize("section", ["config", "provenance", "measured", None])
def test_an_unknown_key_is_an_input_error_naming_the_path(tmp_path, section):
    doc = read_card(MODELS / "srresnet.json").to_dict()
    if section is None:
        doc["colour"] = "blue"
    else:
        doc[section]["colour"] = {"command": "x", "date": "2026-01-01"}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(uqcore.InputError, match=rf"{path}.*'colour'"):
        read_card(path)
    (tmp_path / "srresnet.safetensors").symlink_to(MODELS / "srresnet.safetensors")
    with pytest.raises(uqcore.InputError, match=str(path)):
        uqcore.load_model(str(path))


def test_an_unknown_flat_key_fails_too(tmp_path):
    flat = read_card(MODELS / "srresnet.json").flat()
    path = tmp_path / "flat.json"
    path.write_text(json.dumps({**flat, "wieghts": "x"}))
    with pytest.raises(uqcore.InputError, match=rf"{path}.*'wieghts'"):
        read_card(path)


def test_a_measured_entry_without_its_command_fails(tmp_path):
    doc = read_card(MODELS / "srresnet.json").to_dict()
    doc["measured"]["eval"].pop("command")
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(uqcore.InputError, match=r"measured.eval .*command"):
        read_card(path)


@pytest.mark.parametrize("name", ["srresnet.json", "srresnet.student.json"])
def test_round_trip(tmp_path, name):
    card = read_card(MODELS / name)
    card.set_measured("selection", {"data": ["skimage:grass"], "chosen": "a"}, command="python -m uqcore select",
                      date="2026-12-06")
    out = card.save(tmp_path / name)
    again = read_card(out)
    assert again.to_dict() == card.to_dict() and again.flat() == card.flat()
    # a flat card (the format before sections) reads into the same sections
    flat = tmp_path / f"flat-{name}"
    flat.write_text(json.dumps(card.flat()))
    assert read_card(flat).to_dict() == card.to_dict()


def _known_command(command: str) -> bool:
    """Whether a recorded command is one this checkout has: ``python -m uqcore <command>`` with a
    registered command, ``python -m uqcore.<module>``, or a script of scripts/ that exists."""
    words = command.replace("(", " ").replace(";", " ").split()
    for i, w in enumerate(words):
        if w == "uqcore" and i and words[i - 1] == "-m" and i + 1 < len(words):
            return words[i + 1] in COMMANDS
        if w.startswith("uqcore.") and i and words[i - 1] == "-m":
            return True
        if w.startswith("scripts/"):
            return (ROOT / w).exists()
    return False


@pytest.mark.parametrize("path", CARDS, ids=lambda p: p.name)
def test_every_measured_number_names_the_command_that_wrote_it(path):
    card = read_card(path)
    for key, entry in card.measured.items():
        assert entry["command"] and entry["date"][:2] == "20", (path.name, key)
        assert _known_command(entry["command"]), (path.name, key, entry["command"])


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
    assert len(STUDENT_CARDS) >= 3


@pytest.mark.parametrize("path", [p for p in CARDS if "selection" in read_card(p).measured], ids=lambda p: p.name)
def test_every_selection_is_on_data_disjoint_from_samples(path):
    check_selection(read_card(path).measured["selection"])


@pytest.mark.parametrize("card", STUDENT_CARDS, ids=lambda p: p.name)
def test_student_card_names_selection_data_disjoint_from_samples(card):
    check_selection(read_card(card).flat()["selection"])


def test_llm_card_records_its_selection():
    sel = read_card(MODELS / "srresnet-llm.json").flat()["selection"]
    check_selection(sel)
    chosen = next(c for c in sel["candidates"] if c["name"] == sel["chosen"])
    # the jointly trained candidates only; within 0.5 dB of srresnet the lowest NLL, else the sharpest
    joint = [c for c in sel["candidates"] if not c["name"].startswith("frozen mean")]
    assert chosen in joint and "jointly trained" in sel["rule"]
    ok = [c for c in joint if c["psnr"] >= sel["reference"]["psnr"] - 0.5]
    assert sel["within_margin"] == bool(ok)
    if ok:
        assert chosen["nll"] == min(c["nll"] for c in ok)
    else:
        assert chosen["psnr"] == max(c["psnr"] for c in joint)
    # the bundled weights are the chosen run's (the card's training command is the candidate's)
    assert read_card(MODELS / "srresnet-llm.json").provenance["training"]["runs"][0]["command"] == \
        chosen["training"]["command"]


def test_check_selection_rejects_sample_data():
    with pytest.raises(AssertionError):
        check_selection({"data": ["skimage:astronaut"], "metric": "m", "candidates": [{"name": "a"}], "chosen": "a"})


def test_architectures_register_by_decorator():
    assert {"srresnet", "srresnet-head", "fcrn", "rrdn", "rdn"} <= set(list_architectures())

    @register_architecture("test-only-identity")
    class Identity(nn.Module):
        def forward(self, x):
            return x

    assert isinstance(build_architecture("test-only-identity"), Identity)
    with pytest.raises(ValueError, match="already registered"):
        register_architecture("srresnet")(Identity)
    with pytest.raises(uqcore.InputError, match="unknown architecture 'nope'"):
        build_architecture("nope")
