"""Reliability through the core: every bad input gets a clear InputError; shared models under
concurrent load; bounded memory. What each test observes goes into docs/RELIABILITY.md."""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs
from PIL import Image
from safetensors.torch import save_file
from torch import nn

import uqcore
from uqcore.datasets.analysis import prepare_depth, prepare_sr
from uqcore.errors import InputError
from uqcore.engine.hooks import hook_count
from uqcore.engine.perturb import DIHEDRAL, apply_transform, invert_transform

from tests.tiny_models import make_tiny_sr

from tests.reliability_record import record
from tests.reliability_cases import DEPTH_CASES, GOOD_PNG, IMAGE_CASES, jpeg, png


@pytest.mark.parametrize("case,data,match", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_image_inputs_through_the_core(case, data, match):
    if match is None:
        x = uqcore.read_image(data)
        assert x.shape[:2] == (1, 3) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
        record("Image inputs (core: uqcore.read_image)", case, f"loaded as RGB {tuple(x.shape)}")
    else:
        with pytest.raises(InputError, match=match) as info:
            uqcore.read_image(data)
        record("Image inputs (core: uqcore.read_image)", case, f"InputError: {info.value}")


def test_exif_rotated_jpeg_is_oriented():
    arr = np.zeros((6, 10, 3), np.uint8)
    arr[:, :5] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    x = uqcore.read_image(jpeg(arr, exif=exif.tobytes(), quality=95))
    assert x.shape == (1, 3, 10, 6) and float(x[0, :, :4].mean()) > 0.9
    record("Image inputs (core: uqcore.read_image)", "EXIF-rotated JPEG (orientation 6)",
           f"displayed orientation applied: {tuple(x.shape)} with the white half on top")


@pytest.mark.parametrize("case,data,match", DEPTH_CASES, ids=[c[0] for c in DEPTH_CASES])
def test_depth_inputs_through_the_core(case, data, match):
    if match is None:
        depth = uqcore.read_depth(data)
        valid = uqcore.metrics.valid_mask(depth)
        assert valid.sum() == 2  # only the two positive finite values count
        record("Depth inputs (core: uqcore.read_depth + metrics.valid_mask)", case,
               f"loaded; {int(valid.sum())} of {valid.size} pixels valid, the rest excluded from every metric")
    else:
        with pytest.raises(InputError, match=match) as info:
            uqcore.read_depth(data)
        record("Depth inputs (core: uqcore.read_depth + metrics.valid_mask)", case, f"InputError: {info.value}")


def test_ground_truth_of_the_wrong_size():
    model = uqcore.wrap(make_tiny_sr().module, task="sr", scale=2)
    lr = torch.rand(1, 3, 10, 12)
    for case, hr in [("HR off by the scale factor (21×24 for a 10×12 LR at ×2)", torch.rand(1, 3, 21, 24)),
                     ("HR of an unrelated size", torch.rand(1, 3, 50, 50))]:
        with pytest.raises(InputError, match="×2 the LR image") as info:
            prepare_sr(model, lr=lr, hr=hr)
        record("Ground truth (core: uqcore.datasets.analysis.prepare_*)", case, f"InputError: {info.value}")
    odd = prepare_sr(model, hr=torch.rand(1, 3, 21, 25))
    assert odd.target.shape[-2:] == (20, 24)
    record("Ground truth (core: uqcore.datasets.analysis.prepare_*)", "odd HR size alone (21×25 at ×2)", odd.note)
    with pytest.raises(InputError, match="same size") as info:
        prepare_depth(torch.rand(1, 3, 8, 8), torch.rand(8, 9))
    record("Ground truth (core: uqcore.datasets.analysis.prepare_*)", "depth map of the wrong size", f"InputError: {info.value}")


ARG_CASES = [
    ("samples 0", dict(method="noise", layer="body.0", samples=0), "samples must be between"),
    ("samples absurdly large (10**9)", dict(method="noise", layer="body.0", samples=10**9), "samples must be between"),
    ("strength negative", dict(method="noise", layer="body.0", strength=-0.1), "strength must be"),
    ("strength NaN", dict(method="dropout", layer="body.0", strength=float("nan")), "strength must be"),
    ("a layer that does not exist", dict(method="noise", layer="body.99"), "no layer named"),
]


@pytest.mark.parametrize("case,kwargs,match", ARG_CASES, ids=[c[0] for c in ARG_CASES])
def test_bad_arguments_through_the_core(case, kwargs, match):
    model = make_tiny_sr()
    with pytest.raises(InputError, match=match) as info:
        uqcore.estimate(model, torch.rand(1, 3, 8, 8), **kwargs)
    assert hook_count(model.module) == 0
    record("Arguments (core: uqcore.estimate)", case, f"InputError: {info.value}")


def test_request_over_the_memory_limit_is_refused_up_front(monkeypatch):
    monkeypatch.setenv("UQCORE_MAX_REQUEST_MB", "1")
    model = make_tiny_sr()
    # over the limit, a request is tiled where its tiles fit (tests/engine/test_tiling.py); this one's do
    # not. The model's receptive field is probed once per model (cached), before the hook counts
    uqcore.receptive_field(model)
    calls = []
    model.module.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        with pytest.raises(InputError, match="more than the limit") as info:
            uqcore.estimate(model, torch.rand(1, 3, 200, 200), method="transform")
    finally:
        model.module._forward_pre_hooks.clear()
    assert calls == []  # nothing ran
    record("Limits", "estimate over UQCORE_MAX_REQUEST_MB=1 (200×200 input, ×2)", f"refused before any forward pass: {info.value}")
    monkeypatch.setenv("UQCORE_MAX_PIXELS", "1000")
    assert uqcore.read_image(GOOD_PNG).shape[-2:] == (24, 20)  # 480 pixels: under the limit
    with pytest.raises(InputError, match="UQCORE_MAX_PIXELS") as info:
        uqcore.read_image(png(np.zeros((40, 40, 3), np.uint8)))
    record("Limits", "image over UQCORE_MAX_PIXELS=1000 (40×40; a 24×20 image still loads)", f"InputError: {info.value}")


def test_model_files_and_models_that_misbehave(tmp_path):
    small = make_tiny_sr().module
    save_file(small.state_dict(), str(tmp_path / "tiny.safetensors"))
    card = dict(name="wrong", task="sr", scale=4, architecture="srresnet",
                arch_kwargs=dict(scale=4, n_feats=16, n_blocks=2), weights="tiny.safetensors")
    (tmp_path / "wrong.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="does not fit the architecture") as info:
        uqcore.load_model(str(tmp_path / "wrong.json"))
    record("Models", "a model file of the wrong architecture", f"InputError: {info.value}")

    class Raises(nn.Module):
        def forward(self, x):
            raise RuntimeError("CUDA kernel failed (simulated)")

    class NonFinite(nn.Module):
        def forward(self, x):
            return x / 0.0

    for case, module, match in [("a model whose forward raises", Raises(), "forward pass failed"),
                                ("a model that returns non-finite values", NonFinite(), "NaN or infinite")]:
        with pytest.raises(InputError, match=match) as info:
            uqcore.estimate(uqcore.wrap(module, task="image"), torch.rand(1, 3, 8, 8), method="transform")
        assert hook_count(module) == 0
        record("Models", case, f"InputError: {info.value}")


def test_eight_threads_mixed_calls_equal_serial_results():
    model = make_tiny_sr()
    x = torch.rand((1, 3, 20, 20), generator=torch.Generator().manual_seed(3))
    jobs = [dict(method=m, layer=l, strength=s, seed=i, samples=5)
            for i, (m, l, s) in enumerate([("noise", "head", 0.2), ("dropout", "body.0", 0.3), ("transform", None, None),
                                           ("mc_dropout", None, None), ("noise", "body.2", 0.05),
                                           ("dropout", "body.1", 0.1), ("noise", "body.1", 0.4), ("transform", None, None)])]
    serial = [uqcore.estimate(model, x, **job).variance for job in jobs]
    got: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(jobs))}
    barrier = threading.Barrier(len(jobs))

    def worker(i):
        barrier.wait()
        order = list(range(len(jobs)))
        random.Random(i).shuffle(order)  # each thread interleaves every kind of call
        for j in order:
            got[j].append(uqcore.estimate(model, x, **jobs[j]).variance)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mismatches = sum(not torch.equal(v, serial[j]) for j, vs in got.items() for v in vs)
    assert mismatches == 0 and hook_count(model.module) == 0
    record("Shared sessions", f"{len(jobs)} threads × {len(jobs)} interleaved calls (noise, dropout, transform, "
           "mc_dropout; different layers and seeds) on one model object",
           f"{sum(map(len, got.values()))} results, {mismatches} differ from the serial result; hooks left: 0")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_soak_memory_stays_bounded():
    model = make_tiny_sr()
    x = torch.rand(1, 3, 32, 32)
    kinds = [dict(method="noise", layer="body.1", strength=0.1), dict(method="dropout", layer="head", strength=0.2),
             dict(method="transform"), dict(method="mc_dropout")]
    for i in range(20):  # warm-up: allocator pools and caches settle
        uqcore.estimate(model, x, samples=4, seed=i, **kinds[i % 4])
    start = rss_mb()
    for i in range(200):
        uqcore.estimate(model, x, samples=4, seed=i, **kinds[i % 4])
    growth = rss_mb() - start
    bound = 50.0
    assert growth < bound and hook_count(model.module) == 0
    record("Memory", "soak: 200 mixed estimate calls (32×32 input, 4 samples) after 20 warm-up calls",
           f"resident memory grew {growth:.1f} MB (bound {bound:.0f} MB); hooks left: 0")


