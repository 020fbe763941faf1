"""``tile=`` through evaluate and calibrate, and ``python -m uqcore map --images DIR``: large
images through the commands, with the untiled numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import uqcore
from uqcore.calibration import calibrate
from uqcore.datasets.evaluate import evaluate
from uqcore.datasets.folders import make_lr

from tests.tiny_models import make_tiny_sr
from tests.support import as_pairs, smooth_hr

# columns that are wall time, not numbers of the maps
TIMING = {"seconds_per_image", "seconds"}


def pairs(n=2):
    return as_pairs([make_lr(smooth_hr(h=40, w=44, seed=i), 2) for i in range(n)])


def assert_rows_equal(untiled, tiled):
    assert len(untiled) == len(tiled)
    for a, b in zip(untiled, tiled):
        assert a.keys() == b.keys()
        for key in a.keys() - TIMING:
            va, vb = a[key], b[key]
            if isinstance(va, float) and math.isfinite(va):
                assert vb == pytest.approx(va, rel=1e-3, abs=1e-5), key
            else:
                assert va == vb or (isinstance(va, float) and math.isnan(va) and math.isnan(vb)), key


def test_evaluate_tiled_rows_equal_untiled_rows():
    model, data = make_tiny_sr(), pairs(2)
    kw = dict(methods=["transform", "noise"], samples=[3], seed=2)
    assert uqcore.estimate(model, data[0][0], samples=1, tile=16).tiles > 1  # the tile does split these images
    assert_rows_equal(evaluate(model, data, **kw), evaluate(model, data, tile=16, **kw))


def test_calibrate_tiled_equals_untiled():
    model, data = make_tiny_sr(), pairs(2)
    kw = dict(method="noise", samples=3, seed=1, kind="conformal")
    untiled, tiled = calibrate(model, data, **kw), calibrate(model, data, tile=16, **kw)
    assert tiled.setting == untiled.setting and tiled.values == untiled.values
    assert tiled.fitted.keys() == untiled.fitted.keys()
    for key, value in untiled.fitted.items():
        np.testing.assert_allclose(np.asarray(tiled.fitted[key], dtype=float), np.asarray(value, dtype=float),
                                   rtol=1e-3, atol=1e-6, err_msg=key)


def test_evaluate_and_calibrate_cli_take_tile(tmp_path):
    import csv
    import json

    from uqcore.cli import main

    from tests.support import save_png, write_tiny_card

    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        save_png(data / f"i{i}.png", smooth_hr(36, 40, seed=i))
    card = write_tiny_card(tmp_path)
    outputs = {}
    for name, extra in (("untiled", []), ("tiled", ["--tile", "12"])):
        cal, rows = tmp_path / f"{name}.json", tmp_path / f"{name}.csv"
        base = ["--model", str(card), "--data", str(data), "--samples", "3"]
        assert main(["calibrate", *base, "--method", "noise", "--layer", "body.1", "--out", str(cal), *extra]) == 0
        assert main(["evaluate", *base, "--methods", "noise", "--layer", "body.1", "--out", str(rows), *extra]) == 0
        outputs[name] = json.loads(cal.read_text())["fitted"], list(csv.DictReader(rows.open()))
    (fit_a, rows_a), (fit_b, rows_b) = outputs["untiled"], outputs["tiled"]
    assert fit_a.keys() == fit_b.keys() and len(rows_a) == len(rows_b)
    for key in fit_a:
        np.testing.assert_allclose(np.asarray(fit_b[key], float), np.asarray(fit_a[key], float), rtol=1e-3, atol=1e-6)
    for a, b in zip(rows_a, rows_b):
        for key in a.keys() - TIMING:
            try:
                assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-3, abs=1e-5, nan_ok=True), key
            except ValueError:  # a text column
                assert a[key] == b[key], key


def _png(path, h, w, seed):
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def test_map_cli_a_folder_with_hr_matched_by_name(tmp_path, capsys):
    from uqcore.cli import main

    images, hr = tmp_path / "lr", tmp_path / "hr"
    images.mkdir()
    hr.mkdir()
    for i, (h, w) in enumerate([(12, 10), (8, 14)]):
        _png(images / f"im{i}.png", h, w, i)
        _png(hr / f"im{i}.jpg", 4 * h, 4 * w, 10 + i)
    base = ["map", "--model", "srresnet", "--layer", "body.5", "--samples", "2", "--seed", "3"]
    assert main(base + ["--images", str(images), "--hr", str(hr), "--tile", "24", "--out", str(tmp_path / "out")]) == 0
    assert "wrote" in capsys.readouterr().out
    for i, (h, w) in enumerate([(12, 10), (8, 14)]):
        folder = tmp_path / "out" / f"im{i}"
        var = np.load(folder / "variance.npy")
        assert var.shape == (4 * h, 4 * w) and (folder / "metrics.json").is_file() and (folder / "error.npy").is_file()
        # the folder's map is the single image's map
        assert main(base + ["--image", str(images / f"im{i}.png"), "--out", str(tmp_path / f"one{i}")]) == 0
        np.testing.assert_allclose(var, np.load(tmp_path / f"one{i}" / "variance.npy"), atol=1e-3 * var.max())


@pytest.mark.parametrize("case, message", [
    ("unreadable", "is not an image"), ("region", "is not inside"), ("tile", "tile must be"),
    ("no_hr", "no HR image named"), ("hr_size", "pass the ground truth at the output's size"),
])
def test_map_cli_bad_inputs_are_one_line_errors_before_any_work(tmp_path, capsys, case, message):
    from uqcore.cli import main

    images, hr = tmp_path / "lr", tmp_path / "hr"
    images.mkdir()
    hr.mkdir()
    _png(images / "a.png", 12, 10, 0)
    _png(hr / "a.png", 48 if case != "hr_size" else 40, 40, 1)
    _png(images / "b.png", 8, 8, 2)
    if case != "no_hr":
        _png(hr / "b.png", 32, 32, 3)
    if case == "unreadable":
        (images / "c.png").write_bytes(b"not a png")
        _png(hr / "c.png", 32, 32, 4)
    args = ["map", "--model", "srresnet", "--layer", "body.5", "--samples", "2", "--images", str(images), "--hr",
            str(hr), "--out", str(tmp_path / "out")]
    args += {"region": ["--region", "30,0,20,8"], "tile": ["--tile", "2"]}.get(case, [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "out").exists()  # nothing was computed
