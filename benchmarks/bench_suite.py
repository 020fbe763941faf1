"""Time a command (by default the whole test suite, ``bash scripts/test.sh``) and the machine's busy
CPU over it, with the host's speed before it.

Busy CPU is read from the ``cpu`` line of ``/proc/stat`` before and after (user, nice, system,
irq, softirq and steal time of every process: pytest, the Streamlit servers, chromium, Ray), so
it shows whether a run is bound by the cores (busy CPU ≈ cores × wall) or waits. The host's speed
is the suite's reference loop (``tests/app/browser/browser_support.py::cpu_slowdown``: one million Python
additions; 0.05 s on the day the suite's time bar was set). Linux only.

    .venv/bin/python benchmarks/bench_suite.py [-- COMMAND ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user, nice, system, irq, softirq, steal (idle and iowait left out)


def busy_seconds() -> float:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values[i] for i in BUSY_FIELDS) / os.sysconf("SC_CLK_TCK")


def reference_loop() -> float:
    """Seconds of the suite's reference loop (the median of 3)."""
    walls = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        walls.append(time.perf_counter() - started)
    return sorted(walls)[1]


def main() -> int:
    args = sys.argv[1:]
    command = args[args.index("--") + 1:] if "--" in args else ["bash", "scripts/test.sh"]
    loop = reference_loop()
    cpu, wall = busy_seconds(), time.perf_counter()
    code = subprocess.call(command, cwd=ROOT)
    wall, cpu = time.perf_counter() - wall, busy_seconds() - cpu
    print(f"\n{' '.join(command)}: exit {code}, {wall:.1f} s wall, {cpu:.0f} s busy CPU on {os.cpu_count()} cores "
          f"({cpu / wall:.2f} busy on average); reference loop before it {loop:.3f} s (0.05 s when the bar was set)")
    return code


if __name__ == "__main__":
    sys.exit(main())
