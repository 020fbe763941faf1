import threading

import numpy as np
import pytest
import torch
from torch import nn

import uqcore
from uqcore.errors import InputError
from uqcore.hooks import hook_count
from uqcore.perturb import apply_transform, invert_transform, sample_seed
from uqcore.sampler import RunningMoments

from tests.conftest import ConcatSkip, make_tiny_sr


def naive_feature_samples(model, x, layer, kind, strength, samples, seed):
    """The paper's way: one full batch-1 forward per sample, perturbation drawn in a plain hook."""
    module = dict(model.module.named_modules())[layer]
    outs = []
    for i in range(samples):
        gen = torch.Generator().manual_seed(sample_seed(seed, i))

        def hook(_m, _i, out):
            if kind == "noise":
                return out + strength * torch.randn(out.shape[1:], generator=gen)[None]
            keep = (torch.rand(out.shape[1:], generator=gen) >= strength).float()[None]
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
    from uqcore import sampler

    sizes = []
    orig_forward = tiny_sr.module.forward
    monkeypatch.setattr(tiny_sr.module, "forward", lambda x: sizes.append(x.shape[0]) or orig_forward(x))
    out_bytes = 3 * 24 * 32 * 4  # one sample's output
    monkeypatch.setattr(sampler, "CHUNK_MEMORY_BYTES", out_bytes * sampler.ACTIVATION_FACTOR * 2)
    uqcore.estimate(tiny_sr, image, method="noise", layer="head", strength=0.1, samples=6, prefix_reuse=False)
    assert sizes == [1, 2, 2, 2]  # the unperturbed pass, then chunks of 2 instead of the default 4
