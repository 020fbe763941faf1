"""``python -m uqcore select``: the MC-dropout target's rule, and a run on two candidates that
installs the chosen weights and records the selection in the card (decision images only)."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file, save_file

from uqcore.cli import main
from uqcore.models.card import read_card
from uqcore.models.registry import MODELS_DIR
from uqcore.paper.heldout import SR_HELDOUT
from uqcore.paper.selection import select_llm, select_mcdrop


def test_mcdrop_rule_is_the_sweeps_rule():
    rows = {"a": {"loss_increase": 0.01, "corr_pixel": 0.2}, "b": {"loss_increase": 0.08, "corr_pixel": 0.5},
            "c": {"loss_increase": 0.049, "corr_pixel": 0.3}, "d": {"loss_increase": 0.0, "corr_pixel": 0.3}}
    assert select_mcdrop(rows) == "c"  # b is over the 5 % loss increase; c before d on a tie
    assert select_mcdrop(rows, tolerance=0.1) == "b"
    assert select_mcdrop({"b": rows["b"]}) is None


def test_llm_rule():
    rows = {"a": {"psnr": 30.0, "nll": -1.0}, "b": {"psnr": 29.4, "nll": -3.0}, "c": {"psnr": 29.8, "nll": -2.0}}
    assert select_llm(rows, 30.1) == "c"
    # nothing within the margin: none, or (the jointly trained model) the sharpest candidate
    far = {"b": rows["b"], "e": {"psnr": 29.5, "nll": -2.5}}
    assert select_llm(far, 30.1) is None
    assert select_llm(far, 30.1, closest_if_none=True) == "e"


def _candidate(folder, at, p):
    meta = {"arch": "mcdrop", "command": f"python -m uqcore train sr --arch mcdrop --dropout-at {at}", "steps": "400",
            "seed": "2", "train_seconds": "1.0", "hardware": "CPU", "torch": "2", "n_train_images": "38",
            "arch_kwargs": json.dumps({"scale": 4, "n_feats": 32, "n_blocks": 8, "dropout_p": p, "dropout_at": at})}
    save_file(load_file(str(MODELS_DIR / "srresnet.safetensors")), str(folder / f"mcdrop-at{at}-p{p}.safetensors"),
              metadata=meta)


def test_select_mcdrop_writes_card_and_weights(tmp_path, capsys):
    pytest.importorskip("skimage")
    models, runs = tmp_path / "models", tmp_path / "runs"
    models.mkdir()
    runs.mkdir()
    for f in ("srresnet.json", "srresnet.safetensors", "srresnet-mcdrop.json", "srresnet-mcdrop.safetensors"):
        shutil.copyfile(MODELS_DIR / f, models / f)
    _candidate(runs, 3, 0.2)
    _candidate(runs, 6, 0.05)
    code = main(["select", "srresnet-mcdrop", "--candidates", str(runs), "--models-dir", str(models),
                 "--images", "1", "--write"])
    assert code == 0
    card = read_card(models / "srresnet-mcdrop.json")
    sel = card.measured["selection"]
    assert {c["name"] for c in sel["candidates"]} == {"mcdrop-at3-p0.2", "mcdrop-at6-p0.05"}
    assert sel["command"].startswith("python -m uqcore select srresnet-mcdrop") and sel["date"]
    assert sel["data"] == [f"skimage:{SR_HELDOUT[0][0][:-4]}"]
    assert sel["chosen"] == select_mcdrop({c["name"]: c for c in sel["candidates"]})
    chosen = next(c for c in sel["candidates"] if c["name"] == sel["chosen"])
    assert card.config["arch_kwargs"]["dropout_at"] == chosen["dropout_at"]
    assert card.provenance["training"]["runs"][0]["command"].startswith("python -m uqcore train sr")
    printed = json.loads(capsys.readouterr().out)
    assert printed["chosen"] == sel["chosen"]


def _member(folder, index, steps):
    meta = {"arch": "srresnet", "command": f"python -m uqcore train sr --seed {100 + index}", "steps": str(steps),
            "seed": str(100 + index), "train_seconds": "2.0", "hardware": "CPU", "torch": "2", "n_train_images": "38",
            "arch_kwargs": json.dumps({"scale": 4, "n_feats": 32, "n_blocks": 8})}
    save_file(load_file(str(MODELS_DIR / "srresnet.safetensors")), str(folder / f"ens.{index}.safetensors"),
              metadata=meta)


def test_install_ensemble_installs_finished_members_only(tmp_path):
    models, runs = tmp_path / "models", tmp_path / "runs"
    models.mkdir()
    runs.mkdir()
    card = read_card(MODELS_DIR / "srresnet-ens.json")
    for f in card.config["weights"]:
        (models / f).symlink_to(MODELS_DIR / f)
    shutil.copyfile(MODELS_DIR / "srresnet-ens.json", models / "srresnet-ens.json")
    _member(runs, 1, 2500)
    _member(runs, 2, 1200)  # unfinished: not installed
    assert main(["install-ensemble", "--candidates", str(runs), "--models-dir", str(models)]) == 0
    assert (models / "srresnet-ens.1.safetensors").is_symlink()  # without --write nothing changes
    assert main(["install-ensemble", "--candidates", str(runs), "--models-dir", str(models), "--write"]) == 0
    after = read_card(models / "srresnet-ens.json")
    assert not (models / "srresnet-ens.1.safetensors").is_symlink()
    assert (models / "srresnet-ens.2.safetensors").is_symlink()
    assert after.config["members"] == len(after.config["weights"]) == card.config["members"]
    assert after.provenance["training"]["runs"][1]["seed"] == 101
    assert after.provenance["training"]["runs"][2] == card.provenance["training"]["runs"][2]
    assert main(["install-ensemble", "--candidates", str(tmp_path / "none"), "--models-dir", str(models)]) == 1


def test_select_students_scores_the_bundled_head_and_candidates(tmp_path, capsys):
    pytest.importorskip("skimage")
    models, runs = tmp_path / "models", tmp_path / "students"
    models.mkdir()
    runs.mkdir()
    shutil.copyfile(MODELS_DIR / "srresnet.student.json", models / "srresnet.student.json")
    shutil.copyfile(MODELS_DIR / "srresnet.student.safetensors", runs / "srresnet-copy.safetensors")
    shutil.copyfile(MODELS_DIR / "srresnet.student.json", runs / "srresnet-copy.json")
    code = main(["select", "students", "--models", "srresnet", "--candidates", str(runs), "--models-dir", str(models),
                 "--images", "1", "--crop", "64", "--write"])
    assert code == 0
    sel = read_card(models / "srresnet.student.json").measured["selection"]
    names = [c["name"] for c in sel["candidates"]]
    assert names[:2] == ["bundled", "srresnet-copy"] and sel["chosen"] == "bundled"  # a tie keeps the bundled head
    scored = [c for c in sel["candidates"] if c["name"] in ("bundled", "srresnet-copy")]
    assert scored[0]["ratio"] == scored[1]["ratio"]
    assert sel["command"].startswith("python -m uqcore select students --models srresnet --crop 64")
