import math
import threading
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import uqcore
from uqcore.errors import InputError
from uqcore.engine.hooks import hook_count
from uqcore.engine.perturb import apply_transform, invert_transform
from uqcore.engine.estimate import RunningMoments, split_half_reliability

from tests.tiny_models import ConcatSkip, block_draws, make_tiny_sr


def naive_feature_samples(model, x, layer, kind, strength, samples, seed):
    """The paper's way: one full batch-1 forward per sample, perturbation drawn in a plain hook."""
    module = dict(model.module.named_modules())[layer]
    outs = []
    for i in range(samples):
        def hook(_m, _i, out, i=i):
            if kind == "noise":
                return out + strength * block_draws(seed, i, out.shape[1:])[None]
            keep = (block_draws(seed, i, out.shape[1:], torch.rand) >= strength).float()[None]
            return out * keep / (1 - strength)

        handle = module.register_forward_hook(hook)
        try:
            with torch.no_grad():
                outs.append(model.module(x))
        finally:
            handle.remove()
    return torch.cat(outs)


@pytest.mark.parametrize("kind,strength", [("noise", 0.2), ("dropout", 0.3)])
@pytest.mark.parametrize("prefix", [True, False])
@pytest.mark.parametrize("chunk", [1, 3, 16])
def test_engine_equals_naive_loop(tiny_sr, image, kind, strength, prefix, chunk):
    est = uqcore.estimate(
        tiny_sr, image, method=kind, layer="body.1", strength=strength, samples=7, seed=3,
        prefix_reuse=prefix, chunk_size=chunk,
    )
    ref = naive_feature_samples(tiny_sr, image, "body.1", kind, strength, 7, 3)
    assert est.samples == 7
    torch.testing.assert_close(est.mean, ref.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(est.variance, ref.var(0, unbiased=False).mean(0), atol=1e-6, rtol=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(est.prediction, tiny_sr.module(image)[0])
    assert est.prefix_reuse == prefix


def test_transform_equals_naive_loop(tiny_sr, image):
    est = uqcore.estimate(tiny_sr, image, method="transform", samples=8)
    with torch.no_grad():
        ref = torch.cat([invert_transform(tiny_sr.module(apply_transform(image, n)), n)
                         for n in ["identity", "rot90", "rot180", "rot270", "flip", "flip_rot90",
                                   "flip_rot180", "flip_rot270"]])
    torch.testing.assert_close(est.variance, ref.var(0, unbiased=False).mean(0), atol=1e-6, rtol=1e-4)
    assert est.samples == 8
    assert est.variance.shape == (24, 32)


def test_transform_one_sample_per_pass_equals_batched(tiny_sr, image, monkeypatch):
    """On CPU above CPU_PASS_PIXELS output pixels each transformed input runs alone (batch 1);
    the map is the batched one's (the rotations of a non-square image make two shape groups)."""
    assert image.shape[-1] != image.shape[-2]
    batched = uqcore.estimate(tiny_sr, image, method="transform", samples=8)
    passes: list[int] = []
    monkeypatch.setattr(uqcore.engine.estimate, "CPU_PASS_PIXELS", 1)
    module = tiny_sr.module_on(torch.device("cpu"))
    handle = module.register_forward_pre_hook(lambda _m, inputs: passes.append(inputs[0].shape[0]))
    try:
        alone = uqcore.estimate(tiny_sr, image, method="transform", samples=8)
    finally:
        handle.remove()
    assert passes == [1] * 8  # the unperturbed pass and the seven transforms, one at a time
    torch.testing.assert_close(alone.variance, batched.variance, atol=1e-6, rtol=1e-4)


def test_transform_subset_and_cap(tiny_sr, image):
    assert uqcore.estimate(tiny_sr, image, method="transform", samples=4).samples == 4
    assert uqcore.estimate(tiny_sr, image, method="transform", samples=50).samples == 8
    depth = uqcore.wrap(tiny_sr.module, task="depth")
    assert uqcore.estimate(depth, image, method="transform", samples=8).samples == 2
    only = uqcore.estimate(tiny_sr, image, method="transform", transforms=["identity"], samples=8)
    assert only.samples == 1 and float(only.variance.abs().max()) == 0.0


@pytest.mark.parametrize("kind", ["noise", "dropout"])
def test_zero_strength_gives_zero_variance(tiny_sr, image, kind):
    est = uqcore.estimate(tiny_sr, image, method=kind, layer="body.0", strength=0.0, samples=5)
    assert float(est.variance.abs().max()) == 0.0


@pytest.mark.parametrize("kind,strengths", [("noise", [0.01, 0.1, 1.0]), ("dropout", [0.05, 0.2, 0.5])])
def test_variance_grows_with_strength(tiny_sr, image, kind, strengths):
    levels = [
        float(uqcore.estimate(tiny_sr, image, method=kind, layer="head", strength=s, samples=16).variance.mean())
        for s in strengths
    ]
    assert levels[0] < levels[1] < levels[2]


def test_seeds(tiny_sr, image):
    a = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.1, seed=5)
    b = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.1, seed=5)
    c = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.1, seed=6)
    assert torch.equal(a.variance, b.variance)
    assert not torch.equal(a.variance, c.variance)


