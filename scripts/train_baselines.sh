#!/usr/bin/env bash
# The trained SR baselines' runs, on CPU, one torch thread per run; checkpoints every 100 steps in
# runs/sr/ (git-ignored); rerunning resumes (--resume), a finished run only re-saves.
#   bash scripts/train_baselines.sh [recipe]     (default: ens-mcdrop)
#   ens-mcdrop  two lanes:
#       lane A: srresnet-ens members 0, 1, 2, 5, 6 with srresnet's recipe and step count (2500 steps,
#               batch 8, 96 px, lr 5e-4), each with its own seed (100 + index)
#       lane B: the MC-dropout candidates: dropout after body block 1, 3 or 6, at p = 0.05, 0.1 or 0.2,
#               each fine-tuned from srresnet with the same budget (400 steps, lr 2e-4, seed 2); then
#               members 3, 4 and 7
#       MEMBERS_A / MEMBERS_B override the members of a lane (e.g. MEMBERS_A="8 9" MEMBERS_B=10 for more).
#       Then:  python -m uqcore select srresnet-mcdrop --candidates runs/sr --write   (decision images)
#              python -m uqcore install-ensemble --candidates runs/sr --write       (finished members)
#              python -m uqcore quality sr --models srresnet-mcdrop,srresnet-ens --write
#   llm-head    the srresnet-llm-head candidates: srresnet's trunk frozen, a variance branch on its body
#               features trained with the NLL of the frozen prediction's residuals (2500 steps)
#   llm-joint   srresnet-llm candidates that keep the mean sharp: all layers from srresnet, lr 5e-5,
#               the Laplace NLL, then the Laplace beta-NLL with beta 0.5 (2500 steps), then that at lr 1e-5
#   llm-fair    the earlier srresnet-llm candidates (400 steps from srresnet, seed 3): beta-NLL 0.5 and
#               1.0, the Gaussian NLL on srresnet's frozen mean at lr 1e-2 and (800 steps) 2e-3
#       Then:  python -m uqcore select srresnet-llm|srresnet-llm-head --write
#   students    the srresnet student head's non-bundled candidates (800 steps each, runs/students/);
#               score them with python -m uqcore quality students --models srresnet --head HEAD
#   WAIT_FILE=<path>: first wait until that file exists.
#   Usage: .venv/bin/python -m uqcore data sr-train && bash scripts/train_baselines.sh [recipe]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/sr_train}
R=runs/sr
S=runs/students
mkdir -p "$R" "$S"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
T="$PY -m uqcore.training.sr --data $DATA --threads 1 --resume --no-progress --ckpt-every 100"
if [ -n "${WAIT_FILE:-}" ]; then
  while [ ! -e "$WAIT_FILE" ]; do sleep 20; done
fi

member() {  # index
  $T --arch srresnet --steps 2500 --batch 8 --patch 96 --lr 5e-4 --seed $((100 + $1)) \
     --out $R/ens.$1.safetensors --ckpt $R/ens.$1.ckpt.pt >> $R/ens.$1.log 2>&1
}

mcdrop() {  # block, rate
  $T --arch mcdrop --init assets/models/srresnet.safetensors --steps 400 --batch 8 --patch 96 --lr 2e-4 \
     --seed 2 --dropout-at $1 --dropout-p $2 \
     --out $R/mcdrop-at$1-p$2.safetensors --ckpt $R/mcdrop-at$1-p$2.ckpt.pt >> $R/mcdrop-at$1-p$2.log 2>&1
}

llm() {  # arch, name, seed, lr, steps, extra args: a likelihood candidate fine-tuned from srresnet
  local arch=$1 name=$2 seed=$3 lr=$4 steps=$5; shift 5
  $T --arch $arch --init assets/models/srresnet.safetensors --steps $steps --batch 8 --patch 96 --seed $seed \
     --lr $lr --out $R/$name.safetensors --ckpt $R/$name.ckpt.pt "$@" >> $R/$name.log 2>&1
}

student() {  # name, extra args
  local name=$1; shift
  $PY -m uqcore distill --model srresnet --images $DATA --out $S/$name.safetensors --ckpt $S/$name.ckpt.pt \
      --steps 800 --crop 32 --batch 2 --seed 0 --ckpt-every 100 --threads 1 --quiet "$@" >> $S/$name.log 2>&1
}

case "${1:-ens-mcdrop}" in
  ens-mcdrop)
    laneA() { for i in ${MEMBERS_A:-0 1 2 5 6}; do member $i; done; }
    laneB() {
      for at in 1 3 6; do for p in 0.05 0.1 0.2; do mcdrop $at $p; done; done
      for i in ${MEMBERS_B:-3 4 7}; do member $i; done
    }
    laneA & A=$!
    laneB & B=$!
    wait $A; wait $B
    echo done > $R/BASELINES_DONE ;;
  llm-head)
    llm llm-head llm-head-g3x32 5 1e-3 2500 --likelihood gaussian --head-blocks 3 --head-feats 32
    llm llm-head llm-head-l3x32 5 1e-3 2500 --likelihood laplace --head-blocks 3 --head-feats 32
    llm llm-head llm-head-g6x64 5 1e-3 2500 --likelihood gaussian --head-blocks 6 --head-feats 64
    llm llm-head llm-head-g1x32 5 1e-3 2500 --likelihood gaussian --head-blocks 1 --head-feats 32 ;;
  llm-joint)
    llm llm llm-laplace-joint 6 5e-5 2500 --likelihood laplace
    # beta = 0.5 on the Laplace NLL: the mean's gradient becomes sqrt(2) sign(residual), srresnet's own
    # L1 gradient, whatever the predicted variance (the plain Laplace run lost 0.74 dB on validation)
    llm llm llm-laplace-beta05-joint 6 5e-5 2500 --likelihood laplace --loss beta-nll --beta 0.5
    # both lost ~0.75 dB on validation at 5e-5: the same loss at a fifth of the learning rate
    llm llm llm-laplace-beta05-joint-lr1e-5 6 1e-5 2500 --likelihood laplace --loss beta-nll --beta 0.5 ;;
  llm-fair)
    llm llm llm-beta05 3 2e-4 400 --loss beta-nll --beta 0.5
    llm llm llm-frozen 3 1e-2 400 --freeze-mean
    llm llm llm-beta10 3 2e-4 400 --loss beta-nll --beta 1.0
    llm llm llm-frozen-lr2e-3 3 2e-3 800 --freeze-mean ;;
  students)
    student srresnet-m1 --last-kernel 1
    student srresnet-l2 --loss laplace
    student srresnet-r --rank-weight 1 ;;
  *) echo "usage: bash scripts/train_baselines.sh [ens-mcdrop|llm-head|llm-joint|llm-fair|students]" >&2; exit 2 ;;
esac
