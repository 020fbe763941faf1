"""``python -m uqcore train sr``: a few steps of tiny configs on a tiny folder, plus resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

from uqcore.cli import main
from uqcore.models.srresnet import SRResNet

TINY = ["--n-feats", "4", "--n-blocks", "2", "--batch", "2", "--patch", "32", "--no-progress", "--threads", "1"]


@pytest.fixture()
def hr_folder(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        img = (rng.random((48 + 8 * i, 56, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _train(folder, out, *extra):
    return main(["train", "sr", "--data", str(folder), "--out", str(out), *TINY, *extra])


def test_train_resume_and_weights(hr_folder, tmp_path):
    out = tmp_path / "m.safetensors"
    assert _train(hr_folder, out, "--steps", "3", "--ckpt-every", "2", "--seed", "5") == 0
    ckpt = tmp_path / "m.ckpt.pt"
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["step"] == 3
    first = load_file(str(out))
    meta = safe_open(str(out), "pt").metadata()
    assert meta["steps"] == "3" and meta["seed"] == "5"
    assert meta["command"].startswith("python -m uqcore train sr")
    kwargs = json.loads(meta["arch_kwargs"])
    net = SRResNet(**kwargs)
    net.load_state_dict(first)  # strict: the file fits the architecture

    # resume: continues at step 3 and goes on to 5
    assert _train(hr_folder, out, "--steps", "5", "--seed", "5", "--resume") == 0
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["step"] == 5
    second = load_file(str(out))
    assert any(not torch.equal(first[k], second[k]) for k in first)


def test_interrupted_and_resumed_run_matches_uninterrupted(hr_folder, tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert _train(hr_folder, a, "--steps", "4", "--arch", "mcdrop") == 0
    assert _train(hr_folder, b, "--steps", "4", "--arch", "mcdrop", "--stop-after", "2") == 0
    assert torch.load(tmp_path / "b.ckpt.pt", weights_only=True)["step"] == 2
    assert _train(hr_folder, b, "--steps", "4", "--arch", "mcdrop", "--resume") == 0
    wa, wb = load_file(str(a)), load_file(str(b))
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


@pytest.mark.parametrize("arch", ["mcdrop", "llm", "srgan"])
def test_variants_train_from_init(hr_folder, tmp_path, arch):
    base = tmp_path / "base.safetensors"
    assert _train(hr_folder, base, "--steps", "1") == 0
    out = tmp_path / f"{arch}.safetensors"
    assert _train(hr_folder, out, "--steps", "2", "--arch", arch, "--init", str(base)) == 0
    kwargs = json.loads(safe_open(str(out), "pt").metadata()["arch_kwargs"])
    net = SRResNet(**kwargs)
    net.load_state_dict(load_file(str(out)))
    y = net.eval()(torch.rand(1, 3, 8, 8))
    assert y.shape == (1, 6 if arch == "llm" else 3, 32, 32)
    if arch == "mcdrop":
        assert any(isinstance(m, torch.nn.Dropout) for m in net.modules())


def test_bad_folder_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _train(empty, tmp_path / "x.safetensors", "--steps", "1") == 2
    assert "no images" in capsys.readouterr().err
