#!/usr/bin/env bash
# Train the bundled x4 SR zoo on CPU (how assets/models/srresnet*.safetensors and srgan.safetensors
# were made). Two lanes run in parallel, one torch thread each:
#   lane A: srresnet (from scratch) -> srgan (adversarial fine-tune of srresnet)
#   lane B: the 4 ensemble members (each from scratch, own seed) -> srresnet-mcdrop and
#           srresnet-llm (both fine-tuned from srresnet, so they wait for lane A's srresnet)
# Checkpoints go to runs/sr/ (git-ignored); rerunning resumes from them (a finished run just
# rewrites its weights). Then python -m uqcore card sr --write writes the cards and python -m uqcore quality sr --write their eval.
# Logs: runs/sr/*.log.  `python -m uqcore.training.sr ARGS` == `python -m uqcore train sr ARGS`.
#   Usage: python -m uqcore data sr-train && bash scripts/train_sr_zoo.sh
#   (WAIT_PID=<pid> / WAIT_PID_B=<pid>: let lane A / B first wait for an already running run of
#   theirs, e.g. after editing this script mid-way; finished runs are then only re-saved)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/sr_train}
M=assets/models
R=runs/sr
mkdir -p "$M" "$R"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
T="$PY -m uqcore.training.sr --data $DATA --threads 1 --resume"

srresnet() {
  $T --arch srresnet --steps ${SR_STEPS:-2500} --batch 8 --patch 96 --lr 5e-4 --seed 0 \
     --out $M/srresnet.safetensors --ckpt $R/srresnet.ckpt.pt >> $R/srresnet.log 2>&1
  touch $R/srresnet.done
}

laneA() {
  if [ -n "${WAIT_PID:-}" ]; then
    while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done
  fi
  srresnet
  $T --arch srgan --init $M/srresnet.safetensors --steps ${GAN_STEPS:-350} --batch 8 --patch 96 --lr 1e-4 \
     --d-lr 4e-4 --pixel-weight 0.2 --adv-weight 0.02 --fm-weight 5 --seed 1 --out $M/srgan.safetensors --ckpt $R/srgan.ckpt.pt >> $R/srgan.log 2>&1
}

laneB() {
  if [ -n "${WAIT_PID_B:-}" ]; then
    while kill -0 "$WAIT_PID_B" 2>/dev/null; do sleep 20; done
  fi
  for i in 0 1 2 3; do
    $T --arch srresnet --steps ${ENS_STEPS:-600} --batch 8 --patch 96 --lr 5e-4 --seed $((100 + i)) \
       --out $M/srresnet-ens.$i.safetensors --ckpt $R/srresnet-ens.$i.ckpt.pt >> $R/srresnet-ens.$i.log 2>&1
  done
  while [ ! -e $R/srresnet.done ]; do sleep 20; done
  $T --arch mcdrop --init $M/srresnet.safetensors --steps ${FT_STEPS:-400} --batch 8 --patch 96 --lr 2e-4 \
     --seed 2 --out $M/srresnet-mcdrop.safetensors --ckpt $R/srresnet-mcdrop.ckpt.pt >> $R/srresnet-mcdrop.log 2>&1
  $T --arch llm --init $M/srresnet.safetensors --steps ${FT_STEPS:-400} --batch 8 --patch 96 --lr 2e-4 \
     --seed 3 --out $M/srresnet-llm.safetensors --ckpt $R/srresnet-llm.ckpt.pt >> $R/srresnet-llm.log 2>&1
}

rm -f $R/srresnet.done
laneA & A=$!
laneB & B=$!
wait $A; wait $B
$PY -m uqcore card sr --write > $R/eval.log 2>&1 && $PY -m uqcore quality sr --write >> $R/eval.log 2>&1
echo done > $R/DONE
