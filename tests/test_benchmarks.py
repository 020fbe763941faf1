"""The benchmark scripts run in their smoke mode (tiny random networks, 2 samples) so they cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_smoke(script: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--smoke"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def table_rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| case") and not line.startswith("| peer")]


def test_bench_sampling_smoke():
    out = run_smoke("bench_sampling.py")
    rows = table_rows(out)
    assert [r[0] for r in rows] == ["transform", "noise @ body.0", "noise @ body.2", "noise @ upsample.2",
                                    "dropout @ body.0", "dropout @ body.2", "dropout @ upsample.2", "mc_dropout"]
    assert all(float(r[-1]) < 1e-5 for r in rows)  # the engine's map is the naive loop's
    assert "(prefix)" in rows[1][1]  # the limit follows the engine's prefix reuse
    assert re.fullmatch(r"maximum engine/limit: \d+\.\d\d", out.strip().splitlines()[-1])
    assert re.fullmatch(r"maximum engine/\(limit\+draws\): \d+\.\d\d", out.strip().splitlines()[-2])
    # transform draws nothing; the plain and the keyed draws' columns are there
    assert rows[0][3] == rows[0][4] == "0.000" and len(rows[0]) == 11


def test_bench_peers_smoke():
    pytest.importorskip("ttach", reason="the peers' packages are installed from benchmarks/requirements.txt")
    pytest.importorskip("torch_uncertainty.methods", reason="the peers' packages come from benchmarks/requirements.txt")
    out = run_smoke("bench_peers.py")
    rows = table_rows(out)
    assert len(rows) == 4
    assert float(rows[0][4].split()[-1]) < 1e-5 and float(rows[1][4].split()[-1]) < 1e-6  # transform maps agree
    assert re.fullmatch(r"minimum peer/uqcore: \d+\.\d\d", out.strip().splitlines()[-1])


def test_bench_student_smoke():
    out = run_smoke("bench_student.py")
    rows = table_rows(out)
    assert len(rows) == 1 and rows[0][0].startswith("smoke-sr (teacher transform")
    assert all(float(v) > 0 for v in rows[0][2:])
    lines = out.strip().splitlines()
    assert re.fullmatch(r"maximum student/forward: \d+\.\d\d", lines[-2])
    assert re.fullmatch(r"minimum teacher/student: \d+\.\d\d", lines[-1])


def test_bench_suite_times_a_command_and_its_busy_cpu():
    """bench_suite.py on a command that keeps one core busy for about a second: its exit code, wall
    time and the busy CPU over it (at least most of that second), and the reference loop."""
    spin = "import time; t = time.process_time()\nwhile time.process_time() - t < 1.0: pass"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_suite.py"), "--by-process", "--",
                           sys.executable, "-c", spin], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r": exit 0, (\d+\.\d) s wall, (\d+) s busy CPU on \d+ cores \((\d+\.\d\d) busy on average\); "
                      r"reference loop before it (\d\.\d{3}) s", done.stdout)
    assert found, done.stdout
    wall, cpu, loop = float(found[1]), float(found[2]), float(found[4])
    assert wall >= 1.0 and cpu >= 1 and loop > 0
    # --by-process: the spinning command (no known kind), seen at least until its last half second
    by_kind = re.search(r"CPU seconds by process kind: (.*)", done.stdout)
    assert by_kind, done.stdout
    kinds = dict(part.rsplit(" ", 1) for part in by_kind[1].split(", "))
    assert float(kinds["other"]) >= 0.5, kinds


def test_bench_ordering_smoke():
    out = run_smoke("bench_ordering.py")  # it checks every order against numpy's itself
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| ")]
    assert [r[0] for r in rows[1:]] == ["distinct", "float32 map", "few ties", "tile means", "zero plateau"]
    assert all(float(r[3]) > 0 for r in rows[1:])
