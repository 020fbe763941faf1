#!/usr/bin/env bash
# The srresnet-llm-head candidates (seed 004's stop-gradient likelihood head): srresnet's trunk
# frozen, a variance branch on its body features trained with the NLL of the frozen prediction's
# residuals, on srresnet's training data and step budget (2500 steps, batch 8, 96 px). One lane,
# one torch thread; checkpoints in runs/sr/ (git-ignored), rerunning resumes.
# Then scripts/select_llm.py --target srresnet-llm-head --write scores them on the held-out
# validation images (uqcore.paper.heldout: neither data/sr_train nor assets/samples), installs the
# chosen weights and records every candidate in the card.
#   Usage: .venv/bin/python scripts/build_sr_data.py && bash scripts/train_llm_head.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/sr_train}
R=runs/sr
mkdir -p "$R"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

head() {  # name, extra args
  local name=$1; shift
  $PY -m uqcore.training.sr --arch llm-head --data $DATA --threads 1 --resume --no-progress \
      --init assets/models/srresnet.safetensors --steps ${HEAD_STEPS:-2500} --batch 8 --patch 96 --seed 5 \
      --lr 1e-3 --ckpt-every 100 --out $R/$name.safetensors --ckpt $R/$name.ckpt.pt "$@" >> $R/$name.log 2>&1
}

head llm-head-g3x32 --likelihood gaussian --head-blocks 3 --head-feats 32
head llm-head-l3x32 --likelihood laplace --head-blocks 3 --head-feats 32
head llm-head-g6x64 --likelihood gaussian --head-blocks 6 --head-feats 64
head llm-head-g1x32 --likelihood gaussian --head-blocks 1 --head-feats 32
echo done > $R/HEAD_DONE
