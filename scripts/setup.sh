#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the pinned requirements. Safe to run again: pip runs only
# when requirements.txt differs from the one last installed (its copy in .venv), so a warm venv
# starts the app or the tests at once.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
if cmp -s requirements.txt .venv/installed-requirements.txt; then
  echo "setup: .venv has requirements.txt installed"
  exit 0
fi
echo "setup: installing requirements.txt into .venv (PyTorch and the rest: a few minutes on a fresh machine)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
cp requirements.txt .venv/installed-requirements.txt
echo "setup: done"
