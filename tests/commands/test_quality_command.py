"""``python -m uqcore quality``: students are scored on decision images only (never assets/samples),
and the command line it records is the one that rewrites the entry."""

from __future__ import annotations

import argparse

import pytest

from uqcore.cli import main
from uqcore.commands.quality import command_line
from uqcore.models.registry import SAMPLES_DIR
from uqcore.paper.quality import student_quality


def test_command_line_names_the_model_and_options():
    args = argparse.Namespace(what="students", crop=128, limit=None)
    assert command_line(args, "esrgan-thick") == "python -m uqcore quality students --models esrgan-thick --crop 128 --write"


def test_student_quality_uses_decision_images_only():
    pytest.importorskip("skimage")
    q = student_quality("srresnet", crop=64, limit=2)
    samples = {p.stem for p in SAMPLES_DIR.rglob("*") if p.is_file()}
    assert q["images"] == len(q["data"]) == 2
    assert not {n.split(":")[-1] for n in q["data"]} & samples
    assert set(q["ratio"]) == set(q["bars"]) == {"corr_pixel", "corr_mean", "ause_pixel"}


def test_head_and_write_do_not_go_together(capsys):
    assert main(["quality", "students", "--head", "x.safetensors", "--write"]) == 2


def test_recommend_prints_the_sweeps_setting(tmp_path, capsys):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    rows = (root / "docs" / "results_sweeps.csv").read_text().splitlines()
    csv = tmp_path / "s.csv"
    csv.write_text("\n".join([rows[0]] + [r for r in rows[1:] if r.endswith(",srresnet")]) + "\n")
    assert main(["recommend", "--sweeps", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "srresnet: {'method': 'noise', 'layer': 'body.5'" in out and "srresnet-mcdrop: {'method': 'mc_dropout'" in out


def test_quality_explore_times_and_scores_one_sample(capsys):
    assert main(["quality", "explore", "--models", "srresnet", "--images", "astronaut.png"]) == 0
    out = capsys.readouterr().out
    assert "srresnet: explore seconds {'image': 'astronaut.png'" in out and "transform (8) pixel correlation" in out
