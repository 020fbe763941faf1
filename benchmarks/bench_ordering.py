"""Time ``uqcore.metrics.stable_order`` against numpy's stable argsort, in one run.

Keys of N float64 values (default 147,456: a 384x384 map, the bundled SR samples' output):
distinct values, a map's float32 values, values with a few ties (rounded to 1e-6), tile means
(16x16 tiles, the patch level) and a zero plateau. Also ``descending_order`` from the ascending
order against ``np.argsort(-key, kind="stable")``, and a key hinted by the order of the values it
is a non-decreasing function of (the variance + eps). Each time is the best of ``--repeats``
alternating runs; every result is checked against numpy's first.

    .venv/bin/python benchmarks/bench_ordering.py [--n 147456] [--repeats 20] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uqcore.metrics import descending_order, stable_order  # noqa: E402


def keys(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    side = int(np.sqrt(n))
    tiles = np.repeat(np.repeat(rng.random((side // 16 + 1, side // 16 + 1)), 16, 0), 16, 1)[:side, :side]
    plateau = rng.random((side, side))
    plateau[side // 4: side // 2, side // 8: 3 * side // 4] = 0.0
    return {"distinct": rng.random(n), "float32 map": rng.random(n).astype(np.float32).astype(np.float64),
            "few ties": np.round(rng.random(n), 6), "tile means": tiles.ravel(), "zero plateau": plateau.ravel()}


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=384 * 384)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="a small quick run (the test suite's)")
    args = parser.parse_args()
    n, repeats = (4096, 2) if args.smoke else (args.n, args.repeats)
    print("| key | numpy stable (ms) | stable_order (ms) | ratio | descending: numpy / from ascending (ms) "
          "| hinted v+eps (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, key in keys(n, np.random.default_rng(0)).items():
        ascending = stable_order(key)
        assert np.array_equal(ascending, np.argsort(key, kind="stable")), name
        assert np.array_equal(descending_order(key, ascending), np.argsort(-key, kind="stable")), name
        shifted = key + 1e-12
        assert np.array_equal(stable_order(shifted, hint=ascending), np.argsort(shifted, kind="stable")), name
        numpy_s = best(lambda: np.argsort(key, kind="stable"), repeats)
        ours = best(lambda: stable_order(key), repeats)
        numpy_desc = best(lambda: np.argsort(-key, kind="stable"), repeats)
        desc = best(lambda: descending_order(key, ascending), repeats)
        hinted = best(lambda: stable_order(shifted, hint=ascending), repeats)
        print(f"| {name} | {numpy_s * 1e3:.2f} | {ours * 1e3:.2f} | {numpy_s / ours:.2f} | "
              f"{numpy_desc * 1e3:.2f} / {desc * 1e3:.2f} | {hinted * 1e3:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
