"""``python -m uqcore triage``: the student (``--student``) ranks a folder, the teacher refines the
top K, ground truth gives the image-level numbers; the files it writes."""

from __future__ import annotations

import csv
import json

import numpy as np
import torch

import uqcore
from uqcore.cli import main
from uqcore.engine.student_head import StudentHead
from uqcore.models.student_files import config_for, save_student
from tests.support import save_png, smooth_hr, write_tiny_card
from uqcore.datasets.folders import make_lr


def folders(tmp_path, n=6):
    """n LR inputs (and their HR images, but for the last one) and an unreadable file."""
    lr_dir, hr_dir = tmp_path / "lr", tmp_path / "hr"
    lr_dir.mkdir()
    hr_dir.mkdir()
    for i in range(n):
        lr, hr = make_lr(smooth_hr(32, 40, seed=i), 2)
        save_png(lr_dir / f"im{i}.png", lr)
        if i < n - 1:
            save_png(hr_dir / f"im{i}.png", hr)
    (lr_dir / "broken.png").write_bytes(b"\x89PNG broken")
    return lr_dir, hr_dir


def head_file(tmp_path, card_path):
    """An untrained head for the tiny card's model, whose card names transform as its teacher."""
    model = uqcore.load_model(str(card_path))
    torch.manual_seed(0)
    head = StudentHead(config_for(model, ["body.1", "upsample"]))
    path = tmp_path / "head.safetensors"
    save_student(head, path, {"teacher": {"method": "transform", "layer": None, "strength": None, "samples": 4}})
    return path


def test_triage_command_ranks_refines_and_reports(tmp_path, capsys):
    card = write_tiny_card(tmp_path)
    lr_dir, hr_dir = folders(tmp_path)
    out = tmp_path / "report"
    code = main(["triage", "--model", str(card), "--student", str(head_file(tmp_path, card)), "--images", str(lr_dir),
                 "--hr", str(hr_dir), "--refine", "4", "--top-k", "2", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    with (out / "triage.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["broken"] + [f"im{i}" for i in range(6)]  # name order
    assert "not an image Pillow can read" in rows[0]["skipped"] or "damaged" in rows[0]["skipped"]
    assert all(r["samples"] == "0" and float(r["mean_uncertainty"]) > 0 for r in rows[1:])
    assert rows[-1]["mean_error"] == "" and all(float(r["mean_error"]) > 0 for r in rows[1:-1])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ranked"] == 6 and [s["name"] for s in summary["skipped"]] == ["broken"]
    assert summary["setting"].startswith("student")
    ref = summary["refine"]
    assert ref["images"] == 4 and ref["teacher"].startswith("transform (4 samples")
    assert -1 <= ref["spearman"]["estimate"] <= 1 and ref["teacher_seconds"] > 0
    truth = summary["truth"]
    assert truth["images"] == 5 and truth["checked"] == 0 and np.isfinite(truth["ause"])
    assert truth["sentence"] in printed.out.lower()
    with (out / "refined.csv").open() as fh:
        refined = [r["name"] for r in csv.DictReader(fh)]
    student_top = sorted(rows[1:], key=lambda r: -float(r["mean_uncertainty"]))[:4]
    assert sorted(refined) == sorted(r["name"] for r in student_top)
    assert summary["order"][4:] == [r["name"] for r in sorted(rows[1:], key=lambda r: -float(r["mean_uncertainty"]))[4:]]
    maps = sorted(p.name for p in (out / "maps").iterdir())
    assert maps == [f"001_{summary['order'][0]}", f"002_{summary['order'][1]}"]
    first = out / "maps" / maps[0]
    assert {p.name for p in first.iterdir()} >= {"variance.npy", "variance.png", "prediction.png"}
    assert np.load(first / "variance.npy").shape == (32, 40)  # the x2 output of a 16x20 input
    html = (out / "report.html").read_text()
    assert "sortBy" in html and html.count("data:image/png;base64") >= 12 and "Image-level sparsification" in html
    assert "Skipped (1)" in html


def test_triage_command_refuses_bad_options(tmp_path, capsys):
    card = write_tiny_card(tmp_path)
    lr_dir, _ = folders(tmp_path, 2)
    assert main(["triage", "--model", str(card), "--images", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["triage", "--model", str(card), "--images", str(lr_dir), "--method", "student",
                 "--out", str(tmp_path / "o")]) == 2
    assert "not 'student'" in capsys.readouterr().err
    assert main(["triage", "--model", str(card), "--images", str(lr_dir), "--refine", "2",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no recommended setting" in capsys.readouterr().err
