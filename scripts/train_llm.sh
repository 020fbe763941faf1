#!/usr/bin/env bash
# The likelihood baselines' training runs, on srresnet's training data and step budget (2500 steps,
# batch 8, 96 px), one torch thread per run; checkpoints every 100 steps in runs/sr/ (git-ignored);
# rerunning resumes (--resume).
#   head:  the srresnet-llm-head candidates (seed 004's stop-gradient head): srresnet's trunk frozen,
#          a variance branch on its body features trained with the NLL of the frozen prediction's
#          residuals; then scripts/select_llm.py --target srresnet-llm-head --write chooses among
#          them on the held-out validation images (uqcore.paper.heldout) and records them in the card.
#   joint: jointly trained srresnet-llm candidates that keep the mean sharp: all layers from
#          srresnet, lr 5e-5, the Laplace NLL (its mean gradient is an L1-like sign), then the
#          Laplace beta-NLL with beta 0.5; weights exist only once a run ends, then
#          scripts/select_llm.py --write scores them.
#   WAIT_FILE=<path>: first wait until that file exists.
#   Usage: .venv/bin/python scripts/build_sr_data.py && bash scripts/train_llm.sh head|joint
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

run() {  # arch, name, seed, lr, extra args
  local arch=$1 name=$2 seed=$3 lr=$4; shift 4
  $PY -m uqcore.training.sr --arch $arch --data $DATA --threads 1 --resume --no-progress \
      --init assets/models/srresnet.safetensors --steps ${STEPS:-2500} --batch 8 --patch 96 --seed $seed \
      --lr $lr --ckpt-every 100 --out $R/$name.safetensors --ckpt $R/$name.ckpt.pt "$@" >> $R/$name.log 2>&1
}

case "${1:-head}" in
  head)
    run llm-head llm-head-g3x32 5 1e-3 --likelihood gaussian --head-blocks 3 --head-feats 32
    run llm-head llm-head-l3x32 5 1e-3 --likelihood laplace --head-blocks 3 --head-feats 32
    run llm-head llm-head-g6x64 5 1e-3 --likelihood gaussian --head-blocks 6 --head-feats 64
    run llm-head llm-head-g1x32 5 1e-3 --likelihood gaussian --head-blocks 1 --head-feats 32
    echo done > $R/HEAD_DONE ;;
  joint)
    run llm llm-laplace-joint 6 5e-5 --likelihood laplace
    # beta = 0.5 on the Laplace NLL: the mean's gradient becomes sqrt(2) sign(residual), srresnet's own
    # L1 gradient, whatever the predicted variance (the plain Laplace run lost 0.74 dB on validation)
    run llm llm-laplace-beta05-joint 6 5e-5 --likelihood laplace --loss beta-nll --beta 0.5
    echo done > $R/JOINT_DONE ;;
  *) echo "usage: bash scripts/train_llm.sh head|joint" >&2; exit 2 ;;
esac
