#!/usr/bin/env bash
# Train the bundled student heads (issue 16), one after another, on the project's TRAINING data
# (never assets/samples/): data/sr_train (python scripts/build_sr_data.py) and data/depth_train
# (python -m uqcore make-scenes --n 200 --seed 0 --out data/depth_train). Checkpoints in runs/students/;
# rerun a line with --resume to continue it. Then: python scripts/check_students.py --write
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
COMMON="--steps 800 --crop 32 --batch 2 --seed 0 --ckpt-every 100 --threads 1 --quiet"
$PY -m uqcore distill --model srresnet --images data/sr_train --out assets/models/srresnet.student.safetensors \
    --ckpt runs/students/srresnet.ckpt.pt $COMMON "$@"
$PY -m uqcore distill --model srgan --images data/sr_train --out assets/models/srgan.student.safetensors \
    --ckpt runs/students/srgan.ckpt.pt $COMMON "$@"
$PY -m uqcore distill --model fcrn --images data/depth_train --out assets/models/fcrn.student.safetensors \
    --ckpt runs/students/fcrn.ckpt.pt --steps 800 --crop 64 --batch 2 --seed 0 --ckpt-every 100 --threads 1 --quiet "$@"