def record_property(name: str, check) -> None:
    """Run the hypothesis test ``check`` and record how many generated examples it held on (each
    property test records its own row: nothing depends on which test ran before)."""
    examples = []
    check(examples)
    assert examples, "hypothesis generated no example"
    record("Property tests (hypothesis)", name, f"held on all {len(examples)} generated examples")


def test_property_inverse_of_transform_is_identity():
    @settings(max_examples=40, deadline=None)
    @given(h=hs.integers(1, 9), w=hs.integers(1, 9), lead=hs.lists(hs.integers(1, 3), max_size=2),
           name=hs.sampled_from(list(DIHEDRAL)))
    def check(examples, h, w, lead, name):
        x = torch.randn(*lead, h, w)
        assert torch.equal(invert_transform(apply_transform(x, name), name), x)
        examples.append(1)

    record_property("inverse ∘ transform = identity (8 transforms, random shapes incl. non-square)", check)


def test_property_random_ranking_ause_on_average():
    @settings(max_examples=15, deadline=None)
    @given(seed=hs.integers(0, 10_000), n=hs.integers(20, 200))
    def check(examples, seed, n):
        rng = np.random.default_rng(seed)
        error = rng.gamma(2.0, size=(1, n))
        curve = uqcore.metrics.sparsification(error, np.zeros((1, n)))  # constant: ties -> the random curve
        random_ause = curve.ause  # area between the random and oracle curves
        draws = [uqcore.metrics.ause(error, rng.random((1, n))) for _ in range(200)]
        assert min(draws) >= 0
        assert abs(np.mean(draws) - random_ause) <= 0.1 * random_ause + 0.01
        assert uqcore.metrics.ause(error, error) <= min(draws) + 1e-12  # the oracle ranking is best
        examples.append(1)

    record_property("AUSE ≥ 0; a random ranking's AUSE averages to the random-vs-oracle area; perfect ranking is best",
                    check)


