"""Scale-out and resume (uqcore.distributed): the unit path gives the serial rows, in this process
and on Ray workers (a local Ray, a killed worker, a simulated two-node cluster), resumes an
interrupted run without duplicates, reports bad images, and works without Ray installed.

Tiny models only (the dashboard tests' tiny zoo); the Ray tests are marked ``ray`` (``-m ray``)
and run in the normal suite."""

from __future__ import annotations

import csv
import json
import math
import sys

import pytest
import torch

import uqcore
from tests.support import write_tiny_zoo
from uqcore import distributed
from uqcore.calibration.intervals import calibrate
from uqcore.errors import InputError
from uqcore.datasets.evaluate import evaluate
from uqcore.datasets.sweep import sweep

METHODS = ["transform", "noise", "mc_dropout1", "mc_dropout2"]
TIMING = {"seconds_per_image", "seconds"}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """The tiny zoo on UQCORE_MODEL_DIRS (set before any Ray starts, so local workers inherit it)."""
    folder = tmp_path_factory.mktemp("zoo")
    write_tiny_zoo(folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UQCORE_MODEL_DIRS", str(folder))
        yield folder


@pytest.fixture(scope="module")
def model(zoo):
    return uqcore.load_model("tiny-sr-mcdrop")


@pytest.fixture(scope="module")
def pairs():
    g = torch.Generator().manual_seed(3)
    return [(f"im{i}", torch.rand(1, 3, 12, 12, generator=g), torch.rand(3, 48, 48, generator=g)) for i in range(4)]


@pytest.fixture(scope="module")
def serial(model, pairs):
    return evaluate(model, pairs, methods=METHODS, samples=[4])


@pytest.fixture(scope="module")
def sweep_args(model, pairs):
    x = [p[1] for p in pairs[:2]]
    t = [p[2] for p in pairs[:2]]
    return dict(x=x, target=t, method="noise", layers=uqcore.engine.layers.default_layers(model)[:3],
                strengths=[0.02, 0.2], samples=4)


@pytest.fixture(scope="module")
def serial_sweep(model, sweep_args):
    return sweep(model, **sweep_args)


AUTO_ARGS = dict(methods=["noise", "mc_dropout1"], samples=[2, "auto"], max_samples=8)
CAL_ARGS = dict(method="mc_dropout2", samples=4, kind="conformal", max_values=1000)  # 250 of 6912 values an image


@pytest.fixture(scope="module")
def serial_auto(model, pairs):
    return evaluate(model, pairs, **AUTO_ARGS)


@pytest.fixture(scope="module")
def sweep_auto_args(sweep_args):
    return {**sweep_args, "layers": sweep_args["layers"][:2], "samples": "auto", "max_samples": 8}


@pytest.fixture(scope="module")
def serial_sweep_auto(model, sweep_auto_args):
    return sweep(model, **sweep_auto_args)


@pytest.fixture(scope="module")
def serial_cal(model, pairs):
    return calibrate(model, pairs, **CAL_ARGS)


@pytest.fixture(scope="module")
def interval_cal(model, pairs):
    """A calibration of noise with 4 samples, for evaluate --calibration."""
    return calibrate(model, pairs[:2], method="noise", samples=4, level=0.8)


@pytest.fixture(scope="module")
def serial_calibrated(model, pairs, interval_cal):
    images = []
    rows = evaluate(model, pairs, methods=["transform", "noise"], samples=[4], calibration=interval_cal,
                    on_image=images.append)
    return rows, images


def same_calibration(a, b) -> None:
    """Every recorded field of two calibrations equal but the creation time."""
    da, db = a.to_dict(), b.to_dict()
    assert da.pop("created") and db.pop("created")
    assert da == db


def same_rows(a: list[dict], b: list[dict]) -> None:
    """Same rows in the same order; every value equal (NaN == NaN) except wall times."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert set(ra) == set(rb), (sorted(set(ra) ^ set(rb)))
        for k, va in ra.items():
            if k in TIMING:
                continue
            vb = rb[k]
            if isinstance(va, float) and math.isnan(va):
                assert isinstance(vb, float) and math.isnan(vb), (k, va, vb)
            else:
                assert va == vb, (ra.get("method"), ra.get("level"), k, va, vb)


def csv_rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


class Stop(Exception):
    pass


def stop_after(k: int):
    def progress(done: int, total: int) -> None:
        if done >= k:
            raise Stop
    return progress


# -- the unit path in this process -----------------------------------------------------------------
def test_store_in_process_gives_the_serial_rows(model, pairs, serial, serial_sweep, sweep_args, tmp_path):
    rows = evaluate(model, pairs, methods=METHODS, samples=[4], store=tmp_path / "ev")
    same_rows(serial, rows)
    images = csv_rows(tmp_path / "ev" / "rows.csv")
    # one row per (variant, image); the variants of one engine method share a unit (mc_dropout1/2)
    order = [(m, f"im{i}") for m in METHODS[:2] for i in range(4)]
    order += [(m, f"im{i}") for i in range(4) for m in METHODS[2:]]
    assert [(r["method"], r["image"]) for r in images] == order
    assert len((tmp_path / "ev" / "units.jsonl").read_text().splitlines()) == 3 * 4  # 3 engine methods
    same_rows(serial_sweep, sweep(model, **sweep_args, store=tmp_path / "sw"))
    same_rows(serial_sweep, sweep(model, **sweep_args, workers=1))  # one worker, no Ray: here


def test_store_in_process_gives_the_serial_calibration_auto_and_intervals(model, pairs, serial_cal, serial_auto,
                                                                         serial_calibrated, interval_cal, tmp_path,
                                                                         serial_sweep_auto, sweep_auto_args):
    cal = calibrate(model, pairs, **CAL_ARGS, store=tmp_path / "cal")
    same_calibration(serial_cal, cal)
    assert serial_cal.values["used"] < serial_cal.values["available"]  # the subsample is exercised
    kept = csv_rows(tmp_path / "cal" / "rows.csv")
    assert [r["image"] for r in kept] == [f"im{i}" for i in range(4)] and all(not r["error"] for r in kept)
    rows = evaluate(model, pairs, **AUTO_ARGS, store=tmp_path / "auto")
    same_rows(serial_auto, rows)
    assert {r["samples"] for r in rows} == {2, "auto"}
    same_rows(serial_sweep_auto, sweep(model, **sweep_auto_args, store=tmp_path / "sw"))
    images = []
    rows = evaluate(model, pairs, methods=["transform", "noise"], samples=[4], calibration=interval_cal,
                    on_image=images.append, store=tmp_path / "ci")
    same_rows(serial_calibrated[0], rows)
    same_rows(serial_calibrated[1], images)
    assert sum("coverage" in r for r in images) == 4  # noise only: the calibration's setting
    per_image = [r for r in csv_rows(tmp_path / "ci" / "rows.csv") if r["method"] == "noise"]
    assert [float(r["coverage"]) for r in per_image] == [r["coverage"] for r in images if "coverage" in r]


def test_resume_refuses_another_calibration_or_stop_rule(model, pairs, interval_cal, tmp_path):
    common = dict(methods=["noise"], samples=["auto"], max_samples=6)
    evaluate(model, pairs[:2], **common, store=tmp_path / "r")
    seen = []
    evaluate(model, pairs[:2], **common, store=tmp_path / "r", resume=True, progress=lambda d, t: seen.append(d))
    assert seen == [2]  # same stop rule: every unit kept
    seen.clear()
    evaluate(model, pairs[:2], methods=["noise"], samples=["auto"], max_samples=8, store=tmp_path / "r",
             resume=True, progress=lambda d, t: seen.append(d))
    assert seen == [0, 1, 2]  # another max_samples: other units, none reused
    evaluate(model, pairs[:2], methods=["noise"], samples=[4], store=tmp_path / "c")
    with pytest.raises(InputError, match="another calibration"):  # its units lack the interval columns
        evaluate(model, pairs[:2], methods=["noise"], samples=[4], calibration=interval_cal, store=tmp_path / "c",
                 resume=True)


def test_calibrate_units_report_a_bad_pair(model, pairs, tmp_path):
    bad = ("wrong", torch.rand(1, 3, 12, 12), torch.rand(3, 40, 40))
    with pytest.raises(InputError, match=r"1 of 3 calibrate pair\(s\) failed \(wrong: .*target"):
        calibrate(model, [*pairs[:2], bad], **CAL_ARGS, store=tmp_path / "c")


def test_resume_completes_an_interrupted_run(model, pairs, serial, tmp_path):
    store = tmp_path / "run"
    with pytest.raises(Stop):
        evaluate(model, pairs, methods=METHODS, samples=[4], store=store, progress=stop_after(5))
    kept = [json.loads(line)["uid"] for line in (store / "units.jsonl").read_text().splitlines()]
    assert len(kept) == 5
    with (store / "units.jsonl").open("a") as fh:
        fh.write('{"uid": "cut short by a kill')  # a half-written line does not count as done
    seen = []
    rows = evaluate(model, pairs, methods=METHODS, samples=[4], store=store, resume=True,
                    progress=lambda done, total: seen.append(done))
    assert seen[0] == 5 and seen[-1] == 12  # the 5 kept units were not run again
    same_rows(serial, rows)
    uids = [json.loads(line)["uid"] for line in (store / "units.jsonl").read_text().splitlines()]
    assert len(uids) == len(set(uids)) == 12
    images = csv_rows(store / "rows.csv")
    keys = [(r["method"], r["image"]) for r in images]
    assert len(keys) == len(set(keys)) == 16  # no duplicate, none missing


def test_sweep_resume_streams_every_row_once(model, serial_sweep, sweep_args, tmp_path):
    streamed = []
    with pytest.raises(Stop):
        sweep(model, **sweep_args, store=tmp_path / "sw", progress=stop_after(3), on_row=streamed.append)
    assert len(streamed) == 3 and len(csv_rows(tmp_path / "sw" / "rows.csv")) == 3
    streamed.clear()
    rows = sweep(model, **sweep_args, store=tmp_path / "sw", resume=True, on_row=streamed.append)
    same_rows(serial_sweep, rows)
    same_rows(rows, streamed[:3] + sorted(streamed[3:], key=rows.index))  # kept rows first, then the rest
    kept = csv_rows(tmp_path / "sw" / "rows.csv")
    assert [(r["layer"], float(r["strength"])) for r in kept] == [(r["layer"], r["strength"]) for r in rows]


def test_resume_refuses_another_setting_and_needs_a_store(model, pairs, tmp_path):
    evaluate(model, pairs[:2], methods=["transform"], samples=[2], store=tmp_path / "r")
    with pytest.raises(InputError, match="seed"):
        evaluate(model, pairs[:2], methods=["transform"], samples=[2], seed=1, store=tmp_path / "r", resume=True)
    with pytest.raises(InputError, match="store"):
        evaluate(model, pairs[:2], methods=["transform"], resume=True)


def test_a_bad_image_is_reported_and_the_run_goes_on(model, pairs, tmp_path):
    bad = ("wrong", torch.rand(1, 3, 12, 12), torch.rand(3, 40, 40))  # target is not the HR of the input
    rows = evaluate(model, [*pairs[:3], bad], methods=["transform"], samples=[2], store=tmp_path / "b")
    good = evaluate(model, pairs[:3], methods=["transform"], samples=[2])
    assert all(r["n_failed"] == 1 and r["n_images"] == 3 for r in rows)
    same_rows(good, [{k: v for k, v in r.items() if k != "n_failed"} for r in rows])
    failed = [r for r in csv_rows(tmp_path / "b" / "rows.csv") if r["error"]]
    assert [r["image"] for r in failed] == ["wrong"] and "target" in failed[0]["error"]


def test_workers_refuse_a_model_built_in_memory(model, pairs):
    with pytest.raises(InputError, match="load_model"):
        evaluate(uqcore.wrap(model.module, task="sr", scale=4), pairs[:1], methods=["transform"], workers=2)


def test_without_ray_serial_works_and_workers_say_how_to_install(model, pairs, serial, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    same_rows(serial, evaluate(model, pairs, methods=METHODS, samples=[4]))
    with pytest.raises(InputError, match=r'pip install "ray==2\.60\.0"'):
        evaluate(model, pairs, methods=METHODS, samples=[4], workers=2)


def test_cli_resume_needs_out(zoo, tmp_path, capsys):
    from PIL import Image

    from uqcore.cli import main

    Image.new("RGB", (16, 16)).save(tmp_path / "x.png")
    assert main(["sweep", "--model", "tiny-sr", "--image", str(tmp_path / "x.png"), "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def _index_or_fail(model, x, target, *, index, device, bad):
    """A per-pair function for run_job's error handling: a bad input at pair ``bad``."""
    if index == bad:
        raise InputError(f"pair {index} is bad")
    return {"drawn": index, "values": torch.full((2,), float(index)).numpy()}


def test_run_job_raise_errors_and_keep_values(model, pairs):
    """raise_errors: the unit's InputError itself stops the run (the embedded default of evaluate);
    keep_values=False: on_result gets every value, the results returned keep none."""
    names, data = [p[0] for p in pairs], [(p[1], p[2]) for p in pairs]
    job = distributed.PairJob("test", _index_or_fail, model, names, data, {"bad": 2})
    with pytest.raises(InputError, match="^pair 2 is bad$"):
        distributed.run_job(job, model, raise_errors=True)
    results = distributed.run_job(job, model)
    assert [r.ok for r in results] == [True, True, False, True] and results[2].error == "InputError: pair 2 is bad"
    good = distributed.PairJob("test", _index_or_fail, model, names, data, {"bad": -1})
    seen = []
    results = distributed.run_job(good, model, on_result=seen.append, keep_values=False)
    assert [r.values["drawn"] for r in seen] == [0, 1, 2, 3]
    assert all(r.ok and r.values is None for r in results)
    assert [r.key for r in results] == good.keys()


def test_in_order_hands_results_on_in_key_order():
    keys = [{"image": f"im{i}"} for i in range(5)]
    taken = []
    take = distributed.in_order(keys, lambda r: taken.append(r.key["image"]))
    for i in (3, 0, 4, 1):  # as Ray might finish them
        take(distributed.UnitResult(keys[i], "ok", {}))
    assert taken == ["im0", "im1"]
    take(distributed.UnitResult(keys[2], "ok", {}))
    assert taken == [f"im{i}" for i in range(5)]


def test_evaluate_in_process_streams_each_image_before_the_next_estimate(model, pairs, serial):
    """The default path: the units run here in key order; each image's on_image rows come as its
    unit finishes (before the progress of that unit), in the order (method, samples, image, variant)."""
    events = []
    rows = evaluate(model, pairs, methods=METHODS, samples=[4], progress=lambda d, t: events.append(("done", d)),
                    on_image=lambda r: events.append((r["method"], r["index"])))
    same_rows(serial, rows)
    expected, done = [("done", 0)], 0
    for variants in (["transform"], ["noise"], ["mc_dropout1", "mc_dropout2"]):
        for i in range(len(pairs)):
            done += 1
            expected += [(label, i) for label in variants] + [("done", done)]
    assert events == expected


def test_evaluate_in_process_takes_one_image_twice_under_one_name(model, pairs, tmp_path):
    """A plain run may hold the same named image twice (the store and Ray refuse: they track
    units by key); it is scored twice, as under two names."""
    name, x, t = pairs[0]
    twice = evaluate(model, [(name, x, t), (name, x, t)], methods=["transform"], samples=[2])
    named = evaluate(model, [(name, x, t), ("other", x, t)], methods=["transform"], samples=[2])
    same_rows(named, twice)
    assert twice[0]["n_images"] == 2
    with pytest.raises(InputError, match="same key"):
        evaluate(model, [(name, x, t), (name, x, t)], methods=["transform"], samples=[2], store=tmp_path / "twice")


# -- Ray ---------------------------------------------------------------------------------------------
try:
    import ray
    import ray.util
except ImportError:  # the tests above still run; these need Ray (requirements.txt installs it)
    ray = None


def random_images(folder, seed: int, count: int = 3):
    """``count`` random 24×32 RGB PNGs (im0.png, ...) in a new ``folder``; returns it."""
    from PIL import Image

    folder.mkdir()
    g = torch.Generator().manual_seed(seed)
    for i in range(count):
        Image.fromarray((torch.rand(24, 32, 3, generator=g) * 255).byte().numpy()).save(folder / f"im{i}.png")
    return folder


@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_cli_workers_start_a_local_ray_and_match_serial(no_ray, zoo, tmp_path, capsys):
    """`evaluate --workers 2` starts (and stops) its own Ray; its rows are the serial run's."""
    from PIL import Image

    from uqcore.cli import main

    data = random_images(tmp_path / "data", seed=0)
    Image.fromarray((torch.rand(5, 5, 3, generator=torch.Generator().manual_seed(9)) * 255).byte().numpy()).save(
        data / "tiny.png")
    common = ["evaluate", "--model", "tiny-sr", "--data", str(data), "--methods", "transform,noise", "--samples", "2"]
    assert not ray.is_initialized()
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "par.csv")]) == 0
    assert not ray.is_initialized()  # the Ray started for the run is shut down
    err = capsys.readouterr().err
    assert "1 image(s) failed" in err and "local Ray" in err
    images = csv_rows(tmp_path / "par_images.csv")
    assert len(images) == 8 and [r["image"] for r in images if r["error"]] == ["tiny", "tiny"]
    # the serial command stops at the unreadable image; without it both give the same summary
    (data / "tiny.png").unlink()
    assert main([*common, "--out", str(tmp_path / "ser.csv")]) == 0
    par, ser = csv_rows(tmp_path / "par.csv"), csv_rows(tmp_path / "ser.csv")
    assert len(par) == len(ser) == 8
    for a, b in zip(par, ser):
        assert {k: v for k, v in a.items() if k not in TIMING | {"n_failed"}} == \
               {k: v for k, v in b.items() if k not in TIMING}