def test_prefix_reuse_falls_back_on_concatenated_skip(image):
    model = make_tiny_sr(cls=ConcatSkip)
    fast = uqcore.estimate(model, image, method="noise", layer="body.1", strength=0.1, samples=6)
    slow = uqcore.estimate(model, image, method="noise", layer="body.1", strength=0.1, samples=6, prefix_reuse=False)
    assert fast.prefix_reuse is False
    torch.testing.assert_close(fast.variance, slow.variance)
    assert hook_count(model.module) == 0


def test_mc_dropout_uses_the_models_dropout_and_keeps_eval_mode(tiny_sr, image):
    est = uqcore.estimate(tiny_sr, image, method="mc_dropout", samples=8)
    assert float(est.variance.mean()) > 0
    torch.testing.assert_close(est.prediction, est.mean)  # MC-dropout predicts the sample mean
    assert not tiny_sr.module.training and not tiny_sr.module.drop.training
    with torch.no_grad():
        torch.testing.assert_close(est.original, tiny_sr.module(image)[0])


def test_ensemble_one_sample_per_member(image):
    members = [make_tiny_sr(seed=s).module for s in range(3)]
    model = uqcore.wrap(members[0], task="sr", scale=2, members=members)
    est = uqcore.estimate(model, image, method="ensemble", samples=8)
    with torch.no_grad():
        outs = torch.cat([m(image) for m in members])
    assert est.samples == 3
    torch.testing.assert_close(est.prediction, outs.mean(0))
    torch.testing.assert_close(est.variance, outs.var(0, unbiased=False).mean(0), atol=1e-6, rtol=1e-4)


def test_llm_returns_predicted_variance(image):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1))
    model = uqcore.wrap(net, task="image", output="mean_logvar")
    est = uqcore.estimate(model, image, method="llm")
    with torch.no_grad():
        out = net(image)[0]
    assert est.samples == 0
    torch.testing.assert_close(est.prediction, out[:3])
    torch.testing.assert_close(est.variance, out[3:].exp().mean(0))
    assert "llm" in model.methods


def test_output_is_unchanged_and_hook_free_after_success_and_failure(tiny_sr, image):
    with torch.no_grad():
        before = tiny_sr.module(image)
    uqcore.estimate(tiny_sr, image, method="noise", layer="body.2", strength=0.5)
    with pytest.raises(InputError):
        uqcore.estimate(tiny_sr, image, method="noise", layer="nope", strength=0.5)

    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("forward exploded")

    tiny_sr.module.body[1] = Boom()  # a forward that raises mid-network
    try:
        with pytest.raises(InputError, match="forward exploded"):
            uqcore.estimate(tiny_sr, image, method="dropout", layer="body.0", strength=0.1)
        assert hook_count(tiny_sr.module) == 0
    finally:
        tiny_sr.module.body[1] = nn.Sequential(*[m for m in make_tiny_sr().module.body[1]])
    model = make_tiny_sr()
    uqcore.estimate(model, image, method="mc_dropout")
    with torch.no_grad():
        assert torch.equal(model.module(image), before)
    assert hook_count(model.module) == 0


