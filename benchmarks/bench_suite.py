"""Time a command (by default the whole test suite, ``bash scripts/test.sh``) and the machine's busy
CPU over it, with the host's speed before it.

Busy CPU is read from the ``cpu`` line of ``/proc/stat`` before and after (user, nice, system,
irq, softirq and steal time of every process: pytest, the Streamlit servers, chromium, Ray), so
it shows whether a run is bound by the cores (busy CPU ≈ cores × wall) or waits. The host's speed
is the suite's reference loop (``tests/app/browser/browser_support.py::cpu_slowdown``: one million Python
additions; 0.05 s on the day the suite's time bar was set). Linux only.

With ``--by-process``, also where the CPU went: every process's CPU time, read from
``/proc/<pid>/stat`` every half second while the command runs and summed by kind (chromium, the
Streamlit server, Ray, the pytest workers, ...). A process that lives less than half a second is
missed, so the kinds add up to a little less than the busy CPU.

    .venv/bin/python benchmarks/bench_suite.py [--by-process] [-- COMMAND ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
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


# (kind, words of the command line that mark it), the first match wins
PROCESS_KINDS = (("chromium", ("chrom",)), ("Streamlit server", ("streamlit run",)),
                 ("Ray", ("ray/", "ray::", "raylet", "gcs_server")), ("pytest", ("pytest", "exec(eval(")),
                 ("playwright driver", ("playwright",)))


def process_kind(cmdline: str) -> str:
    return next((kind for kind, words in PROCESS_KINDS if any(w in cmdline for w in words)), "other")


class ProcessSampler:
    """CPU seconds of every process by kind, from ``/proc`` every ``interval`` seconds until
    ``stop()`` (the processes running at the start count from then on)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval, self.seen = interval, {}
        self.start = {key: cpu for key, (cpu, _) in self._read().items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self) -> dict:
        now, tick = {}, os.sysconf("SC_CLK_TCK")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                cmdline = open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
            except OSError:  # it ended meanwhile
                continue
            now[(pid, fields[19])] = ((int(fields[11]) + int(fields[12])) / tick, cmdline)  # utime + stime
        return now

    def _update(self) -> None:
        for key, (cpu, cmdline) in self._read().items():
            # an ended process not yet reaped (a zombie) still has its CPU time but no command line
            self.seen[key] = (cpu, cmdline or self.seen.get(key, (0.0, ""))[1])

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._update()

    def stop(self) -> Counter:
        self._stop.set()
        self._thread.join()
        self._update()
        by_kind: Counter = Counter()
        for key, (cpu, cmdline) in self.seen.items():
            if key[0] != str(os.getpid()):
                by_kind[process_kind(cmdline)] += cpu - self.start.get(key, 0.0)
        return by_kind


def main() -> int:
    args = sys.argv[1:]
    command = args[args.index("--") + 1:] if "--" in args else ["bash", "scripts/test.sh"]
    loop = reference_loop()
    sampler = ProcessSampler() if "--by-process" in args[:args.index("--") if "--" in args else len(args)] else None
    cpu, wall = busy_seconds(), time.perf_counter()
    code = subprocess.call(command, cwd=ROOT)
    wall, cpu = time.perf_counter() - wall, busy_seconds() - cpu
    print(f"\n{' '.join(command)}: exit {code}, {wall:.1f} s wall, {cpu:.0f} s busy CPU on {os.cpu_count()} cores "
          f"({cpu / wall:.2f} busy on average); reference loop before it {loop:.3f} s (0.05 s when the bar was set)")
    if sampler is not None:
        by_kind = sampler.stop()
        print("CPU seconds by process kind: " + ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in
                                                         by_kind.most_common() if seconds >= 0.5))
    return code


if __name__ == "__main__":
    sys.exit(main())
