#!/usr/bin/env bash
# The trained SR baselines' runs, on CPU: two lanes with one torch thread each, checkpoints every
# 100 steps in runs/sr/ (git-ignored); rerunning resumes (--resume), a finished run only re-saves.
#   lane A: srresnet-ens members 0, 1, 2, 5, 6 with srresnet's recipe and step count (2500 steps,
#           batch 8, 96 px, lr 5e-4), each with its own seed (100 + index)
#   lane B: the MC-dropout candidates: dropout after body block 1, 3 or 6, at p = 0.05, 0.1 or 0.2,
#           each fine-tuned from srresnet with the same budget (400 steps, lr 2e-4, seed 2); then
#           members 3, 4 and 7
# MEMBERS_A / MEMBERS_B override the members of a lane (e.g. MEMBERS_A="8 9" MEMBERS_B=10 for more).
# Then:  python -m uqcore baselines select-mcdrop --write   (chooses on decision images)
#        python -m uqcore baselines install-ensemble --write (bundles the finished members)
#   Usage: .venv/bin/python scripts/build_sr_data.py && bash scripts/train_baselines.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/sr_train}
R=runs/sr
mkdir -p "$R"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
T="$PY -m uqcore.training.sr --data $DATA --threads 1 --resume --no-progress --ckpt-every 100"

member() {  # index
  $T --arch srresnet --steps 2500 --batch 8 --patch 96 --lr 5e-4 --seed $((100 + $1)) \
     --out $R/ens.$1.safetensors --ckpt $R/ens.$1.ckpt.pt >> $R/ens.$1.log 2>&1
}

mcdrop() {  # block, rate
  $T --arch mcdrop --init assets/models/srresnet.safetensors --steps 400 --batch 8 --patch 96 --lr 2e-4 \
     --seed 2 --dropout-at $1 --dropout-p $2 \
     --out $R/mcdrop-at$1-p$2.safetensors --ckpt $R/mcdrop-at$1-p$2.ckpt.pt >> $R/mcdrop-at$1-p$2.log 2>&1
}

laneA() {
  for i in ${MEMBERS_A:-0 1 2 5 6}; do member $i; done
}

laneB() {
  for at in 1 3 6; do for p in 0.05 0.1 0.2; do mcdrop $at $p; done; done
  for i in ${MEMBERS_B:-3 4 7}; do member $i; done
}

laneA & A=$!
laneB & B=$!
wait $A; wait $B
echo done > $R/BASELINES_DONE