def test_concurrent_callers_get_their_serial_results(tiny_sr):
    x = torch.rand((1, 3, 24, 24), generator=torch.Generator().manual_seed(0))
    jobs = [
        dict(method=m, layer=l, strength=s, seed=seed, samples=6)
        for seed, (m, l, s) in enumerate(
            [("noise", "body.0", 0.1), ("dropout", "body.1", 0.2), ("transform", None, None),
             ("mc_dropout", None, None), ("noise", "head", 0.3), ("dropout", "body.2", 0.4),
             ("noise", "body.1", 0.05), ("transform", None, None), ("dropout", "head", 0.1),
             ("noise", "body.2", 0.2)]
        )
    ]
    serial = [uqcore.estimate(tiny_sr, x, **job) for job in jobs]
    results: dict[int, object] = {}
    barrier = threading.Barrier(len(jobs))

    def worker(i):
        barrier.wait()
        for _ in range(3):  # interleave repeatedly
            results[i] = uqcore.estimate(tiny_sr, x, **jobs[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, ref in enumerate(serial):
        assert torch.equal(results[i].variance, ref.variance), jobs[i]
        assert torch.equal(results[i].mean, ref.mean), jobs[i]
    assert hook_count(tiny_sr.module) == 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(method="bogus"), "unknown method"),
        (dict(method="noise", layer=None), "needs a layer"),
        (dict(method="noise", layer="body.1", samples=0), "samples must be between"),
        (dict(method="noise", layer="body.1", samples=10**6), "samples must be between"),
        (dict(method="noise", layer="body.1", strength=-1), "strength must be"),
        (dict(method="noise", layer="body.1", strength=float("nan")), "strength must be"),
        (dict(method="dropout", layer="body.1", strength=1.0), "below 1"),
        (dict(method="ensemble"), "does not apply"),
        (dict(method="llm"), "does not apply"),
    ],
)
def test_bad_arguments(tiny_sr, image, kwargs, match):
    with pytest.raises(InputError, match=match):
        uqcore.estimate(tiny_sr, image, **kwargs)


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.rand(2, 3, 8, 8), r"\[1, C, H, W\]"),
        (torch.rand(1, 1, 8, 8), "input channels"),
        (torch.rand(8, 8), r"\[1, C, H, W\]"),
        (torch.full((1, 3, 8, 8), float("nan")), "NaN"),
        ("image.png", "float tensor"),
    ],
)
def test_bad_inputs(tiny_sr, x, match):
    with pytest.raises(InputError, match=match):
        uqcore.estimate(tiny_sr, x, method="transform")


def test_non_finite_model_output_is_reported(image):
    class Nan(nn.Module):
        def forward(self, x):
            return x * float("nan")

    with pytest.raises(InputError, match="NaN or infinite"):
        uqcore.estimate(uqcore.wrap(Nan(), task="image"), image, method="transform")


def test_running_moments_match_numpy():
    data = torch.randn(23, 4, 5, dtype=torch.float64)
    moments = RunningMoments()
    for chunk in torch.split(data, 5):
        moments.update(chunk)
    np.testing.assert_allclose(moments.mean.numpy(), data.numpy().mean(0), atol=1e-12)
    np.testing.assert_allclose(moments.variance.numpy(), data.numpy().var(0), atol=1e-12)
    assert moments.count == 23


def test_out_of_memory_halves_the_chunk_and_retries(tiny_sr, image):
    class Picky(nn.Module):
        """Raises CUDA's out-of-memory error for batches above 2, like a full GPU would."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.batches = []

        def forward(self, x):
            if x.shape[0] > 2:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
            self.batches.append(x.shape[0])
            return self.inner(x)

    picky = uqcore.wrap(Picky(tiny_sr.module), task="sr", scale=2)
    est = uqcore.estimate(picky, image, method="noise", layer="inner.body.1", strength=0.1, samples=7,
                          chunk_size=8, prefix_reuse=False)
    ref = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.1, samples=7,
                          chunk_size=2, prefix_reuse=False)
    assert est.samples == 7 and max(picky.module.batches) == 2
    torch.testing.assert_close(est.variance, ref.variance)


def test_chunk_is_bounded_by_memory(tiny_sr, image, monkeypatch):
    from uqcore.engine import estimate as engine_estimate

    sizes = []
    orig_forward = tiny_sr.module.forward
    monkeypatch.setattr(tiny_sr.module, "forward", lambda x: sizes.append(x.shape[0]) or orig_forward(x))
    out_bytes = 3 * 24 * 32 * 4  # one sample's output
    monkeypatch.setattr(engine_estimate, "CHUNK_MEMORY_BYTES", out_bytes * engine_estimate.ACTIVATION_FACTOR * 2)
    uqcore.estimate(tiny_sr, image, method="noise", layer="head", strength=0.1, samples=6, prefix_reuse=False)
    assert sizes == [1, 2, 2, 2]  # the unperturbed pass, then chunks of 2 instead of the default 4


# -- samples="auto": rounds until the map is reliable -------------------------------------------------
def _fields(est):
    return est.mean, est.variance, est.prediction


def structured_image(size: int = 48) -> torch.Tensor:
    """Gradients and an edge under a little noise: variance maps with spatial structure."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    noise = torch.rand((1, 3, size, size), generator=torch.Generator().manual_seed(7))
    return torch.stack([xx, yy, (xx > 0.5).float()])[None] * 0.8 + 0.2 * noise


