"""``python -m uqcore train depth``: a 3-step run on a tiny generated folder, then resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from uqcore import scenes
from uqcore.cli import main
from uqcore.models.fcrn import FCRN

TINY_ARCH = json.dumps(
    {"widths": [4, 4, 8, 8, 8], "blocks": [1, 1, 1, 1], "reduce": 8, "decoder": [8, 4, 4, 4], "dropout": 0.1}
)


@pytest.fixture()
def scene_folder(tmp_path):
    folder = tmp_path / "scenes"
    scenes.write_scenes(folder, n=4, seed=100, height=32, width=40, supersample=1)
    return folder


def _train(folder, out, *extra):
    args = ["train", "depth", "--data", str(folder), "--out", str(out), "--arch", TINY_ARCH, "--batch", "2"]
    return main([*args, "--threads", "1", "--no-progress", *extra])


def test_train_checkpoint_resume(scene_folder, tmp_path):
    out = tmp_path / "d.safetensors"
    assert _train(scene_folder, out, "--steps", "3", "--checkpoint-every", "2", "--seed", "4") == 0
    ckpt = torch.load(tmp_path / "d.ckpt.pt", map_location="cpu", weights_only=True)
    assert ckpt["step"] == 3
    meta = safe_open(str(out), "pt").metadata()
    assert meta["steps"] == "3" and meta["seed"] == "4" and meta["train_pairs"] == "4"
    assert meta["command"].startswith("python -m uqcore train depth")
    assert 0.5 < float(meta["train_mean_depth"]) < 10
    net = FCRN(**json.loads(meta["arch_kwargs"]))
    net.load_state_dict(load_file(str(out)))  # strict: the file fits the architecture
    y = net.eval()(torch.rand(1, 3, 32, 40))
    assert y.shape == (1, 1, 32, 40) and (y > 0).all()

    # resume continues at step 3 and goes on to 5
    assert _train(scene_folder, out, "--steps", "5", "--checkpoint-every", "2", "--seed", "4", "--resume") == 0
    assert torch.load(tmp_path / "d.ckpt.pt", map_location="cpu", weights_only=True)["step"] == 5


def test_resume_matches_uninterrupted(scene_folder, tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert _train(scene_folder, a, "--steps", "4", "--checkpoint-every", "10") == 0
    # the same run interrupted after step 2 (--until) and resumed gives the same weights
    assert _train(scene_folder, b, "--steps", "4", "--until", "2") == 0
    assert not b.exists()
    assert torch.load(tmp_path / "b.ckpt.pt", map_location="cpu", weights_only=True)["step"] == 2
    assert _train(scene_folder, b, "--steps", "4", "--resume") == 0
    wa, wb = load_file(str(a)), load_file(str(b))
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k])


def test_bad_inputs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "depth", "--data", str(empty), "--steps", "1", "--out", str(tmp_path / "x.safetensors")]) == 2
    assert _train(empty, tmp_path / "x.pt", "--steps", "1") == 2
    assert _train(empty, tmp_path / "y.safetensors", "--steps", "1", "--resume") == 2


def test_fine_tuned_card_keeps_the_first_stage(scene_folder, tmp_path):
    """python -m uqcore card depth (uqcore.training.cards.depth_card) on weights trained with --init
    records both runs."""
    from uqcore.training.cards import depth_card as base_card

    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    assert _train(scene_folder, first, "--steps", "2") == 0
    assert _train(scene_folder, second, "--steps", "3", "--init", str(first), "--lr", "0.0005") == 0
    first_card = base_card(first)
    assert "stages" not in first_card["training"] and first_card["training"]["steps"] == 2
    with pytest.raises(SystemExit, match="--init-card"):
        base_card(second)
    card = base_card(second, previous=first_card)
    stages = card["training"]["stages"]
    assert [s["stage"] for s in stages] == [1, 2]
    assert [s["steps"] for s in stages] == [2, 3] and card["training"]["total_steps"] == 5
    assert "--init" not in stages[0]["command"] and f"--init {first}" in stages[1]["command"]
    assert stages[1]["init"].startswith(str(first))
    assert card["training"]["total_train_seconds"] == pytest.approx(
        stages[0]["train_seconds"] + stages[1]["train_seconds"], abs=0.11)
