"""Triage (uqcore.datasets.triage): ranking and the image-level curve on planted images whose error
is known, resume after an interruption, skipped files and their reasons, flat memory."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import uqcore
from uqcore.datasets import triage as T
from uqcore.distributed import Store
from tests.support import png_folder
from tests.tiny_models import make_tiny_sr

ROOT = Path(__file__).resolve().parents[2]
AMPLITUDES = [0.05, 0.4, 0.15, 0.3, 0.1, 0.45, 0.2, 0.35, 0.25, 0.02]  # planted texture, in no order


def shift_model() -> uqcore.UQModel:
    """y = x moved one pixel right (zeros enter at the left): not rotation-equivariant, so the
    transform method's variance grows with the image's horizontal / vertical contrast, as its error
    against the image itself does."""
    conv = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, 0, 1, 0] = 1.0
    return uqcore.wrap(conv, task="image", name="shift")


def planted(folder: Path) -> dict[str, float]:
    """Images 0.5 + a·stripes (same inputs and targets): {name: the known mean error |shift(x) - x|}."""
    (folder / "in").mkdir(parents=True)
    (folder / "truth").mkdir()
    yy, xx = np.mgrid[0:24, 0:24]
    stripes = np.sign(np.sin(xx * 1.3) + np.cos(yy * 0.7 + 0.3))
    known = {}
    for i, a in enumerate(AMPLITUDES):
        img = np.repeat((0.5 + a * stripes)[..., None], 3, axis=2)
        pixels = (img * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(folder / "in" / f"p{i}.png")
        Image.fromarray(pixels).save(folder / "truth" / f"p{i}.png")
        x = pixels.astype(np.float64) / 255
        moved = np.zeros_like(x)
        moved[:, 1:] = x[:, :-1]
        known[f"p{i}"] = float(np.abs(moved - x).mean())
    return known


def test_ranking_and_curve_on_planted_images(tmp_path):
    known = planted(tmp_path)
    model = shift_model()
    items = T.folder_items(tmp_path / "in", tmp_path / "truth")
    ranking = T.rank_images(model, items, T.Setting(method="transform", samples=8))
    by_error = sorted(known, key=known.get, reverse=True)
    assert ranking.names == by_error  # more texture: more uncertain and more wrong
    for row in ranking.rows:
        assert row["mean_error"] == pytest.approx(known[row["name"]], rel=1e-6)
        assert 0 <= row["share_above"] <= 1 and row["p95_uncertainty"] >= 0
    truth = T.truth_summary(ranking.rows)
    assert truth.images == len(AMPLITUDES) and truth.checked == 1
    assert truth.ause == pytest.approx(0.0, abs=1e-12)  # the ranking is the oracle's
    assert truth.spearman.estimate == pytest.approx(1.0)
    top = max(known.values())
    assert truth.caught == pytest.approx(top / sum(known.values())) == pytest.approx(truth.oracle_caught)
    assert f"catches {truth.caught:.0%}".replace("%", " %") in truth.sentence()


def test_curve_of_a_reversed_ranking_is_the_worst():
    rows = [{"name": f"i{k}", "mean_error": float(k), "mean_uncertainty": float(-k)} for k in range(1, 21)]
    truth = T.truth_summary(rows)
    assert truth.spearman.estimate == pytest.approx(-1.0)
    assert truth.spearman.hi < 0  # the interval says so too
    assert truth.caught == pytest.approx((1 + 2) / sum(range(1, 21)))  # the two smallest errors are checked
    assert truth.oracle_caught == pytest.approx((20 + 19) / sum(range(1, 21)))
    assert truth.ause > 0.3


def read_rows(path: Path, drop=("seconds",)) -> list[dict]:
    with path.open() as fh:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(fh)]


def test_resume_after_an_interruption_gives_the_same_csv(tmp_path):
    folder = png_folder(tmp_path / "images", 8)
    (folder / "broken.png").write_bytes(b"not a png")
    model = make_tiny_sr()
    items = T.folder_items(folder)
    setting = T.Setting(method="noise", layer="body.1", strength=0.1, samples=4)
    whole = T.rank_images(model, items, setting, store=Store(tmp_path / "a" / "run", tmp_path / "a" / "triage.csv"))

    seen = []

    def interrupt(row):
        seen.append(row["name"])
        if len(seen) == 4:
            raise KeyboardInterrupt

    store = Store(tmp_path / "b" / "run", tmp_path / "b" / "triage.csv")
    with pytest.raises(KeyboardInterrupt):
        T.rank_images(model, items, setting, store=store, on_row=interrupt)
    kept = read_rows(tmp_path / "b" / "triage.csv", drop=())
    assert [r["name"] for r in kept] == seen  # every finished row was written before the stop
    resumed = T.rank_images(model, items, setting, store=store, resume=True)
    assert read_rows(tmp_path / "b" / "triage.csv") == read_rows(tmp_path / "a" / "triage.csv")
    assert resumed.names == whole.names
    seconds = {r["name"]: r["seconds"] for r in resumed.rows}
    for row in kept:  # the rows kept were not computed again
        if row["seconds"]:
            assert seconds[row["name"]] == float(row["seconds"])


def test_skipped_files_get_their_reasons(tmp_path, monkeypatch):
    folder = png_folder(tmp_path / "images", 3)
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    (folder / "cut.png").write_bytes((folder / "img0.png").read_bytes()[:60])
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(folder / "huge.png")
    monkeypatch.setenv("UQCORE_MAX_PIXELS", str(40 * 40 - 1))
    ranking = T.rank_images(make_tiny_sr(), T.folder_items(folder), T.Setting(method="transform", samples=2))
    assert sorted(ranking.names) == ["img0", "img1", "img2"]
    reasons = {s["name"]: s["reason"] for s in ranking.skipped}
    assert set(reasons) == {"notes", "empty", "cut", "huge"}
    assert "not an image file (.txt)" in reasons["notes"]
    assert "empty (0 bytes)" in reasons["empty"]
    assert "damaged or truncated" in reasons["cut"] or "not an image Pillow can read" in reasons["cut"]
    assert "UQCORE_MAX_PIXELS" in reasons["huge"] and "40×40" in reasons["huge"]


def test_settings_and_bad_options(tmp_path):
    model = make_tiny_sr()
    assert T.ranking_setting(model).method == model.methods[0]  # no head, no card: the first method
    noise = T.ranking_setting(model, "noise")
    assert noise.layer and noise.strength > 0
    with pytest.raises(uqcore.InputError, match="not 'student'"):
        T.ranking_setting(model, "student")
    with pytest.raises(uqcore.InputError, match="no recommended setting"):
        T.teacher_setting(model)
    assert T.teacher_setting(model, "transform").method == "transform"
    with pytest.raises(uqcore.InputError, match="not a folder"):
        T.folder_items(tmp_path / "missing")
    folder = png_folder(tmp_path / "images", 2)
    with pytest.raises(uqcore.InputError, match="positive variance"):
        T.TriageJob(model, T.folder_items(folder), noise, threshold=0)


MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[3])
    from pathlib import Path
    from uqcore.datasets import triage as T
    from uqcore.distributed import Store
    from tests.tiny_models import make_tiny_sr

    def kib(key):
        return int(next(l for l in open("/proc/self/status") if l.startswith(key + ":")).split()[1])

    out, marks, peaks = Path(sys.argv[2]), (20, 100), {}
    def mark(row):
        done = len(peaks.setdefault("rows", [])) + 1
        peaks["rows"].append(row["name"])
        if done in marks:
            peaks[done] = kib("VmHWM")
    T.rank_images(make_tiny_sr(), T.folder_items(sys.argv[1]), T.Setting(method="transform", samples=4),
                  store=Store(out / "run", out / "triage.csv"), on_row=mark)
    print(json.dumps({"at20": peaks[20], "at100": peaks[100]}))
""")


def test_memory_stays_flat_over_the_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(100):
        Image.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)).save(folder / f"i{i:03d}.png")
    script = tmp_path / "measure.py"
    script.write_text(MEMORY_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "out"), str(ROOT)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    peaks = json.loads(done.stdout.strip().splitlines()[-1])
    growth_mb = (peaks["at100"] - peaks["at20"]) / 1024
    print(f"peak RSS growth from image 20 to image 100: {growth_mb:.1f} MB")
    # each image's map (192² float) and samples would add up to far more if any were kept
    assert growth_mb < 20