@pytest.mark.parametrize("kwargs,target", [(dict(method="noise", layer="body.1", strength=0.2), 0.3),
                                           (dict(method="dropout", layer="head", strength=0.3, chunk_size=3), 0.8),
                                           (dict(method="mc_dropout", prefix_reuse=False), 0.8)])
def test_auto_is_deterministic_and_equals_the_fixed_count_bit_for_bit(tiny_sr, kwargs, target):
    x = structured_image(32)
    a = uqcore.estimate(tiny_sr, x, samples="auto", target=target, seed=4, **kwargs)
    b = uqcore.estimate(tiny_sr, x, samples="auto", target=target, seed=4, **kwargs)
    fixed = uqcore.estimate(tiny_sr, x, samples=a.samples, seed=4, **kwargs)
    assert 8 <= a.samples < 64 and a.reliability >= target and a.reliability_target == target
    assert fixed.reliability_target is None
    for u, v, w in zip(_fields(a), _fields(b), _fields(fixed)):
        assert torch.equal(u, v) and torch.equal(u, w)
    assert a.trace == b.trace == fixed.trace and a.reliability == fixed.reliability
    assert all(r < target for _, r in a.trace[:-1])  # it stopped at the first round that got there
    other = uqcore.estimate(tiny_sr, x, samples="auto", target=target, seed=5, **kwargs)
    assert not torch.equal(other.variance, a.variance)


def test_auto_rounds_are_whole_chunks(tiny_sr, image):
    est = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.2, samples="auto",
                          target=1.0, max_samples=20, round_size=4, chunk_size=3)
    assert [n for n, _ in est.trace] == [6, 12, 18, 20]  # rounds of 4 rounded up to 2 chunks of 3


def test_auto_stops_at_the_cap(tiny_sr, image):
    est = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.2, samples="auto",
                          target=1.0, max_samples=10)
    assert est.samples == 10
    assert [n for n, _ in est.trace] == [4, 8, 10] and est.reliability == est.trace[-1][1] < 1.0
    assert uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.2, samples="auto",
                           max_samples=3).samples == 3


@pytest.mark.parametrize("kwargs", [dict(method="noise", layer="body.1", strength=0.0),
                                    dict(method="dropout", layer="body.1", strength=0.0),
                                    dict(method="mc_dropout")])
def test_auto_stops_early_on_a_zero_variance_map(image, kwargs):
    model = make_tiny_sr()
    model.module.drop.p = 0.0  # MC-dropout at rate 0: nothing varies
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN / constant-input warnings on the way
        est = uqcore.estimate(model, image, samples="auto", **kwargs)
    first_round = est.trace[0][0]  # 4 samples, or one chunk where the chunk is larger
    assert est.samples == first_round < 64 and est.reliability == 1.0 and est.trace == [(first_round, 1.0)]
    assert float(est.variance.abs().max()) == 0.0


def test_auto_where_the_model_fixes_the_samples(tiny_sr, image):
    trans = uqcore.estimate(tiny_sr, image, method="transform", samples="auto", target=0.01)
    assert trans.samples == 8 and [n for n, _ in trans.trace] == [4, 8]  # the whole set, not the first round
    assert uqcore.estimate(tiny_sr, image, method="transform", samples="auto", max_samples=5).samples == 5
    members = [make_tiny_sr(seed=s).module for s in range(3)]
    ens = uqcore.estimate(uqcore.wrap(members[0], task="sr", scale=2, members=members), image,
                          method="ensemble", samples="auto")
    assert ens.samples == 3 and ens.reliability is None and ens.trace == []  # fewer than 4: no halves
    head = uqcore.wrap(nn.Conv2d(3, 6, 3, padding=1), task="image", output="mean_logvar")
    llm = uqcore.estimate(head, image, method="llm", samples="auto")
    assert llm.samples == 0 and llm.reliability is None and llm.trace == []


