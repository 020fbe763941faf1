"""The paper run's per-image pieces: paired verdicts, whose baselines a column is, disagreements."""

from dataclasses import dataclass, field

import numpy as np

from uqcore.paper import baselines, disagreements, per_image


@dataclass
class FakeReport:
    tables: dict = field(default_factory=dict)
    per_image: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    cards: dict = field(default_factory=dict)


def _images(method, samples, corr, n=30, seed=0, table="srgan", spread=0.0):
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(99).uniform(0.2, 0.6, n)
    out = []
    for i in range(n):
        me = 0.01 * (1 + i)
        out.append({"table": table, "model": table, "method": method, "samples": samples, "index": i,
                    "image": f"im{i}", "corr_pixel": base[i] + corr + rng.normal(0, spread),
                    "mean_error": me, "mean_variance": me * (1 + rng.normal(0, 0.05)), "nll": 1.0})
    return out


def test_duels_separate_a_planted_difference_and_mark_a_meaningless_level():
    rep = FakeReport(per_image={"srgan": _images("noise", 8, 0.1, spread=0.01, seed=1)
                                + _images("transform", 4, 0.0, spread=0.01, seed=2)
                                + _images("dropout", 8, 0.0, spread=0.01, seed=3)})
    text, words = per_image.duels(rep, "srgan", {"pixel": (("noise", 8), ("transform", 4))})
    assert words == {"pixel": "A ahead"} and "separated" in text and "+0.1" in text
    _, words = per_image.duels(rep, "srgan", {"pixel": (("dropout", 8), ("transform", 4))})
    assert words == {"pixel": "not separated"}
    few = FakeReport(per_image={"srgan": _images("noise", 8, 0.0, n=4) + _images("transform", 4, 0.0, n=4)})
    text, words = per_image.duels(few, "srgan", {"mean": (("noise", 8), ("transform", 4))})
    assert words == {"mean": "n/a"} and "needs ≥ 10 images" in text


def test_duel_verdict_follows_the_interval_not_the_point_estimate(monkeypatch):
    from uqcore.scoring.stats import Interval

    rep = FakeReport(per_image={"srgan": _images("noise", 8, 0.0) + _images("transform", 4, 0.0)})
    pair = {"pixel": (("noise", 8), ("transform", 4))}
    # a skewed statistic: the point estimate above 0, the whole percentile interval below it
    monkeypatch.setattr(per_image, "compare", lambda *a: Interval(0.01, -0.2, -0.05, 30))
    assert per_image.duels(rep, "srgan", pair)[1] == {"pixel": "B ahead"}
    assert per_image.duels(rep, "srgan", pair, metric="ause")[1] == {"pixel": "A ahead"}  # lower AUSE is better
    monkeypatch.setattr(per_image, "compare", lambda *a: Interval(-0.01, 0.05, 0.2, 30))
    assert per_image.duels(rep, "srgan", pair)[1] == {"pixel": "A ahead"}


def test_baseline_owner_from_the_card_then_the_name():
    card = {"training": "{'runs': [{'command': 'python -m uqcore train sr --init assets/models/srgan.safetensors'}]}"}
    assert baselines.owner("x-mcdrop", card) == "srgan"
    assert baselines.owner("srresnet-ens", {"training": "trained from scratch"}) == "srresnet"
    rep = FakeReport(baselines={"mc_dropout1": "srresnet-mcdrop", "llm": "srgan-llm"})
    assert baselines.foreign(rep, "srgan") == {"mc_dropout1": "srresnet-mcdrop"}
    assert "No training-required columns (MC-drop1)" in baselines.caption(rep, "srgan")
    assert "were made from srresnet" in baselines.caption(rep, "srgan")
    assert "shows only its own" not in baselines.caption(rep, "srgan")  # srgan-llm is its own
    assert baselines.caption(FakeReport(baselines={"llm": "srgan-llm"}), "srgan") == ""
    # a table with no baselines of its own says why; a model trained elsewhere: its data is not here
    only = FakeReport(baselines={"mc_dropout1": "srresnet-mcdrop"})
    assert "No baselines have been fine-tuned from `srgan` yet" in baselines.caption(only, "srgan")
    only.cards["esrgan-thick"] = {"training": {"data": "DIV2K (800 images)", "by": "X; not retrained here"}}
    text = baselines.caption(only, "esrgan-thick")
    assert "trained elsewhere on DIV2K, which is not here" in text and "only training-free and student columns" in text
    # a table built with its rows: a column it does not show is not foreign
    shown = FakeReport(tables={"srgan": [{"task": "sr", "method": "noise"}]}, baselines={"mc_dropout1": "srresnet-mcdrop"})
    assert baselines.foreign(shown, "srgan") == {} and baselines.missing(shown, "srgan") == {"mc_dropout1": "srresnet-mcdrop"}
    depth = FakeReport(tables={"fcrn": [{"task": "depth"}]}, baselines={"mc_dropout1": "srresnet-mcdrop"})
    assert baselines.foreign(depth, "fcrn") == {}  # a depth table's MC-dropout is its own model's


