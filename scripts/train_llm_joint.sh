#!/usr/bin/env bash
# A jointly trained srresnet-llm candidate (mean and log-variance from srresnet) with a loss that
# keeps the mean sharp: the Laplace NLL (its mean gradient is an L1-like sign, like srresnet's own
# L1 loss), a low learning rate and srresnet's step budget (2500 steps, batch 8, 96 px). One lane,
# one torch thread; checkpoints every 100 steps in runs/sr/ (git-ignored); rerunning resumes
# (--resume), so a later session finishes it. Then scripts/select_llm.py scores it with the other
# srresnet-llm candidates on the held-out validation images.
#   WAIT_FILE=<path>: first wait until that file exists (e.g. runs/sr/HEAD_DONE).
#   Usage: .venv/bin/python scripts/build_sr_data.py && bash scripts/train_llm_joint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/sr_train}
R=runs/sr
mkdir -p "$R"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
if [ -n "${WAIT_FILE:-}" ]; then
  while [ ! -e "$WAIT_FILE" ]; do sleep 20; done
fi
$PY -m uqcore.training.sr --arch llm --data $DATA --threads 1 --resume --no-progress \
    --init assets/models/srresnet.safetensors --steps ${JOINT_STEPS:-2500} --batch 8 --patch 96 --seed 6 \
    --lr 5e-5 --likelihood laplace --ckpt-every 100 \
    --out $R/llm-laplace-joint.safetensors --ckpt $R/llm-laplace-joint.ckpt.pt >> $R/llm-laplace-joint.log 2>&1
echo done > $R/JOINT_DONE
