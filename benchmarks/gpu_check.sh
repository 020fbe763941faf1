#!/usr/bin/env bash
# The GPU check: run it whenever a session is lent a CUDA machine; CI never runs it.
#   bash benchmarks/gpu_check.sh            # from the repository root (sets up .venv if missing)
# 1. the tests marked cuda (CPU and GPU give the same maps and metrics);
# 2. benchmarks/bench_sampling.py on the GPU: the engine against the limit (the same forward
#    passes at the engine's batch sizes) and the plain draws, for srresnet and every candidate
#    layer of fcrn (batched samples: chunks of 16-32 on CUDA);
# 3. benchmarks/bench_peers.py on the GPU where the peers' environment exists
#    (/work/bench-venv, see benchmarks/requirements.txt).
# Prints each table and its ratios; exits non-zero without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || { bash scripts/setup.sh; PY=.venv/bin/python; }
"$PY" - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: no CUDA device here; run this on a machine with a GPU")
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
PY
echo "== tests marked cuda"
"$PY" -m pytest -q -m cuda -p no:cacheprovider tests
echo "== engine against the limit: srresnet"
"$PY" benchmarks/bench_sampling.py --device cuda --repeats 3
echo "== engine against the limit: fcrn, every candidate layer"
"$PY" benchmarks/bench_sampling.py --device cuda --model fcrn --every-layer --repeats 3
PEERS="${PEERS_PYTHON:-/work/bench-venv/bin/python}"
if [ -x "$PEERS" ]; then
  echo "== against the peers"
  "$PEERS" benchmarks/bench_peers.py --device cuda --repeats 3
else
  echo "== peers skipped: no $PEERS (python3 -m venv /work/bench-venv && /work/bench-venv/bin/pip install -r requirements.txt -r benchmarks/requirements.txt)"
fi