@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_two_node_cluster_runs_evaluate_through_ray_address(no_ray, model, pairs, serial):
    """Two nodes of one CPU each: the two one-CPU workers land one per node."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        rows = evaluate(model, pairs, methods=METHODS, samples=[4], workers=2, ray_address=cluster.address)
    finally:
        cluster.shutdown()
    same_rows(serial, rows)


@pytest.fixture(scope="module")
def ray_shut_down_after(zoo):
    """Whatever local Ray the tests of this module leave running is shut down after the last one."""
    yield
    if ray is not None and ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def local_ray(ray_shut_down_after):
    """A local Ray session of the caller's (evaluate/sweep use it): started by the first test that
    needs one and kept for the next (in file order, one start for the module), started again after
    a test that needs none running (``no_ray``) shut it down."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    return ray


@pytest.fixture
def no_ray(ray_shut_down_after):
    """No Ray session in this process (one kept by ``local_ray`` for earlier tests is shut down)."""
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def serial_everything(model, pairs, interval_cal):
    """One serial evaluate with fixed and auto sample counts and the interval calibration: its
    rows and per-image rows."""
    images = []
    rows = evaluate(model, pairs, methods=METHODS, samples=[4, "auto"], max_samples=8, calibration=interval_cal,
                    on_image=images.append)
    return rows, images


