"""The 300-image checks of docs/TRIAGE.md: ``python -m uqcore triage`` on a folder, its peak RSS at
image 100 and at the end, and a run killed part-way (SIGKILL) then resumed, compared with the
uninterrupted run's CSV.

    .venv/bin/python benchmarks/bench_triage_check.py --images /tmp/uqcore-triage/folder300 --out /tmp/uqcore-triage/check300

Each run is a subprocess; this script polls its ``/proc/<pid>/status`` (VmHWM, the peak resident
size) and the rows of its ``triage.csv`` every 0.1 s. The CSVs are compared on every column but
``seconds`` (timings differ between any two runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rows(path: Path) -> int:
    try:
        return max(0, sum(1 for _ in path.open()) - 1)
    except OSError:
        return 0


def peak_kib(pid: int) -> int | None:
    try:
        line = next(x for x in open(f"/proc/{pid}/status") if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1])


def triage(images: Path, out: Path, model: str, *extra: str, kill_at: int | None = None) -> dict:
    """Run the command; VmHWM when the CSV first holds 100 rows and the last one read; killed
    with SIGKILL once the CSV holds ``kill_at`` rows."""
    cmd = [sys.executable, "-m", "uqcore", "triage", "--model", model, "--images", str(images), "--out", str(out), *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen: dict = {"command": " ".join(["python", *cmd[1:]])}
    while proc.poll() is None:
        done, peak = rows(out / "triage.csv"), peak_kib(proc.pid)
        if peak is not None:
            seen["peak_end_mb"] = peak / 1024
            if done >= 100 and "peak_at_100_mb" not in seen:
                seen["peak_at_100_mb"] = peak / 1024
        if kill_at is not None and done >= kill_at:
            os.kill(proc.pid, signal.SIGKILL)
            seen["killed_at_rows"] = done
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    seen.update(returncode=proc.returncode, seconds=time.perf_counter() - started, rows=rows(out / "triage.csv"),
                progress_bar="triage: 100%" in stderr, last_stderr=stderr[-300:], stdout=stdout[-600:])
    return seen


def table(path: Path) -> list[dict]:
    with path.open() as fh:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", default="srresnet")
    p.add_argument("--kill-at", type=int, default=120)
    args = p.parse_args()
    whole = triage(args.images, args.out / "whole", args.model)
    killed = triage(args.images, args.out / "killed", args.model, kill_at=args.kill_at)
    resumed = triage(args.images, args.out / "killed", args.model, "--resume")
    same = table(args.out / "whole" / "triage.csv") == table(args.out / "killed" / "triage.csv")
    report = {"whole": whole, "killed": killed, "resumed": resumed, "same_csv_but_seconds": same,
              "peak_growth_mb": whole.get("peak_end_mb", 0) - whole.get("peak_at_100_mb", 0)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
