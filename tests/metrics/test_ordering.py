"""``stable_order`` / ``descending_order`` against numpy's stable sort, element for element, on
keys with no ties, few, many, plateaus, NaN, signed zeros and integers; hints right and wrong."""

import numpy as np
import pytest

from uqcore import metrics as M
from uqcore.metrics import descending_order, ranks, stable_order


def _keys(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = 40_000  # above the tie sample, so both ways (default sort + ties, stable sort) are taken
    tiles = np.repeat(np.repeat(rng.random((10, 10)), 20, 0), 20, 1).ravel()
    block = rng.random((200, 200))
    block[50:120, 30:160] = 0.0
    return {
        "distinct": rng.random(n),
        "few ties": np.round(rng.random(n), 6),
        "many ties": np.round(rng.random(n), 2),
        "tile means": tiles,
        "zero plateau": block.ravel(),
        "sorted": np.sort(rng.random(n)),
        "reversed": np.sort(rng.random(n))[::-1].copy(),
        "signed zeros": rng.choice([0.0, -0.0, 1.0], n),
        "nan": np.where(rng.random(n) < 0.01, np.nan, np.round(rng.random(n), 3)),
        "integers": rng.integers(-5, 5, n),
        "small": rng.integers(0, 3, 7).astype(float),
        "one": np.array([2.0]),
        "empty": np.array([]),
    }


@pytest.mark.parametrize("name", list(_keys(np.random.default_rng(0))))
def test_orders_equal_numpys_stable_sort(name):
    key = _keys(np.random.default_rng(0))[name]
    ascending = np.argsort(key, kind="stable")
    descending = np.argsort(-key, kind="stable")
    got = stable_order(key)
    assert np.array_equal(got, ascending)
    assert np.array_equal(descending_order(key), descending)
    assert np.array_equal(descending_order(key, got), descending)
    # a hint that sorts the key (its own order), one that sorts a coarser key, and one that does not
    assert np.array_equal(stable_order(key, hint=ascending), ascending)
    coarse = np.floor(key * 4) if key.dtype.kind == "f" else key // 3
    assert np.array_equal(stable_order(coarse, hint=ascending), np.argsort(coarse, kind="stable"))
    shuffled = np.random.default_rng(1).permutation(key.size)
    assert np.array_equal(stable_order(key, hint=shuffled), ascending)


def test_small_random_keys_and_hints():
    rng = np.random.default_rng(2)
    for _ in range(2000):
        key = rng.integers(0, int(rng.integers(1, 6)), int(rng.integers(0, 30))).astype(float)
        key[rng.random(key.size) < 0.1] = np.nan
        ascending = np.argsort(key, kind="stable")
        assert np.array_equal(stable_order(key), ascending)
        assert np.array_equal(stable_order(key, hint=rng.permutation(key.size)), ascending)
        assert np.array_equal(descending_order(key), np.argsort(-key, kind="stable"))


def test_hint_is_not_changed_and_must_fit():
    key = np.array([1.0, 0.0, 1.0, 0.0])
    hint = np.array([3, 1, 2, 0])  # sorts the key, ties out of index order
    assert stable_order(key, hint=hint).tolist() == [1, 3, 0, 2]
    assert hint.tolist() == [3, 1, 2, 0]
    assert stable_order(key, hint=np.array([0, 1])).tolist() == [1, 3, 0, 2]  # wrong length: ignored
    with pytest.raises(ValueError, match="1-D"):
        stable_order(np.zeros((2, 2)))


def test_ranks_from_a_given_order_equal_ranks_from_their_own_sort():
    x = np.round(np.random.default_rng(3).random(5000), 2)
    assert np.array_equal(ranks(x, stable_order(x)), ranks(x))
    assert np.array_equal(ranks(x, np.argsort(x, kind="stable")), ranks(x))


def test_ence_with_a_hint_or_a_wrong_one_bins_the_same_pixels():
    rng = np.random.default_rng(4)
    v = np.round(rng.random(3000), 3)
    r2 = rng.random(3000) * v
    plain = M.reliability_vectors(r2, v, bins=7, eps=1e-6)
    for hint in (stable_order(v), rng.permutation(v.size)):
        hinted = M.reliability_vectors(r2, v, bins=7, eps=1e-6, hint=hint)
        for field in ("rmv", "rmse", "count", "sigma_edges"):
            assert np.array_equal(getattr(hinted, field), getattr(plain, field))
