"""How much faster the student ranks than its teacher, timed interleaved so that a shared machine's
changing load falls on both alike (docs/TRIAGE.md).

    .venv/bin/python benchmarks/bench_triage_speed.py --images /tmp/uqcore-triage/pairs16/lr [--model srresnet] [--rounds 3]

For every image of the folder and every round: ``estimate`` with the student, then with the
teacher that ``triage --refine`` uses (``uqcore.datasets.triage.teacher_setting``), each timed
with ``time.perf_counter``. Prints the total seconds of each and their ratio per round, and the
median ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore  # noqa: E402
from uqcore.datasets import triage as T  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--model", default="srresnet")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    model = uqcore.load_model(args.model)
    student, teacher = T.ranking_setting(model, "student"), T.teacher_setting(model)
    images = [uqcore.read_image(path) for path in sorted(args.images.iterdir())]
    rounds = []
    for _ in range(args.rounds):
        spent = {"student": 0.0, "teacher": 0.0}
        for x in images:
            for name, s in (("student", student), ("teacher", teacher)):
                started = time.perf_counter()
                uqcore.estimate(model, x, method=s.method, layer=s.layer, strength=s.strength, samples=s.samples,
                                seed=s.seed)
                spent[name] += time.perf_counter() - started
        rounds.append({**spent, "ratio": spent["teacher"] / spent["student"]})
        print(json.dumps(rounds[-1]), flush=True)
    print(json.dumps({"images": len(images), "teacher": teacher.text(),
                      "median_ratio": statistics.median(r["ratio"] for r in rounds)}))


if __name__ == "__main__":
    main()
