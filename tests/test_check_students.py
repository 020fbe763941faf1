"""scripts/check_students.py --data heldout: the validation set for choosing student heads is
neither the evaluation samples nor the heads' training images, and is prepared like the samples."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("check_students", ROOT / "scripts" / "check_students.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sr_validation_set_is_disjoint_from_samples_and_training_and_prepared_like_them():
    pytest.importorskip("skimage")
    script = load_script()
    names, pairs = script.heldout_pairs(SimpleNamespace(task="sr", scale=4))
    assert len(names) == len(pairs) >= 5
    stems = {n.split(":", 1)[1] for n in names}
    samples = {p.stem for p in (ROOT / "assets" / "samples" / "sr").iterdir()}
    training = set()
    for card in (ROOT / "assets" / "models").glob("*.student.json"):
        training |= {Path(n).stem for n in json.loads(card.read_text()).get("training", {}).get("image_names", [])}
    assert samples and training
    assert not stems & samples and not stems & training
    for lr, hr in pairs:
        assert lr.shape[0] == 1 and lr.shape[1] == 3 and hr.shape[0] == 3
        assert hr.shape[-2:] == (lr.shape[-2] * 4, lr.shape[-1] * 4)
        assert max(hr.shape[-2:]) <= script.HELDOUT_CROP


def test_write_refuses_the_validation_set(monkeypatch):
    script = load_script()
    monkeypatch.setattr(sys, "argv", ["check_students.py", "--models", "srgan", "--data", "heldout", "--write"])
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2
