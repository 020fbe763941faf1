"""uqcore.datasets.sources / python -m uqcore data: the eval set's scikit-image crops rebuild pixel for
pixel, and the one .deb helper skips what is already unpacked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from uqcore.cli import main
from uqcore.datasets.debian import unpack_debs
from uqcore.datasets.sources import EVAL
from uqcore.models.registry import SAMPLES_DIR


def test_sr_eval_rebuilds_the_bundled_crops(tmp_path, capsys):
    pytest.importorskip("skimage")
    assert main(["data", "sr-eval", "--out", str(tmp_path)]) == 0
    for _, name, _, _ in EVAL:
        got = np.asarray(Image.open(tmp_path / name))
        want = np.asarray(Image.open(SAMPLES_DIR / "sr" / name))
        assert got.shape == want.shape and np.array_equal(got, want), name


def test_unpack_debs_skips_an_unpacked_package(tmp_path, monkeypatch):
    (tmp_path / "x" / "pkg" / "usr" / "share").mkdir(parents=True)
    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    unpack_debs(["pkg"], tmp_path / "debs", tmp_path / "x", marker="usr/share", per_package=True)
    assert calls == []
