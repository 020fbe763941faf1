"""AppTest: one-pass student heads in the dashboard (uncertainty in one forward pass) — trained on the Models page on
uploaded images, or uploaded; attached for this session only; offered by Explore and Compare."""

from __future__ import annotations

import json

import numpy as np
import torch
from safetensors.torch import save

import uqcore
from tests.app.apptest_support import app, arr, assert_clean, charts, metrics, png_bytes, trace
from tests.tiny_models import make_tiny_sr


def methods_on_explore(at) -> list[str]:
    at.switch_page("pages/explore.py").run()
    assert_clean(at)
    return list(at.selectbox(key="method").options)


def test_train_a_head_on_the_models_page_then_explore_and_compare_offer_student():
    at = app(page="pages/models.py")
    assert_clean(at)
    assert "student" not in methods_on_explore(app())
    at.file_uploader(key="student_images").upload("a.png", png_bytes(48, 48, 1)).upload("b.png", png_bytes(40, 56, 2)).run()
    for key, value in (("student_steps_tiny-sr", 3), ("student_crop_tiny-sr", 16), ("student_samples_tiny-sr", 2)):
        at.number_input(key=key).set_value(value).run()
    line = next(c.value for c in at.code if c.language == "bash")  # the equivalent CLI line
    assert line.startswith("python -m uqcore distill --model tiny-sr --images ")
    assert "--teacher transform" in line and "--samples 2 --steps 3 --crop 16" in line
    at.button(key="student_train").click().run()
    assert_clean(at)
    assert "(3 steps, " in at.success[0].value and "attached" in at.success[0].value
    summary = next(m.value for m in at.markdown if "Student head attached" in m.value)
    assert "distilled from transform" in summary and "2 images, 3 steps" in summary
    downloads = {b.proto.label: b for b in at.get("download_button")}
    assert {"Head (.safetensors)", "Card (JSON)"} <= set(downloads)
    own = at.session_state["student_models"]["tiny-sr"]
    assert own.student_card["training"]["image_names"] == ["000_a.png", "001_b.png"]
    assert own.student is not None and own.student_card["teacher"]["samples"] == 2

    assert "student" in methods_on_explore(at)
    at.selectbox(key="method").set_value("student").run()
    assert_clean(at)
    shown = metrics(at)
    assert shown["Samples"] == "1 pass" and shown["samples"] == "0 (one pass)"
    assert any("distilled from transform" in c.value and "2 images, 3 steps" in c.value for c in at.caption)
    assert not any("Map reliability" in c.value for c in at.caption)  # one pass: no reliability, no trace
    variance = arr(trace(charts(at)[0], "variance")["z"]).astype(float)
    assert np.isfinite(variance).all() and variance.std() > 0
    # the cached model is shared by every session: the head stays in this one
    assert "student" not in methods_on_explore(app())
    at.switch_page("pages/compare.py").run()
    assert_clean(at)
    assert "student" in at.multiselect(key="compare.methods_tiny-sr").options
    at.multiselect(key="compare.methods_tiny-sr").set_value(["transform", "student"])
    at.multiselect(key="compare.counts").set_value([2])
    at.number_input(key="compare.limit").set_value(1).run()
    at.button(key="cmp_run").click().run()
    assert_clean(at)
    labels = charts(at)[0]["data"][0]["x"]
    assert labels[0] == "transform ×2" and labels[1].startswith("student") and len(labels) == 2


def _head_bytes(model, tmp_path, name: str) -> tuple[bytes, bytes]:
    images = [torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    result = uqcore.student.distill(model, images, tmp_path / f"{name}.safetensors", steps=1, crop=8, samples=2)
    return result.path.read_bytes(), result.path.with_suffix(".json").read_bytes()


def test_upload_a_head_mismatched_and_not_a_head_are_refused_clearly(tmp_path):
    at = app(page="pages/models.py")
    wrong, _ = _head_bytes(make_tiny_sr(), tmp_path, "other")
    at.file_uploader(key="student_upload").upload("other.safetensors", wrong).run()
    at.button(key="student_attach").click().run()
    assert not at.exception
    assert "does not fit model 'tiny-sr'" in at.error[0].value and "other.safetensors" in at.error[0].value
    assert "student" not in methods_on_explore(at)

    at.switch_page("pages/models.py").run()
    plain = save({"w": torch.zeros(2)})
    at.file_uploader(key="student_upload").clear().upload("plain.safetensors", plain).run()
    at.button(key="student_attach").click().run()
    assert "not a uqcore student head" in at.error[0].value

    head, card = _head_bytes(uqcore.load_model("tiny-sr", student=False), tmp_path, "mine")
    at.file_uploader(key="student_upload").clear().upload("mine.safetensors", head).upload("mine.json", card).run()
    at.button(key="student_attach").click().run()
    assert_clean(at)
    assert "Attached mine.safetensors to tiny-sr" in at.success[0].value
    summary = next(m.value for m in at.markdown if "Student head attached" in m.value)
    assert "uploaded: mine.safetensors" in summary and "1 steps" in summary  # from its card
    assert json.loads(at.session_state["student_heads"]["tiny-sr"]["card"])["training"]["steps"] == 1
    assert "student" in methods_on_explore(at)
    at.switch_page("pages/models.py").run()
    at.button(key="student_remove").click().run()
    assert_clean(at)
    assert not any("Student head attached" in m.value for m in at.markdown)
    assert "student" not in methods_on_explore(at)