def test_disagreements_list_large_ones_with_a_cause_from_the_run():
    imgs = _images("transform", 4, 0.0) + _images("mc_dropout1", 8, 0.0)
    rows = []
    for (m, n), corr, lo, hi in ((("transform", 4), 0.10, 0.05, 0.15), (("mc_dropout1", 8), 0.93, 0.90, 0.95)):
        for lv in ("mean", "patch", "block", "pixel"):
            rows.append({"method": m, "samples": n, "level": lv, "corr": corr, "corr_lo": lo, "corr_hi": hi,
                         "task": "sr", "psnr": 30.0})
    rep = FakeReport(tables={"srgan": rows}, per_image={"srgan": imgs}, baselines={"mc_dropout1": "srresnet-mcdrop"})
    cs = disagreements.cells(rep, "srgan", "srgan")
    # the paper's SRGAN table: infer-trans (4) mean 0.931, pixel 0.367 -> ours 0.10 [0.05, 0.15]: large
    big = {(c["col"], c["level"]) for c in cs if c["large"]}
    assert (("transform", 4), "mean") in big and (("transform", 4), "pixel") not in big
    text = "\n".join(disagreements.lines(rep, ["srgan"], "fcrn"))
    assert "Infer-trans (4) at the mean level: ours 0.100 [0.050, 0.150] vs paper 0.931" in text
    assert "MC-drop1 (8) at the pixel level: ours 0.930 [0.900, 0.950] vs paper 0.339" in text
    assert "`srresnet-mcdrop`, another model's baseline" in text
    assert "What the bundled models cannot show" in text
    assert "ceiling effect" not in "\n".join(disagreements.ceiling(rep, "srgan"))  # infer-trans at 0.10
    high = FakeReport(tables={"srgan": [dict(r, corr=0.9) for r in rows]}, per_image={"srgan": imgs})
    (line,) = disagreements.ceiling(high, "srgan")
    assert "[0.900, 0.900]: a ceiling effect" in line and "factor 30.0" in line


def test_sr_test_set_is_large_enough_and_every_image_has_a_source_and_licence():
    from pathlib import Path

    from uqcore.paper.report import Settings

    root = Path(__file__).resolve().parents[2]
    files = sorted(p.name for p in (root / "assets" / "samples" / "sr").glob("*.png"))
    assert len(files) - Settings().sr_calibration >= 24
    readme = (root / "assets" / "samples" / "README.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in readme.splitlines() if line.startswith("| `")}
    for f in files:
        assert f in rows and rows[f].rstrip(" |").split("|")[-1].strip(), f  # a row with a licence cell
        assert "plasma-workspace-wallpapers" not in rows[f]
    assert Settings().depth_test >= 200


def test_duel_verdicts_use_the_holm_adjusted_p_value(monkeypatch):
    from uqcore.scoring.stats import HolmFamily, Interval

    rep = FakeReport(per_image={"srgan": _images("noise", 8, 0.0) + _images("transform", 4, 0.0)})
    pair = {"pixel": (("noise", 8), ("transform", 4))}
    monkeypatch.setattr(per_image, "compare", lambda *a: Interval(0.1, 0.01, 0.2, 30, p=0.02))
    assert per_image.duels(rep, "srgan", pair)[1] == {"pixel": "A ahead"}  # no family: p = 0.02 < 0.05
    rep.paired_family = HolmFamily()
    for k in "abc":  # three other tests of the same Discussion
        rep.paired_family.add(k, 0.5)
    per_image.duels(rep, "srgan", pair)  # first pass: collected
    rep.paired_family.close()
    text, words = per_image.duels(rep, "srgan", pair)  # Holm: 4 x 0.02 = 0.08
    assert words == {"pixel": "not separated"} and "Holm p = 0.08" in text
