#!/usr/bin/env bash
# Set up (first time) and run the whole test suite, the browser test included.
#   bash scripts/test.sh [pytest args]
#   bash scripts/test.sh reliability [--out PATH]   run the reliability tests (core and dashboard) and
#       record what each one observed in docs/RELIABILITY.md (its one writer; the ordinary suite
#       never writes tracked files)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then  # Debian's chromium drives the real-browser test
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ "${1:-}" = reliability ]; then
  OUT=docs/RELIABILITY.md
  if [ "${2:-}" = --out ]; then OUT=$3; fi
  OUT=$(realpath -m "$OUT")
  # the order of a full run: the dashboard's reliability tests, then the core's
  if .venv/bin/python -m pytest -q -p no:cacheprovider tests/app/test_reliability_app.py tests/test_reliability.py \
      --reliability-record="$OUT"; then
    echo "wrote $OUT"
  else
    code=$?; echo "some reliability tests failed (exit $code); $OUT holds what was observed" >&2; exit $code
  fi
  exit 0
fi
# two worker processes, each taking whole test files (module fixtures set up once; the real-browser
# files together), the long ones first, and its share of the cores (tests/conftest.py); about
# 4-4.5 min on this 2-core machine, more on a slower host (docs/BENCHMARKS.md, "Test suite");
# add -p no:xdist to run in this process (a debugger, -x)
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
