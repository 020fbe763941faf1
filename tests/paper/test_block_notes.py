"""The RESULTS writer's notes on the block segmenter and the ensemble size: what the reader must know
to compare our block-level numbers and ensemble rows with the paper's."""

import json
from pathlib import Path

from uqcore.paper.markdown import block_segmenter_note, ensemble_note
from uqcore.models.card import read_card


def test_block_segmenter_note_names_lcm_and_compares_with_slic(tmp_path):
    path = tmp_path / "seg.json"
    assert "local-centre-of-mass" in block_segmenter_note(path)  # no comparison file: the name only
    path.write_text(json.dumps({"model": "srresnet", "method": "transform", "samples": 8, "n_images": 3,
                                "data": "x", "command": "python research/compare_segmenters.py --write",
                                "mean": {"lcm": {"corr_block": 0.5, "segment_px": 300.0},
                                         "slic": {"corr_block": 0.625, "segment_px": 256.0}}}))
    note = block_segmenter_note(path)
    assert "0.625 against 0.500" in note and "256 vs 300 px" in note and "compare_segmenters" in note


def test_ensemble_note_reads_the_member_count():
    card = read_card(Path(__file__).resolve().parents[2] / "assets/models/srresnet-ens.json").flat()
    note = ensemble_note("srresnet-ens")
    assert f"{card['members']} members" in note
    assert ("Ensemble (8) the first 8" in note) == (card["members"] >= 8)
    assert "no counterpart" in ensemble_note("no-such-model")
