"""uqcore.paper.quality: the decision images students are scored (and chosen) on are neither the
evaluation samples nor the heads' training images, and are prepared like the samples; the report's
ablation rows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from uqcore.paper.quality import HELDOUT_CROP, decision_pairs
from uqcore.models.card import read_card

ROOT = Path(__file__).resolve().parents[2]


def test_sr_validation_set_is_disjoint_from_samples_and_training_and_prepared_like_them():
    pytest.importorskip("skimage")
    names, pairs = decision_pairs(SimpleNamespace(task="sr", scale=4))
    assert len(names) == len(pairs) >= 5
    stems = {n.split(":", 1)[1] for n in names}
    samples = {p.stem for p in (ROOT / "assets" / "samples" / "sr").iterdir()}
    training = set()
    for card in (ROOT / "assets" / "models").glob("*.student.json"):
        training |= {Path(n).stem for n in read_card(card).flat().get("training", {}).get("image_names", [])}
    assert samples and training
    assert not stems & samples and not stems & training
    for lr, hr in pairs:
        assert lr.shape[0] == 1 and lr.shape[1] == 3 and hr.shape[0] == 3
        assert hr.shape[-2:] == (lr.shape[-2] * 4, lr.shape[-1] * 4)
        assert max(hr.shape[-2:]) <= HELDOUT_CROP


def test_quality_students_has_no_samples_mode():
    """The command measures on decision images only: there is no option that points it at assets/samples."""
    import argparse

    from uqcore.commands.quality import configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert not any(a.dest == "data" for a in parser._actions)


def test_ablation_rows_render_validation_and_unscored_variants():
    from uqcore.paper.student import ablation_lines

    nums = {"corr_pixel": 0.4, "corr_mean": 0.8, "ause_pixel": 0.2}
    rows = [{"variant": "scored", "command": "cmd-a", "student": nums, "ratio": {k: 0.5 for k in nums},
             "validation": {"student": {"corr_pixel": 0.3}, "ratio": {"corr_pixel": 1.25}}},
            {"variant": "validation only", "command": "cmd-b",
             "validation": {"student": {"corr_pixel": 0.2}, "ratio": {"corr_pixel": 0.75}}}]
    lines = ablation_lines("srgan", rows)
    header = next(line for line in lines if line.startswith("| variant"))
    scored = next(line for line in lines if line.startswith("| scored"))
    unscored = next(line for line in lines if line.startswith("| validation only"))
    assert header.count("|") == scored.count("|") == unscored.count("|")
    assert "(1.25×)" in scored and "(0.50×)" in scored and "`cmd-a`" in scored
    assert "(0.75×)" in unscored and unscored.count("–") == 3
    plain = ablation_lines("srgan", [{k: v for k, v in rows[0].items() if k != "validation"}])
    assert "validation" not in "".join(plain)