def test_fixed_counts_record_the_reliability_reached(tiny_sr, image):
    few = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.2, samples=3)
    assert few.reliability is None and few.trace == []
    est = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.2, samples=10)
    assert [n for n, _ in est.trace] == [4, 8, 10] and est.reliability == est.trace[-1][1]
    assert all(0.0 <= r <= 1.0 for _, r in est.trace)


def test_auto_keeps_live_updates_and_progress_across_rounds(tiny_sr, image):
    updates, progress = [], []
    est = uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.2, samples="auto",
                          target=0.5, chunk_size=2, on_update=lambda e, total: updates.append((e.samples, total, e)),
                          progress=lambda done, total: progress.append((done, total)))
    assert est.samples < 64
    assert [u[0] for u in updates[:-1]] == list(range(2, est.samples + 1, 2))
    assert all(total == 64 for _, total, _ in updates[:-1]) and updates[-1][:2] == (est.samples, est.samples)
    assert progress[-1] == (est.samples, est.samples)
    last = updates[-1][2]
    assert torch.equal(last.variance, est.variance) and last.trace == est.trace
    assert updates[1][2].reliability == updates[1][2].trace[-1][1]  # 4 samples: the first round's value
    assert updates[0][2].reliability is None  # 2 samples: none yet


@pytest.mark.slow  # 256-sample maps, twice: not in -m quick
def test_reliability_predicts_the_rank_correlation_between_maps():
    """Split-half reliability (Spearman–Brown) estimates the rank correlation between two maps of
    N fresh samples each; with a many-sample map M the correlation is about sqrt(rel_N rel_M)."""
    from uqcore.metrics import spearman

    model, x = make_tiny_sr(), structured_image(48)
    for kw in (dict(method="dropout", layer="head", strength=0.3), dict(method="mc_dropout")):
        big = uqcore.estimate(model, x, samples=256, seed=100, **kw)
        for n in (8, 16, 32):
            a, b = (uqcore.estimate(model, x, samples=n, seed=s, **kw) for s in (7, 8))
            assert abs(a.reliability - spearman(a.variance, b.variance)) < 0.05, (kw, n)
            predicted = math.sqrt(a.reliability * big.reliability)
            assert abs(predicted - spearman(a.variance, big.variance)) < 0.05, (kw, n)


def test_split_half_reliability_cases():
    from scipy.stats import spearmanr

    g = torch.Generator().manual_seed(0)
    a = torch.rand(30, 40, generator=g)
    b = a + 0.3 * torch.rand(30, 40, generator=g)
    r = spearmanr(a.flatten().numpy(), b.flatten().numpy()).statistic
    assert split_half_reliability(a, b) == pytest.approx(2 * r / (1 + r), abs=1e-12)
    assert split_half_reliability(a, a) == 1.0
    assert split_half_reliability(torch.zeros(4, 4), torch.zeros(4, 4)) == 1.0  # nothing varies
    assert split_half_reliability(torch.zeros(4, 4), a[:4, :4]) == 0.0        # no rank order on one side
    assert split_half_reliability(a, -a) == 0.0                                # negative r counts as 0