@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_workers_give_the_serial_rows_calibration_auto_and_intervals(local_ray, model, pairs, serial_everything,
                                                                     interval_cal, serial_sweep, sweep_args, serial_cal,
                                                                     serial_sweep_auto, sweep_auto_args):
    """Every job kind on two workers (one job each: an evaluate with fixed and auto sample counts and
    calibrated intervals, a calibration, a sweep and an auto sweep) gives the serial results; in
    one session (the caller's Ray) the four jobs run on the same two workers, stopped at its end."""
    def workers():
        return sorted(n for n in ray.util.list_named_actors() if n.startswith(distributed.ACTOR_PREFIX))

    images = []
    with distributed.session(2, None):
        rows = evaluate(model, pairs, methods=METHODS, samples=[4, "auto"], max_samples=8, calibration=interval_cal,
                        on_image=images.append, workers=2)
        kept = workers()
        swept = sweep(model, **sweep_args, workers=2)
        fitted = calibrate(model, pairs, **CAL_ARGS, workers=2)
        swept_auto = sweep(model, **sweep_auto_args, workers=2)
        assert len(kept) == 2 and workers() == kept
    assert not workers() and ray.is_initialized()  # the caller's Ray is left running
    same_rows(serial_everything[0], rows)
    same_rows(serial_everything[1], images)
    assert {str(r["samples"]) for r in rows} == {"4", "auto"}
    assert {(r["method"], str(r["samples"])) for r in rows if any("coverage" in k and r[k] == r[k] and r[k] is not None
                                                               for k in r)} == {("noise", "4")}  # the calibrated run
    same_rows(serial_sweep, swept)
    same_calibration(serial_cal, fitted)
    same_rows(serial_sweep_auto, swept_auto)


