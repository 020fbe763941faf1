#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the pinned requirements. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
echo "setup: installing requirements.txt into .venv (PyTorch and the rest: a few minutes on a fresh machine)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "setup: done"
