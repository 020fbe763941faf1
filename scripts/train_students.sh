#!/usr/bin/env bash
# Train the bundled student heads, one after another, on the project's TRAINING data
# (never assets/samples/): data/sr_train (python -m uqcore data sr-train) and data/depth_train
# (python -m uqcore make-scenes --n 200 --seed 0 --out data/depth_train). Checkpoints in runs/students/;
# add --resume to a line to continue it. Then: python -m uqcore quality students --write
# SR: transform teacher (8 samples) + --error-weight 1 (a ranking term against the model's actual error on
# the crop: every SR training photo is its own ground truth); depth: the card's recommended noise teacher,
# whole 160x128 scenes (--crop 160), distilled from the teacher alone. srgan: 1600 steps (800 missed its bars)
# and a Laplace NLL (chosen among variants on the decision images of python -m uqcore quality students, not
# on assets/samples).
# docs/RESULTS.md: the ablations.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SR="--images data/sr_train --steps 800 --crop 32 --batch 2 --seed 0 --ckpt-every 100 --threads 1 --quiet --error-weight 1"
$PY -m uqcore distill --model srresnet --out assets/models/srresnet.student.safetensors --ckpt runs/students/srresnet.ckpt.pt $SR "$@"
$PY -m uqcore distill --model srgan --out assets/models/srgan.student.safetensors --ckpt runs/students/srgan.ckpt.pt $SR --steps 1600 --loss laplace "$@"
# fcrn: the bundled head's teacher is the setting the sweeps recommended when it was trained (noise at
# encoder.layer3.0, 0.02), named here since the card's recommended setting has moved on
$PY -m uqcore distill --model fcrn --images data/depth_train --out assets/models/fcrn.student.safetensors \
    --ckpt runs/students/fcrn.ckpt.pt --steps 800 --crop 160 --batch 2 --seed 0 --ckpt-every 100 --threads 1 --quiet \
    --teacher noise --layer encoder.layer3.0 --strength 0.02 "$@"
# candidate: the same head distilled from today's recommended setting (the card's default teacher,
# noise at decoder.up1, 1.0); python -m uqcore select students --models fcrn --write kept the bundled
# head (better corr_pixel / corr_mean / AUSE on the decision images; its card's selection)
$PY -m uqcore distill --model fcrn --images data/depth_train --out runs/students/fcrn-rec.safetensors \
    --ckpt runs/students/fcrn-rec.ckpt.pt --steps 800 --crop 160 --batch 2 --seed 0 --ckpt-every 100 --threads 1 --quiet "$@"
