"""A method added by registering one object: ``uqcore.estimate``, ``uqcore.evaluate`` and the
dashboard's method lists take it from the method table, with no other change anywhere."""

from __future__ import annotations

import pytest
import torch

import uqcore
from uqcore.engine import methods
from uqcore.engine.estimate import UncertaintyMethod
from uqcore.errors import InputError

from tests.support import as_pairs, sr_pairs
from tests.tiny_models import make_tiny_sr

TOY = methods.MethodSpec(name="toy_gain", label="Toy gain", training_free=True, sampling="toy",
                         help="toy: the input scaled by 1 + 0.05·N(0, 1) per sample (a test method)")


class ToyGain(UncertaintyMethod):
    """Each sample runs the network on the input times a seeded random gain."""

    def draw(self, run, original, request):
        def run_chunk(indices):
            gains = [1.0 + 0.05 * torch.randn((), generator=torch.Generator().manual_seed(run.seed * 1000 + i))
                     for i in indices]
            batch = torch.cat([run.x * g for g in gains])
            return run.forward(run.members[0], batch, in_loop=True)

        return run.sample(request.count, run_chunk)


@pytest.fixture
def toy():
    method = methods.register_method(ToyGain(TOY))
    try:
        yield method
    finally:
        methods.unregister_method(TOY.name)


def test_a_registered_method_runs_through_estimate(toy, image):
    model = make_tiny_sr()
    assert "toy_gain" in model.methods and methods.label("toy_gain") == "Toy gain"
    est = uqcore.estimate(model, image, method="toy_gain", samples=4, seed=3)
    assert est.samples == 4 and est.method == "toy_gain"
    assert est.variance.shape == est.prediction.shape[-2:] and float(est.variance.max()) > 0
    again = toy.estimate(model, image, samples=4, seed=3)  # the object itself is the entry point
    torch.testing.assert_close(again.variance, est.variance)


def test_a_registered_method_runs_through_evaluate(toy):
    rows = uqcore.evaluate(make_tiny_sr(), as_pairs(sr_pairs(3)), methods=["toy_gain", "transform"], samples=[2])
    toy_rows = [r for r in rows if r["method"] == "toy_gain"]
    assert [r["level"] for r in toy_rows] == ["mean", "patch", "block", "pixel"]
    assert all(r["samples_drawn"] == 2 and r["n_images"] == 3 for r in toy_rows)


def test_the_dashboard_lists_a_registered_method(toy):
    from ui import session

    model = make_tiny_sr()
    names, help_text = session.method_options(model)
    assert names[-1] == "toy_gain" and TOY.help in help_text
    assert "toy_gain" in session.variant_options(model)[0]


def test_unregistering_leaves_the_built_in_table(toy):
    with pytest.raises(InputError, match="exists already"):
        methods.register_method(ToyGain(TOY.__class__(**{**TOY.__dict__, "name": "noise"})))
    with pytest.raises(InputError, match="built-in"):
        methods.unregister_method("noise")


def test_after_the_fixture_the_method_is_gone():
    assert "toy_gain" not in methods.METHODS and "toy_gain" not in methods.VARIANTS
    assert "toy_gain" not in make_tiny_sr().methods
    with pytest.raises(InputError, match="unknown method"):
        methods.method_object("toy_gain")