@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_cli_calibrate_with_workers_writes_the_serial_json(local_ray, zoo, tmp_path):
    """`calibrate --workers 2` (on the session already started) writes the serial run's JSON."""
    from uqcore.cli import main

    data = random_images(tmp_path / "data", seed=1)
    common = ["calibrate", "--model", "tiny-sr", "--data", str(data), "--method", "noise", "--samples", "3",
              "--kind", "isotonic"]
    assert main([*common, "--out", str(tmp_path / "ser.json")]) == 0
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "par.json")]) == 0
    ser, par = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("ser", "par"))
    assert ser.pop("created") and par.pop("created")
    assert ser == par and len(ser["fitted"]["z"]) > 10
    assert len(csv_rows(tmp_path / "par_run" / "rows.csv")) == 3


@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_a_killed_worker_is_restarted_and_every_row_comes_back(local_ray, model, pairs, serial):
    pids = {}

    def progress(done: int, total: int) -> None:
        names = sorted(n for n in ray.util.list_named_actors() if n.startswith(distributed.ACTOR_PREFIX))
        if done == 1:
            victim = ray.get_actor(names[0])
            pids["before"] = ray.get(victim.pid.remote())
            ray.kill(victim, no_restart=False)  # mid-run: units are queued on it
        if done == total:
            pids["after"] = ray.get(ray.get_actor(names[0]).pid.remote())

    rows = evaluate(model, pairs, methods=METHODS, samples=[4], workers=2, progress=progress)
    assert pids["before"] != pids["after"]  # restarted in a new process
    same_rows(serial, rows)  # its units were retried: nothing missing, nothing failed