def test_moments_read_a_channels_last_batch_as_it_lies_with_the_numbers_of_a_contiguous_one(monkeypatch):
    """A channels-last batch (what the engine's convolutions return) is streamed in its own memory
    order, block by block: every element gets the numbers the same samples give in the default
    layout, the even half too, across block edges (a block smaller than one sample's elements)."""
    from uqcore.engine import moments as mom
    from uqcore.engine.estimate import SampleMoments

    monkeypatch.setattr(mom, "BLOCK_ELEMENTS", 37)  # 3 x 9 x 11 = 297 elements: 9 blocks, the last partial
    data = torch.rand(10, 3, 9, 11, generator=torch.Generator().manual_seed(4)) + 2.0
    fast, plain = SampleMoments(), SampleMoments()
    for start in range(0, 10, 4):
        fast.update(data[start:start + 4].contiguous(memory_format=torch.channels_last), start)
        plain.update(data[start:start + 4].contiguous(), start)
    assert fast.all.mean.stride() == (1, 33, 3)  # kept as the batches lie: channels fastest
    for a, b in ((fast.all, plain.all), (fast.even, plain.even)):
        assert a.count == b.count
        assert torch.equal(a.mean, b.mean) and torch.equal(a.m2, b.m2)
    np.testing.assert_allclose(fast.all.variance.numpy(), data.double().var(0, unbiased=False).numpy(), rtol=1e-12)
    # the channel-mean map: summed channel by channel, the same numbers in either layout
    assert torch.equal(fast.all.variance_map(), plain.all.variance_map())
    np.testing.assert_allclose(fast.all.variance_map().numpy(), fast.all.variance.mean(0).numpy(), rtol=1e-14)
    even_map, odd_map = fast.half_maps()
    np.testing.assert_allclose(odd_map.numpy(), data[1::2].double().var(0, unbiased=False).mean(0).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="take no more samples"):
        fast.all.minus(fast.even).update(data[:2])


def test_sample_moments_keep_both_halves():
    from uqcore.engine.estimate import SampleMoments

    data = torch.randn(11, 3, 4, dtype=torch.float64) + 5.0
    moments, plain = SampleMoments(), RunningMoments()
    for start in range(0, 11, 3):
        moments.update(data[start:start + 3], start)
        plain.update(data[start:start + 3])
    assert torch.equal(moments.all.mean, plain.mean) and torch.equal(moments.all.m2, plain.m2)  # as without halves
    odd = moments.all.minus(moments.even)
    assert (moments.even.count, odd.count) == (6, 5)
    for half, rows in ((moments.even, data[0::2]), (odd, data[1::2])):
        np.testing.assert_allclose(half.mean.numpy(), rows.numpy().mean(0), atol=1e-12)
        np.testing.assert_allclose(half.variance.numpy(), rows.numpy().var(0), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(samples="many"), 'integer or "auto"'),
        (dict(samples="auto", target=0), "target must be"),
        (dict(samples="auto", target=1.5), "target must be"),
        (dict(samples="auto", max_samples=0), "max_samples must be between"),
        (dict(samples="auto", round_size=0), "round_size must be between"),
    ],
)
def test_bad_auto_arguments(tiny_sr, image, kwargs, match):
    with pytest.raises(InputError, match=match):
        uqcore.estimate(tiny_sr, image, method="noise", layer="body.1", strength=0.1, **kwargs)


@pytest.mark.parametrize("kind", ["noise", "dropout", "mc_dropout"])
def test_parallel_draws_give_the_serial_numbers(tiny_sr, image, kind, monkeypatch):
    from uqcore.engine import perturb

    kw = dict(method=kind, samples=7, seed=2) | ({} if kind == "mc_dropout" else dict(layer="body.1", strength=0.3))
    serial = uqcore.estimate(tiny_sr, image, **kw)
    monkeypatch.setattr(perturb, "PARALLEL_DRAW_MIN", 1)  # every draw goes through the thread pool
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    parallel = uqcore.estimate(tiny_sr, image, **kw)
    assert torch.equal(parallel.variance, serial.variance) and torch.equal(parallel.mean, serial.mean)


class _NaNWhenBatched(nn.Module):
    """Finite for one image; NaN once the samples branch off after ``first`` (batch > 1)."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        y = self.first(x)
        return y * float("nan") if y.shape[0] > 1 else y


@pytest.mark.parametrize("check_each_pass", [True, False])
def test_a_non_finite_sample_is_reported_with_or_without_the_per_pass_check(monkeypatch, check_each_pass):
    """On a GPU the sampling loop skips the per-pass value check (it would wait for the device every
    chunk) and checks the streamed moments once at the end: both catch a NaN sample."""
    import uqcore.engine.estimate as engine
    from uqcore.errors import ModelRunError

    if not check_each_pass:  # what the loop does on CUDA, here on the CPU
        plain = engine.checked_forward
        monkeypatch.setattr(engine, "checked_forward", lambda module, x, check_values=True: plain(module, x, False))
    model = uqcore.wrap(_NaNWhenBatched(), task="image")
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ModelRunError, match="NaN or infinite"):
        uqcore.estimate(model, x, method="noise", layer="first", strength=0.1, samples=4, seed=0, device="cpu")