def test_property_masks_exclude_pixels():
    @settings(max_examples=25, deadline=None)
    @given(seed=hs.integers(0, 10_000))
    def check(examples, seed):
        rng = np.random.default_rng(seed)
        error, unc = rng.random((6, 7)), rng.random((6, 7))
        mask = rng.random((6, 7)) > 0.4
        mask.flat[:2] = True
        garbage_e, garbage_u = error.copy(), unc.copy()
        garbage_e[~mask], garbage_u[~mask] = np.nan, 1e9
        assert uqcore.metrics.ause(error, unc, mask=mask) == pytest.approx(
            uqcore.metrics.ause(garbage_e, garbage_u, mask=mask))
        alone = uqcore.metrics.ause(error[mask][None], unc[mask][None])
        assert uqcore.metrics.ause(error, unc, mask=mask) == pytest.approx(alone)
        examples.append(1)

    record_property("masks: values outside the mask (NaN, 1e9) never change AUSE; equals AUSE of the valid pixels alone",
                    check)


def test_an_ordinary_run_never_rewrites_the_record(tmp_path, monkeypatch):
    """docs/RELIABILITY.md is written only by ``bash scripts/test.sh reliability``
    (``--reliability-record PATH``); pytest on its own writes no tracked file."""
    from types import SimpleNamespace

    from tests import reliability_record

    def refuse(path):
        raise AssertionError(f"the record was written to {path} without --reliability-record")

    monkeypatch.setattr(reliability_record, "write", refuse)
    config = SimpleNamespace(getoption=lambda name: None)
    reliability_record.write_if_asked(config)  # what conftest's session end does; no option: nothing is written

    monkeypatch.undo()
    monkeypatch.setattr(reliability_record, "RECORD", [])
    reliability_record.record("Limits", "core case", "InputError: x")
    assert not reliability_record.write(tmp_path / "partial.md")  # a core-only run writes nothing
    reliability_record.record("Uploads (AppTest)", "app case", "error shown: y | z")
    assert reliability_record.write(tmp_path / "full.md")
    text = (tmp_path / "full.md").read_text()
    assert reliability_record.COMMAND in text and "| app case | error shown: y / z |" in text
