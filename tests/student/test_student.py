"""The one-pass student head (uncertainty in one forward pass) on tiny models: the frozen model is
untouched, the head is one pass, the CLI writes a head + card, resume is exact, misfits are
refused, evaluate scores it."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

import uqcore
from tests.tiny_models import TinySR, make_tiny_sr
from uqcore.cli import main
from uqcore.models.student_files import attach_student, load_student, save_student
from uqcore.student.train import default_feature_layers, distill
from uqcore.models.card import read_card


def _images(n=4, size=24):
    gen = torch.Generator().manual_seed(3)
    return [torch.rand((3, size, size + 4), generator=gen) for _ in range(n)]


FAST = dict(steps=4, crop=8, batch=2, samples=4, seed=0)


@pytest.fixture(scope="module")
def trained():
    model = make_tiny_sr()
    return model, distill(model, _images(), **FAST)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_distill_leaves_the_model_bit_identical_and_without_gradients():
    model = make_tiny_sr()
    x = torch.rand((1, 3, 10, 12), generator=torch.Generator().manual_seed(5))
    before, out_before = _state(model.module), model.module(x).detach()
    result = distill(model, _images(), **FAST)
    assert result.steps_done == 4 and len(result.losses) == 4 and all(np.isfinite(result.losses))
    for p in model.module.parameters():
        assert p.grad is None and p.requires_grad  # no gradient reached it; its flags are restored
    after = _state(model.module)
    assert all(torch.equal(before[k], after[k]) for k in before)
    attach_student(model, result.head)
    assert torch.equal(model.module(x).detach(), out_before)
    est = uqcore.estimate(model, x, method="student")
    ref = uqcore.estimate(model, x, method="transform", samples=2)
    assert est.samples == 0 and torch.equal(est.prediction, ref.original)
    assert est.variance.shape == ref.variance.shape and bool((est.variance > 0).all())


def test_head_gradients_flow_only_into_the_head(trained):
    model, result = trained
    head = result.head
    for p in head.parameters():
        p.requires_grad_(True)
    x = torch.rand((2, 3, 8, 8))
    _, logvar = head.predict(model.module, x)
    logvar.sum().backward()
    assert all(p.grad is None for p in model.module.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def test_student_is_listed_only_with_a_head(trained):
    model, result = trained
    bare = make_tiny_sr()
    assert "student" not in bare.methods
    with pytest.raises(uqcore.InputError, match="does not apply"):
        uqcore.estimate(bare, torch.rand((1, 3, 8, 8)), method="student")
    attach_student(bare, result.head)
    assert "student" in bare.methods
    assert default_feature_layers(bare) == list(result.head.config.layers)


def test_save_load_round_trip_and_mismatch_refused(tmp_path, trained):
    model, result = trained
    path = tmp_path / "head.safetensors"
    save_student(result.head, path, result.card)
    loaded = load_student(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), result.head.state_dict().values()))
    card = read_card(tmp_path / "head.json").flat()
    assert card["features"] == list(result.head.config.layers) and card["training"]["images"] == 4
    wider = uqcore.wrap(TinySR(feats=6), task="sr", scale=2, name="wider")
    with pytest.raises(uqcore.InputError, match=r"does not fit model 'wider'.*channels"):
        attach_student(wider, path)
    assert "student" not in wider.methods
    pickle_path = tmp_path / "head.pt"
    torch.save(result.head.state_dict(), pickle_path)
    with pytest.raises(uqcore.InputError, match="safetensors"):
        attach_student(model, pickle_path)


def test_distill_refuses_a_teacher_the_model_lacks():
    with pytest.raises(uqcore.InputError, match="teacher 'ensemble'"):
        distill(make_tiny_sr(), _images(), teacher="ensemble", **FAST)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    images = _images()
    full = distill(make_tiny_sr(), images, ckpt=tmp_path / "a.ckpt.pt", ckpt_every=3, **dict(FAST, steps=6))
    calls = []
    part = distill(make_tiny_sr(), images, ckpt=tmp_path / "b.ckpt.pt", ckpt_every=3,
                   should_stop=lambda: len(calls) >= 3, on_step=lambda *a: calls.append(a), **dict(FAST, steps=6))
    assert part.stopped and part.steps_done == 3
    resumed = distill(make_tiny_sr(), images, ckpt=tmp_path / "b.ckpt.pt", ckpt_every=3, resume=True,
                      **dict(FAST, steps=6))
    assert resumed.steps_done == 6
    a, b = full.head.state_dict(), resumed.head.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(uqcore.InputError, match="other settings"):
        distill(make_tiny_sr(), images, ckpt=tmp_path / "b.ckpt.pt", resume=True, **dict(FAST, steps=7))


def _tiny_card(folder):
    from safetensors.torch import save_file

    from uqcore.models.srresnet import SRResNet

    arch = {"scale": 2, "n_feats": 4, "n_blocks": 2}
    torch.manual_seed(0)
    net = SRResNet(**arch)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "tiny.safetensors"))
    card = {"name": "tiny-srresnet", "task": "sr", "scale": 2, "architecture": "srresnet", "arch_kwargs": arch,
            "weights": "tiny.safetensors", "probe_size": [16, 16]}
    (folder / "tiny.json").write_text(json.dumps(card))
    return folder / "tiny.json"


def test_cli_distill_writes_head_and_card_then_load_model_and_evaluate_use_it(tmp_path, capsys):
    data = tmp_path / "images"
    data.mkdir()
    for i, img in enumerate(_images(4, 32)):
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(data / f"img{i}.png")
    card = _tiny_card(tmp_path)
    out = tmp_path / "tiny-srresnet.student.safetensors"
    start = time.perf_counter()
    code = main(["distill", "--model", str(card), "--images", str(data), "--out", str(out), "--steps", "4",
                 "--crop", "8", "--batch", "2", "--samples", "4", "--ckpt-every", "2", "--quiet", "--threads", "1"])
    assert code == 0 and time.perf_counter() - start < 30
    head_card = read_card(out.with_suffix(".json")).flat()
    assert head_card["training"]["images"] == 4 and head_card["training"]["steps"] == 4
    assert head_card["training"]["image_names"] == [f"img{i}.png" for i in range(4)]
    assert head_card["teacher"]["method"] == "transform" and head_card["features"] == ["body.1", "upsample"]
    # beside the model card and named after the model: attached automatically
    model = uqcore.load_model(str(card))
    assert "student" in model.methods
    assert "student" not in uqcore.load_model(str(card), student=False).methods
    explicit = uqcore.load_model(str(card), student=out)
    assert explicit.source["args"]["student"] == str(out.resolve())
    pairs = [(torch.rand((1, 3, 8, 10)), torch.rand((3, 16, 20))) for _ in range(3)]
    rows = uqcore.evaluate(model, pairs, methods=["transform", "student"], samples=[4])
    student = [r for r in rows if r["method"] == "student"]
    assert len(student) == 4 and {r["samples_drawn"] for r in student} == {0}
    assert all(np.isfinite(r["corr"]) for r in student if r["level"] in ("pixel", "mean"))  # tiny images: no blocks
    code = main(["evaluate", "--model", str(card), "--data", str(data), "--methods", "transform,student",
                 "--samples", "4", "--out", str(tmp_path / "res.csv")])
    assert code == 0 and "student (4)" in capsys.readouterr().out


def test_ranking_and_error_terms_change_the_head():
    images = _images()
    plain = distill(make_tiny_sr(), images, **FAST).head.state_dict()
    for extra in ({"rank_weight": 1.0}, {"error_weight": 1.0}):
        result = distill(make_tiny_sr(), images, **FAST, **extra)
        assert all(np.isfinite(result.losses)) and result.card["settings"][next(iter(extra))] == 1.0
        other = result.head.state_dict()
        assert any(not torch.equal(plain[k], other[k]) for k in plain)


def test_head_from_checkpoint_is_the_head_at_that_step(tmp_path):
    """distill --from-checkpoint: a run stopped after its checkpoint gives the checkpoint's head."""
    from uqcore.student.checkpoint import head_from_checkpoint

    calls = []
    part = distill(make_tiny_sr(), _images(), ckpt=tmp_path / "r.ckpt.pt", ckpt_every=3,
                   should_stop=lambda: len(calls) >= 3, on_step=lambda *a: calls.append(a), **dict(FAST, steps=6))
    head, card = head_from_checkpoint(make_tiny_sr(), tmp_path / "r.ckpt.pt", None)
    a, b = part.head.state_dict(), head.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (card["training"]["steps"], card["training"]["steps_planned"]) == (3, 6)
    assert card["settings"]["steps"] == 6 and card["teacher"]["samples"] == FAST["samples"]
    model = attach_student(make_tiny_sr(), head)  # fits the model it was trained for
    assert "student" in model.methods