@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_resume_on_workers_after_an_interruption(local_ray, model, pairs, serial, tmp_path):
    with pytest.raises(Stop):
        evaluate(model, pairs, methods=METHODS, samples=[4], workers=2, store=tmp_path / "ev", progress=stop_after(4))
    assert not [n for n in ray.util.list_named_actors() if n.startswith(distributed.ACTOR_PREFIX)]  # cleaned up
    seen = []
    rows = evaluate(model, pairs, methods=METHODS, samples=[4], workers=2, store=tmp_path / "ev", resume=True,
                    progress=lambda done, total: seen.append(done))
    assert seen[0] >= 4
    same_rows(serial, rows)
    keys = [(r["method"], r["image"]) for r in csv_rows(tmp_path / "ev" / "rows.csv")]
    assert len(keys) == len(set(keys)) == 16



@pytest.mark.ray
@pytest.mark.skipif(ray is None, reason="needs Ray (requirements.txt)")
def test_a_worker_that_cannot_load_the_model_stops_the_run_with_the_reason(local_ray, zoo, pairs, tmp_path):
    import shutil

    for f in zoo.glob("tiny-sr.*"):
        shutil.copy(f, tmp_path / f.name)
    model = uqcore.load_model(str(tmp_path / "tiny-sr.json"))  # a card path: the workers load it from there
    (tmp_path / "tiny-sr.0.safetensors").unlink()  # ... but its weights are gone by then
    with pytest.raises(InputError, match="could not load the model"):
        evaluate(model, pairs[:2], methods=["transform"], samples=[2], workers=2)
    assert not [n for n in ray.util.list_named_actors() if n.startswith(distributed.ACTOR_PREFIX)]
