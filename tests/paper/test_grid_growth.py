"""The paper run's sweep grid grows past its largest strength while that strength is the choice."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from uqcore.paper import run as paper_run
from uqcore.paper.report import Settings


def test_grown_strength_doubles_noise_and_halves_the_way_to_a_bound():
    assert paper_run.grown_strength("noise", 1.0) == 2.0
    assert paper_run.grown_strength("dropout", 0.5) == 0.75
    assert paper_run.grown_strength("dropout", 0.9) is None  # 0.95 is within 5 % of the rate's bound 1


def fake_sweep(loss_at, corr_at, calls):
    """sweep() stand-in: one row per (layer, strength), loss increase and correlation from the given curves."""

    def sweep(model, xs, ts, *, method, layers, strengths, **_):
        calls.append((method, tuple(strengths)))
        return [dict(method=method, layer=layer, strength=st, samples=8, loss_increase=loss_at(st),
                     corr_pixel=corr_at(st)) for layer in layers for st in strengths]

    return sweep


@pytest.mark.parametrize("loss_at, corr_at, grown", [
    # the tolerance (5 %) binds at 8: the grid grows 2, 4, 8 and the choice is 4
    (lambda st: 0.01 * st, lambda st: st, (2.0, 4.0, 8.0)),
    # the correlation turns at 2 (rises to 2, falls after): the grid grows 2, 4 and the choice is 2
    (lambda st: 0.0, lambda st: -abs(st - 2.0), (2.0, 4.0)),
    # the choice is inside the grid: nothing grows
    (lambda st: 0.0, lambda st: -abs(st - 0.5), ()),
])
def test_sweep_grows_until_the_tolerance_binds_or_the_correlation_turns(monkeypatch, loss_at, corr_at, grown):
    calls: list = []
    monkeypatch.setattr(paper_run, "sweep", fake_sweep(loss_at, corr_at, calls))
    monkeypatch.setattr(paper_run, "default_layers", lambda model, n: ["a", "b"])
    monkeypatch.setattr(paper_run, "SWEPT", ("noise",))
    settings = Settings(grid_growth=4)
    report = SimpleNamespace(settings=settings, sweeps={}, chosen={}, fallback={}, timings=[], cache=None)
    split = SimpleNamespace(part=lambda name: (None, [(0, 0)]), heldout=[])
    model = SimpleNamespace(task="sr", name="toy")
    paper_run._sweep_model(report, model, split, {"noise": (0.5, 1.0)}, {})
    assert calls == [("noise", (0.5, 1.0)), *[("noise", (g,)) for g in grown]]
    strengths = sorted({r["strength"] for r in report.sweeps[("toy", "noise")]})
    assert strengths == [0.5, 1.0, *grown]
    chosen = report.chosen[("toy", "noise")]["strength"]
    assert chosen == {(2.0, 4.0, 8.0): 4.0, (2.0, 4.0): 2.0, (): 0.5}[grown]
    assert report.fallback[("toy", "noise")] is False


def test_growth_stops_at_its_limit(monkeypatch):
    calls: list = []
    monkeypatch.setattr(paper_run, "sweep", fake_sweep(lambda st: 0.0, lambda st: st, calls))
    monkeypatch.setattr(paper_run, "default_layers", lambda model, n: ["a"])
    monkeypatch.setattr(paper_run, "SWEPT", ("noise",))
    report = SimpleNamespace(settings=Settings(grid_growth=2), sweeps={}, chosen={}, fallback={}, timings=[], cache=None)
    split = SimpleNamespace(part=lambda name: (None, [(0, 0)]), heldout=[])
    paper_run._sweep_model(report, SimpleNamespace(task="sr", name="toy"), split, {"noise": (1.0,)}, {})
    assert [c[1] for c in calls] == [(1.0,), (2.0,), (4.0,)]
    assert report.chosen[("toy", "noise")]["strength"] == 4.0
