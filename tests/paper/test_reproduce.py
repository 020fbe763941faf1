"""``python -m uqcore reproduce``: the paper reproduction command.

* unit checks of the split, the crop, the transcribed paper tables and the claim rules;
* the whole ``--quick`` pipeline on a tiny random-weight zoo (always runs; names passed with
  the --*-model flags);
* ``--quick`` on the bundled models, exactly as a user runs it (skipped, with the reason, only
  when a bundled model it needs is absent).
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from uqcore import paper as R
from uqcore.cli import main
from uqcore.errors import InputError
from uqcore.models.registry import build_architecture, list_models

SR = dict(scale=4, n_feats=8, n_blocks=4)
TINY = {
    "t-srresnet": dict(architecture="srresnet", task="sr", scale=4, arch_kwargs=SR),
    "t-srgan": dict(architecture="srresnet", task="sr", scale=4, arch_kwargs=SR),
    "t-mcdrop": dict(architecture="srresnet", task="sr", scale=4, arch_kwargs=dict(SR, dropout_p=0.1, dropout_at=1)),
    "t-llm": dict(architecture="srresnet", task="sr", scale=4, output="mean_logvar", arch_kwargs=dict(SR, logvar=True)),
    "t-llmj": dict(architecture="srresnet", task="sr", scale=4, output="mean_logvar", arch_kwargs=dict(SR, logvar=True)),
    "t-ens": dict(architecture="srresnet", task="sr", scale=4, members=2, arch_kwargs=SR),
    "t-fcrn": dict(architecture="fcrn", task="depth", scale=1, probe_size=[64, 80],
                   arch_kwargs=dict(widths=[8, 8, 16, 16, 16], blocks=[1, 1, 1, 1], reduce=16, decoder=[16, 8, 8, 8])),
}
TINY_FLAGS = ["--sr-models", "t-srresnet,t-srgan", "--mcdrop-model", "t-mcdrop", "--ensemble-model", "t-ens",
              "--llm-model", "t-llm", "--llm-joint-model", "t-llmj", "--depth-model", "t-fcrn"]


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    folder = tmp_path / "zoo"
    folder.mkdir()
    for seed, (name, spec) in enumerate(TINY.items()):
        spec = dict(spec)
        members = spec.pop("members", 1)
        files = []
        for m in range(members):
            torch.manual_seed(100 + 10 * seed + m)
            files.append(f"{name}.{m}.safetensors")
            save_file(build_architecture(spec["architecture"], **spec["arch_kwargs"]).state_dict(), str(folder / files[-1]))
        card = dict(name=name, description=f"tiny random-weight {name}", weights=files if members > 1 else files[0], **spec)
        if name in ("t-mcdrop", "t-llm", "t-llmj", "t-ens"):  # baselines made from t-srresnet: only its table shows them
            card["training"] = {"runs": [{"command": "python -m uqcore train sr --init zoo/t-srresnet.safetensors",
                                          "train_seconds": 60.0 * (1 + seed)}],
                                "total_train_seconds": 60.0 * (1 + seed)}
        (folder / f"{name}.json").write_text(json.dumps(card))
    monkeypatch.setenv("UQCORE_MODEL_DIRS", str(folder))
    return folder


# -- units ----------------------------------------------------------------------------------------
def test_split_is_seeded_disjoint_and_complete():
    cal, test = R.split_indices(12, 4, seed=0)
    assert len(cal) == 4 and len(test) == 8
    assert sorted(cal + test) == list(range(12))
    assert (cal, test) == R.split_indices(12, 4, seed=0)
    assert (cal, test) != R.split_indices(12, 4, seed=1)
    assert R.split_indices(3, 10, seed=0)[1]  # always leaves a test image
    with pytest.raises(InputError):
        R.split_indices(1, 1, seed=0)


def test_kth_smallest_of_sorted_arrays_matches_partition():
    from uqcore.paper.run import _kth_smallest_per_subset

    rng = np.random.default_rng(0)
    for _ in range(200):
        arrays = [np.sort(np.round(rng.exponential(size=rng.integers(1, 40)), rng.integers(0, 3)))
                  for _ in range(rng.integers(1, 5))]
        members = rng.random((6, len(arrays))) < 0.6
        members[np.arange(6), rng.integers(0, len(arrays), 6)] = True  # every subset has an array
        unions = [np.concatenate([a for a, m in zip(arrays, row) if m]) for row in members]
        ranks = np.array([int(rng.integers(1, u.size + 1)) for u in unions])
        got = _kth_smallest_per_subset(arrays, members, ranks)
        assert got.tolist() == [np.partition(u, k - 1)[k - 1] for u, k in zip(unions, ranks)]


def test_paper_tables_are_complete_and_transcribed():
    assert set(R.PAPER_TABLES) == {"srgan", "srresnet", "fcrn"}
    for name, table in R.PAPER_TABLES.items():
        assert len(table) == (9 if name == "fcrn" else 13)
        for col in table.values():
            assert set(col) == set(R.METRIC_ROWS)
            assert all(math.isfinite(v) for v in col.values())
    # spot checks against the paper's text
    assert R.PAPER_TABLES["srgan"][("transform", 8)]["Corr block"] == 0.767
    assert R.PAPER_TABLES["srresnet"][("llm", 1)]["NLL"] == 1.422
    assert R.PAPER_TABLES["srresnet"][("transform", 4)]["NLL"] == 107.243
    assert R.PAPER_TABLES["fcrn"][("noise", 8)]["Corr mean"] == 0.708
    assert R.PAPER_TABLES["fcrn"][("mc_dropout2", 2)]["AUSE patch"] == 0.122


def test_claim_rules_on_the_papers_own_tables():
    # SRGAN: infer-transformation is the best training-free method at every level (the paper's claim).
    srgan = R.transform_best(R.PAPER_TABLES["srgan"])
    assert all(srgan[lv]["best_tf"] for lv in R.LEVELS)
    # SRresnet: the LLM head beats every training-free method by more than the margin at every level.
    reach = R.reach(R.PAPER_TABLES["srresnet"], R.TRAINING_REQUIRED)
    assert not any(reach[lv]["within"] for lv in R.LEVELS)
    # FCRN: training-free methods beat MC-dropout at every level.
    reach = R.reach(R.PAPER_TABLES["fcrn"], ("mc_dropout1", "mc_dropout2"))
    assert all(reach[lv]["within"] and reach[lv]["tf"] > reach[lv]["tr"] for lv in R.LEVELS)


def test_tolerance_trend_and_layer_profile():
    rows = [dict(layer=l, strength=s, loss_increase=inc, corr_pixel=c)
            for l, s, inc, c in [("a", 0.1, 0.01, 0.5), ("a", 0.2, 0.2, 0.3), ("b", 0.1, 0.02, 0.6),
                                 ("b", 0.2, 0.5, 0.1), ("c", 0.1, 0.03, 0.4), ("c", 0.2, 0.9, 0.0)]]
    tr = R.tolerance_trend(rows, 0.05)
    assert tr["rho"] < -0.9 and tr["best_layer"] == "b" and tr["best_within"]
    assert tr["n_within"] == 3 and tr["n_beyond"] == 3
    prof = R.layer_profile(rows)
    assert [p[0] for p in prof] == ["a", "b", "c"] and prof[1][1] == 0.6


def test_missing_model_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("UQCORE_MODEL_DIRS", str(tmp_path))
    code = main(["reproduce", "--quick", "--out", str(tmp_path / "R.md"), "--depth-model", "no-such-depth-model"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'no-such-depth-model'" in err and "--depth-model" in err
    assert not (tmp_path / "R.md").exists()


def test_missing_eval_set_is_named(tmp_path, capsys):
    # an install without the bundled samples (or a wrong --sr-data): one clear error, before any work
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["reproduce", "--quick", "--out", str(tmp_path / "R.md"), "--sr-data", str(tmp_path / "nowhere"),
                 "--depth-data", str(empty)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"--sr-data {tmp_path / 'nowhere'}" in err and f"--depth-data {empty}" in err
    assert "assets/samples" in err and not (tmp_path / "R.md").exists()
    s = R.Settings()
    assert Path(s.sr_data).is_dir() and Path(s.depth_data).is_dir()
    R.check_data(s)  # the bundled sets are found (checkout or installed wheel)


# -- the whole pipeline ----------------------------------------------------------------------------
def _check_outputs(out: Path, quick: bool = True) -> tuple:
    text = out.read_text()
    for heading in ("## Setup", "## Time per part", "## Tolerability (Fig. 4 analog)", "## Table 2 analog",
                    "## Discussion (generated from the numbers above)", "### 1.", "### 2.", "### 3.", "### 4."):
        assert heading in text, heading
    assert "python -m uqcore reproduce" in text and "--quick" in text
    assert ("Quick mode" in text) == quick
    assert "torch " + torch.__version__ in text
    rows = list(csv.DictReader(out.with_name("results_rows.csv").open()))
    sweeps = list(csv.DictReader(out.with_name("results_sweeps.csv").open()))
    assert rows and sweeps
    # every method of the tables is there, at every level
    methods = {(r["table"], r["method"]) for r in rows}
    levels = {r["level"] for r in rows}
    assert levels == set(R.LEVELS)
    _check_per_image(out, rows, text)
    return text, rows, sweeps, methods


def _num(v: str) -> float:
    return float(v) if v not in ("", None) else float("nan")


def _bootstrap_reference(imgs: list[dict], level: str) -> tuple[float, float]:
    """95 % percentile interval of a table cell from its per-image rows: 2,000 resamples drawn with
    numpy.random.default_rng(0), one at a time; (nan, nan) where summary_ci gives none (fewer than
    3 images; the mean level below 10)."""
    n = len(imgs)
    if n < 3 or (level == "mean" and n < 10):
        return float("nan"), float("nan")
    idx = np.random.default_rng(0).integers(0, n, (2000, n))
    if level == "mean":
        me, mv = (np.array([_num(p[k]) for p in imgs]) for k in ("mean_error", "mean_variance"))
        with np.errstate(invalid="ignore", divide="ignore"):
            values = [np.corrcoef(me[i], mv[i])[0, 1] if np.ptp(me[i]) > 0 and np.ptp(mv[i]) > 0 else np.nan
                      for i in idx]
    else:
        vals = np.array([_num(p[f"corr_{level}"]) for p in imgs])
        values = [vals[i][np.isfinite(vals[i])].mean() if np.isfinite(vals[i]).any() else np.nan for i in idx]
    values = np.array(values)[np.isfinite(values)]
    if not values.size:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _check_per_image(out: Path, rows: list[dict], text: str) -> None:
    """results_per_image.csv: one row per table x column x test image; the table's numbers are
    its summaries (pixel/patch/block: means over images; mean level: across images; NLL: mean),
    and every metric cell carries the interval of those rows."""
    from uqcore import metrics as M

    per = list(csv.DictReader(out.with_name("results_per_image.csv").open()))
    assert per and {"model", "image", "table", "method", "samples"} <= set(per[0])
    for r in rows:
        imgs = [p for p in per if (p["table"], p["method"], p["samples"]) == (r["table"], r["method"], r["samples"])]
        assert len(imgs) == int(r["n_images"]) == len({p["image"] for p in imgs}), (r["table"], r["method"])
        assert {p["model"] for p in imgs} == {r["model"]}
        if r["level"] == "mean":
            me, mv = (np.array([_num(p[k]) for p in imgs]) for k in ("mean_error", "mean_variance"))
            expect = M.pearson(me, mv, level="mean")
        else:
            vals = np.array([_num(p[f"corr_{r['level']}"]) for p in imgs])
            expect = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        assert _num(r["corr"]) == pytest.approx(expect, abs=1e-9, nan_ok=True), (r["table"], r["method"], r["level"])
        assert _num(r["nll"]) == pytest.approx(np.mean([_num(p["nll"]) for p in imgs]), rel=1e-9)
        # the cell's interval is the percentile bootstrap of these rows, recomputed by a plain loop
        lo, hi = _num(r["corr_lo"]), _num(r["corr_hi"])
        assert _bootstrap_reference(imgs, r["level"]) == pytest.approx((lo, hi), abs=1e-9, nan_ok=True), \
            (r["table"], r["method"], r["level"])
    cells = [c for line in text.splitlines() if line.startswith("| **Corr") for c in line.split("|")]
    assert sum(" [" in c for c in cells) >= 10


def test_quick_on_tiny_zoo(tiny_zoo, tmp_path):
    from uqcore.models.registry import load_model
    from uqcore.student import distill

    # a 2-step student head for t-srresnet only, bundled the way assets/models bundles one
    images = [torch.rand((3, 32, 32), generator=torch.Generator().manual_seed(i)) for i in range(2)]
    distill(load_model("t-srresnet"), images, tiny_zoo / "t-srresnet.student.safetensors", steps=2, crop=8, batch=1,
            samples=2)
    out = tmp_path / "docs" / "RESULTS.md"
    code = main(["reproduce", "--quick", "--threads", "1", "--no-figures", "--out", str(out), *TINY_FLAGS])
    assert code == 0
    text, rows, sweeps, methods = _check_outputs(out)
    for table in ("t-srresnet", "t-srgan"):
        for m in ("transform", "dropout", "noise", "mc_dropout1", "mc_dropout2", "ensemble", "llm", "llm_joint"):
            # the baselines were made from t-srresnet: t-srgan's table shows only its own columns
            assert ((table, m) in methods) == (table == "t-srresnet" or m in ("transform", "dropout", "noise")), (table, m)
    assert "No baselines have been fine-tuned from `t-srgan` yet" in text
    # two likelihood columns, each compared with the paper's one LLM column, each with its training cost
    # (the cards' total_train_seconds: t-llm 4 min, t-llmj 5 min; training-free columns 0)
    table = text.split("## Table 1 analog: `t-srresnet`")[1].split("## ")[0]
    header = next(line for line in table.splitlines() if line.startswith("| ") and "LLM (0)" in line)
    labels = [c.strip() for c in header.strip("|").split("|")]
    assert labels.index("LLM joint (0)") == labels.index("LLM (0)") + 1
    training = next(line for line in table.splitlines() if line.startswith("| **Training (CPU min)**"))
    costs = dict(zip(labels[1:], (c.strip() for c in training.strip("|").split("|")[1:])))
    assert costs["LLM (0)"] == "4.0" and costs["LLM joint (0)"] == "5.0" and costs["Infer-trans (4)"] == "0.0"
    assert {r["model"] for r in rows if r["method"] == "llm_joint"} == {"t-llmj"}
    # the Discussion: Holm-corrected verdicts, one verdict line per claim, the disagreements file beside --out,
    # the AUSE in both conventions; the columns carry their decision values (calibration + held-out images)
    assert "Holm's step-down procedure" in text and "### Verdicts, one line per claim" in text
    assert out.with_name("disagreements.csv").read_text().startswith("table,model,method,samples,metric,level,paper,")
    assert "| **AUSE raw pixel** |" in text
    assert all(r["decision_corr_pixel"] not in ("", "nan") and r["n_decision"] == "4" for r in rows
               if r["table"] == "t-srresnet")
    for m in ("transform", "dropout", "noise", "mc_dropout1", "mc_dropout2"):
        assert ("t-fcrn", m) in methods
    # the Student column, beside its teacher, only where the model has a head
    assert ("t-srresnet", "student") in methods and ("t-srgan", "student") not in methods
    header = next(line for line in text.splitlines() if line.startswith("| ") and "Student (0)" in line)
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells.index("Student (0)") == cells.index("Infer-trans (4)") + 1
    assert "## Table 1 analog: `t-srresnet`" in text and "## Table 1 analog: `t-srgan`" in text
    # the sweeps cover every model x method; the chosen settings are sweep rows
    assert {(r["model"], r["method"]) for r in sweeps} == {(m, meth) for m in ("t-srresnet", "t-srgan", "t-fcrn")
                                                        for meth in ("noise", "dropout")}
    # sigma-scaling was fitted on the calibration split and applied to the test split
    cal_test = {(r["table"], r["n_images"], r["n_sigma_fit"]) for r in rows}
    # depth: the bundled set's 3 test scenes + the quick run's 8 rendered test scenes
    assert cal_test == {("t-srresnet", "3", "2"), ("t-srgan", "3", "2"), ("t-fcrn", "11", "2")}
    finite = [float(r["nll_scaled"]) for r in rows if r["nll_scaled"] not in ("", "nan")]
    assert finite and all(math.isfinite(v) for v in finite)
    # calibrated error bars: fitted on the calibration split + held-out images, measured on the test split
    assert "## Calibrated error bars (conformal and isotonic)" in text and "Bar 1 (conformal 90% coverage" in text
    bars = [r for r in rows if r["level"] == "mean"]
    for r in bars:
        for k in ("conformal_coverage", "conformal_width", "conformal_q", "isotonic_coverage", "ence", "ence_scaled",
                  "ence_isotonic"):
            assert r[k] not in ("", "nan") and math.isfinite(float(r[k])), (r["method"], k)
        assert 0 <= float(r["conformal_coverage_min"]) <= float(r["conformal_coverage"]) <= float(r["conformal_coverage_max"]) <= 1
        # fitted on the calibration split (2) + the quick run's held-out images (SR 2, depth 4); re-split over all
        k = int(float(r["n_interval_calibration"]))
        assert k == 2 + (4 if r["table"] == "t-fcrn" else 2), (r["table"], k)
        assert r["conformal_splits"] == str(min(math.comb(k + int(r["n_images"]), k), 500)) and 0 <= float(r["conformal_splits_within"]) <= 1
        assert math.isfinite(float(r["ence_sigma"]))
    # a number in the markdown comes from the rows
    t8 = next(r for r in rows if r["table"] == "t-srresnet" and r["method"] == "transform" and r["level"] == "pixel")
    assert R.fmt(float(t8["corr"])) in text
    assert "No figures" in text or "figures" in text


@pytest.mark.slow
def test_quick_on_bundled_models(tmp_path):
    s = R.Settings()
    missing = [m for m in R.required_models(s) if m not in list_models()]
    if missing:
        pytest.skip(f"bundled model(s) {', '.join(missing)} not in assets/models (train them: docs/MODELS.md)")
    out = tmp_path / "RESULTS.md"
    started = time.perf_counter()
    code = main(["reproduce", "--quick", "--threads", "1", "--out", str(out)])
    seconds = time.perf_counter() - started
    assert code == 0
    text, rows, sweeps, methods = _check_outputs(out)
    assert "## Table 1 analog: `srresnet`" in text and "## Table 1 analog: `srgan`" in text
    assert {t for t, _ in methods} == {"srresnet", "srgan", "fcrn"}
    figures = sorted((tmp_path / "figures").glob("fig4_*.png"))
    if figures:
        assert {f.name for f in figures} >= {"fig4_srresnet_noise.png", "fig4_srresnet_dropout.png",
                                             "fig4_fcrn_noise.png", "fig4_fcrn_dropout.png"}
        assert all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figures)
        assert "figures/fig4_srresnet_noise.png" in text
    else:
        assert "No figures" in text  # kaleido / chromium unavailable: said so in the report
    assert seconds < 240, f"--quick took {seconds:.0f} s; it must stay around a minute or two"


# -- on Ray workers: the same tables as serial --------------------------------------------------------
try:
    import ray
except ImportError:  # the serial tests above still run; this one needs Ray (requirements.txt)
    ray = None

TIMING = {"seconds_per_image", "seconds"}


def _numbers(path: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(path.open())]


def _same(a: list[dict], b: list[dict]) -> None:
    """Same rows in the same order, every value equal (NaN == NaN) but the wall times."""
    assert a and len(a) == len(b)
    for ra, rb in zip(a, b):
        assert set(ra) == set(rb)
        for k, va in ra.items():
            if k not in TIMING:
                assert va == rb[k] or (isinstance(va, float) and math.isnan(va) and math.isnan(rb[k])), (k, va, rb[k])


SMALL = ["--quick", "--threads", "1", "--no-figures", "--sr-heldout", "1", "--depth-heldout", "1",
         "--sr-models", "t-srresnet", *TINY_FLAGS[2:]]


def test_units_on_workers_1_and_from_a_cache_write_the_serial_numbers(tiny_zoo, tmp_path, monkeypatch):
    """`reproduce --quick --workers 1 --cache DIR`: the sweeps and tables as units (in this
    process, no Ray), each kept in DIR; every number of the three CSVs is the serial run's. A
    rerun with the same DIR runs no sweep or table unit again and writes the same numbers."""
    from uqcore.datasets.sweep import SweepJob
    from uqcore.paper.table_units import TableJob

    cache = tmp_path / "cache"
    assert main(["reproduce", *SMALL, "--out", str(tmp_path / "ser" / "results.md")]) == 0
    assert main(["reproduce", *SMALL, "--workers", "1", "--cache", str(cache),
                 "--out", str(tmp_path / "par" / "results.md")]) == 0
    for name in ("results_rows.csv", "results_sweeps.csv", "results_per_image.csv"):
        ser, par = _numbers(tmp_path / "ser" / name), _numbers(tmp_path / "par" / name)
        assert ser and ser == par, name
    assert "--workers 1" in (tmp_path / "par" / "results.md").read_text()  # the command as run
    kept = sorted(p.name for p in cache.iterdir())
    assert any(k.startswith("sweep-noise-t-srresnet-") for k in kept) and any(k.startswith("table-") for k in kept)
    runs = []
    for job in (SweepJob, TableJob):
        original = job.run
        monkeypatch.setattr(job, "run", lambda self, *a, _o=original, **k: runs.append(self.kind) or _o(self, *a, **k))
    assert main(["reproduce", *SMALL, "--cache", str(cache), "--out", str(tmp_path / "warm" / "results.md")]) == 0
    assert runs == []
    for name in ("results_rows.csv", "results_sweeps.csv", "results_per_image.csv"):
        ser = _numbers(tmp_path / "ser" / name)
        assert ser and ser == _numbers(tmp_path / "warm" / name), name
    # the reused parts report the seconds of the run that computed them, and say so
    def timings(path):
        text = path.read_text().split("## Time per part")[1].split("\n## ")[0]
        return {c[0]: (float(c[1]), c[2]) for line in text.splitlines() if line.startswith("| sweep") or
                line.startswith("| table") for c in [[x.strip() for x in line.strip("|").split("|")]]}
    computed, reused = timings(tmp_path / "par" / "results.md"), timings(tmp_path / "warm" / "results.md")
    assert computed and computed.keys() == reused.keys()
    assert all(reused[k][0] == pytest.approx(computed[k][0], abs=0.05) and "kept from the run of" in reused[k][1]
               for k in computed)
    assert "kept by an earlier run with `--cache`" in (tmp_path / "warm" / "results.md").read_text()


@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_table_step_on_workers_gives_the_serial_rows(tiny_zoo):
    """The tables' scoring (score_columns: calibration, test and held-out estimates, the error
    bars) on two Ray workers inside one session (what `reproduce --workers` opens): the serial rows."""
    from uqcore import distributed
    from uqcore.engine.layers import default_layers
    from uqcore.models.registry import load_model

    model = load_model("t-mcdrop")
    g = torch.Generator().manual_seed(5)
    pairs = [(torch.rand(1, 3, 8, 8, generator=g), torch.rand(3, 32, 32, generator=g)) for _ in range(7)]
    args = (model, pairs[:2], pairs[2:5], ["transform", "noise", "mc_dropout1", "mc_dropout2"],
            {"transform": (2,), "noise": (2, 4), "mc_dropout": (3,)}, {"noise": default_layers(model)[1]},
            {"noise": 0.1}, 0, "cpu")
    common = dict(interval_level=0.8, interval_pairs=pairs[5:])
    steps = []
    serial = R.score_columns(*args, lambda done, total: steps.append(done - sum(steps)), **common)
    assert sum(steps) == (1 + 2 + 1) * 7  # one estimate per engine method, sample count and image
    assert {r["n_interval_calibration"] for r in serial} == {4}
    def workers():
        return sorted(n for n in ray.util.list_named_actors() if n.startswith(distributed.ACTOR_PREFIX))

    with distributed.session(2, None):
        assert ray.is_initialized()
        rows = R.score_columns(*args, None, **common, workers=2)
        kept = workers()
        again = R.score_columns(*args, None, **common, workers=2)  # a second job in the same session ...
        assert len(kept) == 2 and workers() == kept  # ... on the same two workers
        assert ray.is_initialized()
    assert not ray.is_initialized()
    _same(serial, rows)
    _same(serial, again)
