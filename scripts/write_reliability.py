"""Rewrite docs/RELIABILITY.md: run the reliability tests (core and dashboard) and record what
each one observed. The ordinary test suite never writes tracked files; this command does.

    python scripts/write_reliability.py              # -> docs/RELIABILITY.md
    python scripts/write_reliability.py --out x.md   # anywhere else
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/app/test_reliability_app.py", "tests/test_reliability.py"]  # the order of a full run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "RELIABILITY.md"), help="where to write the record")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS,
               f"--reliability-record={out}"]
    code = subprocess.call(command, cwd=ROOT)
    if code == 0:
        print(f"wrote {out}")
    else:
        print(f"some reliability tests failed (exit {code}); {out} holds what was observed", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
