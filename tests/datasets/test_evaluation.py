"""uqcore.datasets.evaluate: rows per (method, samples, level), cross-checked against uqcore.metrics on
single estimates; folder loading; the CLI on a tiny generated dataset."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import uqcore
from uqcore import metrics as M
from uqcore.errors import InputError
from uqcore.datasets.evaluate import evaluate, format_table, table_frame
from uqcore.datasets.folders import load_pairs

from tests.tiny_models import make_tiny_sr
from tests.support import as_pairs, png_folder, save_png, smooth_hr, sr_pairs, tiny_depth, write_tiny_card


# -- evaluate ------------------------------------------------------------------------------------
def test_rows_per_method_samples_level_and_fields():
    model = make_tiny_sr()
    rows = evaluate(model, as_pairs(sr_pairs(3)), methods=["transform", "noise"], samples=[2, 4])
    assert len(rows) == 2 * 2 * 4
    assert [r["level"] for r in rows[:4]] == ["mean", "patch", "block", "pixel"]
    keys = {(r["method"], r["samples"], r["level"]) for r in rows}
    assert len(keys) == len(rows)
    for r in rows:
        for k in ("ause", "aurg", "corr", "spearman", "nll", "nll_scaled", "nll_heldout", "variance_scale",
                  "psnr", "ssim", "seconds_per_image", "calibration_error", "calibration_error_scaled"):
            assert k in r
        assert math.isfinite(r["nll"]) and math.isfinite(r["psnr"]) and r["seconds_per_image"] > 0
        assert r["n_images"] == 3 and r["n_sigma_fit"] in (1, 2) and r["sigma_split"] == "held-out"
        assert r["ause"] >= -1e-9 or math.isnan(r["ause"])
    noise = [r for r in rows if r["method"] == "noise"][0]
    assert noise["layer"] and noise["strength"] == 0.05  # defaults recorded
    tr = [r for r in rows if r["method"] == "transform"][0]
    assert tr["layer"] is None and tr["strength"] is None


def test_single_image_numbers_match_metrics_on_the_estimate():
    model = make_tiny_sr()
    lr, hr = sr_pairs(1)[0]
    rows = evaluate(model, [(lr, hr[0])], methods=["noise"], samples=[4], layer="body.1", strength=0.1, seed=3)
    by_level = {r["level"]: r for r in rows}
    est = uqcore.estimate(model, lr, method="noise", layer="body.1", strength=0.1, samples=4, seed=3)
    err = M.error_map(est.prediction, hr[0])
    assert by_level["pixel"]["corr"] == pytest.approx(M.pearson(err, est.variance), abs=1e-6)
    assert by_level["pixel"]["ause"] == pytest.approx(M.ause(err, est.variance), abs=1e-6)
    assert by_level["patch"]["corr"] == pytest.approx(M.pearson(err, est.variance, level="patch"), abs=1e-6)
    assert by_level["block"]["corr"] == pytest.approx(
        M.pearson(err, est.variance, level="block", prediction=est.prediction), abs=1e-6)
    assert by_level["pixel"]["nll"] == pytest.approx(M.nll(est.prediction, hr[0], est.variance), rel=1e-5)
    assert math.isnan(by_level["mean"]["corr"])  # one image: no correlation across images
    assert by_level["pixel"]["sigma_split"] == "in-sample"
    s = M.fit_variance_scale(est.prediction, hr[0], est.variance)
    assert by_level["pixel"]["variance_scale"] == pytest.approx(s, rel=1e-3)
    assert by_level["pixel"]["nll_scaled"] == pytest.approx(M.nll(est.prediction, hr[0], s * est.variance), rel=1e-4)
    assert by_level["pixel"]["nll_scaled"] <= by_level["pixel"]["nll"] + 1e-9
    assert by_level["pixel"]["psnr"] == pytest.approx(M.psnr(est.prediction, hr[0], border=2))


def test_sigma_scale_fitted_on_calibration_split_and_applied_to_the_rest():
    model = make_tiny_sr()
    lr_hr = sr_pairs(4)
    rows = evaluate(model, as_pairs(lr_hr), methods=["dropout"], samples=[4], seed=1, sigma_split=0.5)
    row = rows[-1]
    ests = [uqcore.estimate(model, lr, method="dropout", layer=row["layer"], strength=0.1, samples=4, seed=1)
            for lr, _ in lr_hr]
    perm = np.random.default_rng(1).permutation(4)
    cal, test = sorted(perm[:2]), sorted(perm[2:])
    s = M.fit_variance_scale([ests[i].prediction for i in cal], [lr_hr[i][1][0] for i in cal],
                             [ests[i].variance for i in cal])
    assert row["variance_scale"] == pytest.approx(s, rel=1e-3)
    nll_test = np.mean([M.nll(ests[i].prediction, lr_hr[i][1][0], s * ests[i].variance) for i in test])
    assert row["nll_scaled"] == pytest.approx(nll_test, rel=1e-4)
    raw_test = np.mean([M.nll(ests[i].prediction, lr_hr[i][1][0], ests[i].variance) for i in test])
    assert row["nll_heldout"] == pytest.approx(raw_test, rel=1e-5)
    # mean level: Pearson over the 4 images of mean error vs mean variance
    me = [M.error_map(e.prediction, p[1][0]).mean() for e, p in zip(ests, lr_hr)]
    mv = [float(e.variance.double().mean()) for e in ests]
    assert rows[0]["level"] == "mean"
    assert rows[0]["corr"] == pytest.approx(np.corrcoef(me, mv)[0, 1], abs=1e-5)


def test_mc_dropout_variants_share_samples_but_differ_in_prediction():
    model = make_tiny_sr()
    rows = evaluate(model, as_pairs(sr_pairs(2)), methods=["mc_dropout1", "mc_dropout2"], samples=[4])
    one = {r["level"]: r for r in rows if r["method"] == "mc_dropout1"}
    two = {r["level"]: r for r in rows if r["method"] == "mc_dropout2"}
    assert one["pixel"]["seconds_per_image"] == two["pixel"]["seconds_per_image"]  # one estimate for both
    assert one["pixel"]["psnr"] != two["pixel"]["psnr"]
    lr, hr = sr_pairs(1)[0]
    est = uqcore.estimate(model, lr, method="mc_dropout", samples=4, seed=0)
    assert not torch.equal(est.original, est.mean)
    r1 = evaluate(model, [(lr, hr[0])], methods=["mc_dropout1"], samples=[4])[-1]
    assert r1["corr"] == pytest.approx(M.pearson(M.error_map(est.original, hr[0]), est.variance), abs=1e-6)
    r2 = evaluate(model, [(lr, hr[0])], methods=["mc_dropout2"], samples=[4])[-1]
    assert r2["corr"] == pytest.approx(M.pearson(M.error_map(est.mean, hr[0]), est.variance), abs=1e-6)


def test_depth_rows_respect_invalid_ground_truth():
    model = tiny_depth()
    g = torch.Generator().manual_seed(5)
    pairs = []
    for i in range(3):
        x = torch.rand((1, 3, 16, 20), generator=g)
        depth = 1.0 + 3.0 * torch.rand((16, 20), generator=g)
        depth[:4] = 0.0          # missing ground truth
        depth[5, 5] = float("nan")
        pairs.append((x, depth))
    rows = evaluate(model, pairs, methods=["transform", "mc_dropout1"], samples=[2], seed=0)
    pixel = [r for r in rows if r["level"] == "pixel" and r["method"] == "transform"][0]
    for k in ("abs_rel", "rmse", "delta1"):
        assert math.isfinite(pixel[k])
    assert "psnr" not in pixel
    est = uqcore.estimate(model, pairs[0][0], method="transform", samples=2)
    mask = M.valid_mask(pairs[0][1])
    assert mask.sum() == 16 * 20 - 4 * 20 - 1
    err = M.error_map(est.prediction, pairs[0][1], mask=mask)
    q = M.depth_quality(est.prediction[0], pairs[0][1])
    ests = [uqcore.estimate(model, x, method="transform", samples=2) for x, _ in pairs]
    corr = np.nanmean([M.pearson(M.error_map(e.prediction, d, mask=M.valid_mask(d)), e.variance,
                                 mask=M.valid_mask(d)) for e, (_, d) in zip(ests, pairs)])
    assert pixel["corr"] == pytest.approx(corr, abs=1e-6)
    assert math.isfinite(M.nll(est.prediction, pairs[0][1], est.variance, mask=mask))
    assert np.isfinite(err[mask]).all() and q["abs_rel"] > 0


def test_bad_arguments_raise_input_error():
    model = make_tiny_sr()
    pairs = as_pairs(sr_pairs(1))
    with pytest.raises(InputError, match="unknown method"):
        evaluate(model, pairs, methods=["bogus"])
    plain = uqcore.wrap(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1)), task="image")
    with pytest.raises(InputError, match="does not apply"):
        evaluate(plain, [(torch.rand(1, 3, 8, 8), torch.rand(3, 8, 8))], methods=["mc_dropout1"])
    with pytest.raises(InputError, match="target"):
        evaluate(model, [(pairs[0][0], torch.rand(3, 10, 10))], methods=["transform"], samples=[2])
    with pytest.raises(InputError, match="no \\(input, target\\)"):
        evaluate(model, [], methods=["transform"])


def test_per_method_layer_and_strength_dicts():
    model = make_tiny_sr()
    rows = evaluate(model, as_pairs(sr_pairs(2)), methods=["noise", "dropout"], samples=[2],
                    layer={"noise": "head", "dropout": "body.2"}, strength={"noise": 0.02})
    noise = [r for r in rows if r["method"] == "noise"][0]
    drop = [r for r in rows if r["method"] == "dropout"][0]
    assert (noise["layer"], noise["strength"]) == ("head", 0.02)
    assert (drop["layer"], drop["strength"]) == ("body.2", 0.1)


def test_table_shape_like_the_paper():
    model = make_tiny_sr()
    rows = evaluate(model, as_pairs(sr_pairs(2)), methods=["transform", "noise"], samples=[2, 4])
    frame = table_frame(rows)
    assert list(frame.index[:8]) == [f"{m} {lv}" for m in ("AUSE", "Corr") for lv in ("mean", "patch", "block", "pixel")]
    assert "NLL" in frame.index
    assert list(frame.columns) == ["transform (2)", "transform (4)", "noise (2)", "noise (4)"]
    pix = [r for r in rows if r["method"] == "noise" and r["samples"] == 4 and r["level"] == "pixel"][0]
    assert frame.loc["AUSE pixel", "noise (4)"] == pytest.approx(pix["ause"])
    text = format_table(rows)
    assert "AUSE pixel" in text and "noise (4)" in text


def test_load_pairs_sr_crops_to_a_multiple_of_the_scale(tmp_path):
    hr = smooth_hr(27, 35)
    save_png(tmp_path / "b.png", hr)
    save_png(tmp_path / "a.png", smooth_hr(20, 20, seed=1))
    names, pairs = load_pairs(tmp_path, make_tiny_sr())
    assert names == ["a", "b"]
    lr, target = pairs[1]
    assert tuple(target.shape) == (3, 26, 34) and tuple(lr.shape) == (1, 3, 13, 17)
    from uqcore.io import read_image
    from uqcore.models.srresnet import bicubic_downscale

    full = read_image(tmp_path / "b.png")
    assert torch.equal(target, full[0, :, :26, :34])
    assert torch.allclose(lr, bicubic_downscale(full[:, :, :26, :34], 2))
    assert len(load_pairs(tmp_path, make_tiny_sr(), limit=1)[1]) == 1


def test_load_pairs_depth_png_and_npy(tmp_path):
    rgb = smooth_hr(12, 16)
    save_png(tmp_path / "room1.png", rgb)
    save_png(tmp_path / "room2.png", rgb)
    save_png(tmp_path / "lonely.png", rgb)  # no depth: skipped
    mm = np.full((12, 16), 2500, np.uint16)
    mm[0, 0] = 0
    Image.fromarray(mm).save(tmp_path / "room1_depth.png")
    np.save(tmp_path / "room2_depth.npy", np.full((12, 16), 1.5, np.float32))
    names, pairs = load_pairs(tmp_path, tiny_depth())
    assert names == ["room1", "room2"]
    assert float(pairs[0][1][1, 1]) == pytest.approx(2.5) and float(pairs[0][1][0, 0]) == 0.0
    assert float(pairs[1][1][3, 3]) == pytest.approx(1.5)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no RGB/depth"):
        load_pairs(tmp_path / "empty", tiny_depth())


def test_cli_evaluate_writes_csv_and_prints_table(tmp_path, capsys):
    from uqcore.cli import main

    data = png_folder(tmp_path / "hr", 3)
    card = write_tiny_card(tmp_path)
    out = tmp_path / "res.csv"
    code = main(["evaluate", "--model", str(card), "--data", str(data), "--methods", "transform,noise",
                 "--samples", "2,4", "--layer", "body.1", "--strength", "0.03", "--limit", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "AUSE mean" in printed and "Corr pixel" in printed and "noise (4)" in printed
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 2 * 4
    assert {r["method"] for r in rows} == {"transform", "noise"}
    assert {r["level"] for r in rows} == {"mean", "patch", "block", "pixel"}
    noise = [r for r in rows if r["method"] == "noise"]
    assert all(r["layer"] == "body.1" and float(r["strength"]) == 0.03 for r in noise)
    assert all(r["n_images"] == "2" and r["model"] == "tiny-srresnet" for r in rows)
    pixel = [r for r in rows if r["level"] == "pixel"]
    assert all(math.isfinite(float(r["ause"])) and math.isfinite(float(r["psnr"])) for r in pixel)
    # JSON output and a bad method give a clean error code
    code = main(["evaluate", "--model", str(card), "--data", str(data), "--methods", "transform", "--samples", "2",
                 "--out", str(tmp_path / "res.json")])
    assert code == 0 and len(json.loads((tmp_path / "res.json").read_text())) == 4
    assert main(["evaluate", "--model", str(card), "--data", str(data), "--methods", "bogus"]) == 2


def test_score_image_matches_metrics():
    from uqcore.scoring.scorer import image_values as score_image

    model = make_tiny_sr()
    lr, hr = sr_pairs(1)[0]
    est = uqcore.estimate(model, lr, method="transform", samples=4)
    out = score_image(model, est.prediction, est.variance, hr)
    err = M.error_map(est.prediction, hr[0])
    assert out["corr_pixel"] == pytest.approx(M.pearson(err, est.variance), abs=1e-6)
    assert out["ause_block"] == pytest.approx(M.ause(err, est.variance, level="block", prediction=est.prediction),
                                              abs=1e-6)
    assert out["nll"] == pytest.approx(M.nll(est.prediction, hr[0], est.variance), rel=1e-5)
    assert out["variance_scale"] == pytest.approx(M.fit_variance_scale(est.prediction, hr[0], est.variance), rel=1e-3)
    fixed = score_image(model, est.prediction, est.variance, hr, variance_scale=2.0)
    assert fixed["nll_scaled"] == pytest.approx(M.nll(est.prediction, hr[0], 2.0 * est.variance), rel=1e-5)
    assert out["psnr"] == pytest.approx(M.psnr(est.prediction, hr[0], border=2))


def test_scorer_merge_summarises_scores_made_elsewhere_as_update_does():
    """Scorer.merge (what evaluate's and the paper run's summaries take from the units) gives the
    summary of Scorer.update on the same estimates, through ImageScore.values / from_values."""
    from uqcore.scoring import ImageScore, Scorer, score_image

    model = make_tiny_sr()
    lr_hr = sr_pairs(3)
    ests = [uqcore.estimate(model, lr, method="transform", samples=4) for lr, _ in lr_hr]
    here = Scorer(model, fit_images=[0], test_images=[1, 2])
    for i, (e, (_, hr)) in enumerate(zip(ests, lr_hr)):
        here.update(e.prediction, e.variance, hr, seconds=e.seconds, drawn=e.samples, key=i)
    values = [score_image(model, e.prediction, e.variance, hr, seconds=e.seconds, drawn=e.samples).values()
              for e, (_, hr) in zip(ests, lr_hr)]
    merged = Scorer(model, fit_images=[0], test_images=[1, 2]).merge(ImageScore.from_values({**v, "extra": 1})
                                                                    for v in values)
    assert len(merged.scores) == 3
    a, b = here.compute().values(), merged.compute().values()
    assert a.keys() == b.keys()
    for part in a:
        assert a[part].keys() == b[part].keys()
        for k, v in a[part].items():
            assert v == b[part][k] or (isinstance(v, float) and math.isnan(v) and math.isnan(b[part][k])), (part, k)


def test_ensemble_and_likelihood_head_methods():
    torch.manual_seed(0)
    members = [nn.Sequential(nn.Conv2d(3, 3, 3, padding=1)) for _ in range(3)]
    ens = uqcore.wrap(members[0], task="image", members=members)
    x = smooth_hr(12, 12)
    pairs = [(x, smooth_hr(12, 12, seed=1)[0]), (smooth_hr(12, 12, seed=2), smooth_hr(12, 12, seed=3)[0])]
    rows = evaluate(ens, pairs, methods=["ensemble"], samples=[8])
    assert rows[0]["samples"] == 8 and rows[0]["samples_drawn"] == 3  # capped at the member count
    assert math.isfinite(rows[-1]["corr"]) and "psnr" in rows[-1]
    head = uqcore.wrap(nn.Sequential(nn.Conv2d(3, 6, 3, padding=1)), task="image", output="mean_logvar")
    rows = evaluate(head, pairs, methods=["llm"], samples=[1])
    assert rows[-1]["samples_drawn"] == 0 and math.isfinite(rows[-1]["nll"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_evaluate_on_cuda_matches_cpu():
    model = make_tiny_sr()
    pairs = as_pairs(sr_pairs(2))
    cpu = evaluate(model, pairs, methods=["transform"], samples=[4], device="cpu")
    gpu = evaluate(model, pairs, methods=["transform"], samples=[4], device="cuda")
    for a, b in zip(cpu, gpu):
        assert a["corr"] == pytest.approx(b["corr"], abs=1e-4, nan_ok=True)


def test_auto_samples_rows_record_what_was_drawn():
    model = make_tiny_sr()
    pairs = as_pairs(sr_pairs(2))
    rows = evaluate(model, pairs, methods=["noise", "transform"], samples=[4, "auto"], layer="body.1",
                    strength=0.1, reliability_target=0.5, max_samples=12)
    auto = [r for r in rows if r["samples"] == "auto" and r["method"] == "noise"]
    ests = [uqcore.estimate(model, x, method="noise", layer="body.1", strength=0.1, samples="auto", target=0.5,
                            max_samples=12) for x, _ in pairs]
    drawn = [e.samples for e in ests]
    assert all(r["samples_drawn_min"] == min(drawn) and r["samples_drawn_max"] == max(drawn) for r in auto)
    assert auto[0]["samples_drawn"] == round(np.mean(drawn))
    assert auto[0]["reliability"] == pytest.approx(np.mean([e.reliability for e in ests]))
    trans = [r for r in rows if r["samples"] == "auto" and r["method"] == "transform"]
    assert trans[0]["samples_drawn"] == 8 and trans[0]["samples_drawn_max"] == 8  # the whole set, capped
    fixed = [r for r in rows if r["samples"] == 4 and r["method"] == "noise"][0]
    assert fixed["samples_drawn"] == 4 and fixed["reliability"] is not None
    assert "noise (auto)" in table_frame(rows).columns


def test_cli_evaluate_samples_auto(tmp_path, capsys):
    from uqcore.cli import main

    data = png_folder(tmp_path / "hr", 2)
    card = write_tiny_card(tmp_path)
    out = tmp_path / "res.json"
    code = main(["evaluate", "--model", str(card), "--data", str(data), "--methods", "noise", "--samples", "2,auto",
                 "--layer", "body.1", "--strength", "0.1", "--reliability", "0.5", "--max-samples", "12",
                 "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "noise (auto)" in printed and "samples per image, mean map reliability" in printed
    rows = json.loads(out.read_text())
    assert {r["samples"] for r in rows} == {2, "auto"}
    auto = [r for r in rows if r["samples"] == "auto"]
    assert all(4 <= r["samples_drawn_min"] <= r["samples_drawn_max"] <= 12 for r in auto)
    assert main(["evaluate", "--model", str(card), "--data", str(data), "--samples", "lots"]) == 2
    assert "integers) or auto" in capsys.readouterr().err
