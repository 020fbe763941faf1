"""Choose a likelihood baseline among trained candidates on held-out validation images, never on
assets/samples nor the paper run's test split.

    .venv/bin/python scripts/select_llm.py                      # score the candidates, print JSON
    .venv/bin/python scripts/select_llm.py --write              # + install the chosen weights as
                                                                #   assets/models/srresnet-llm.safetensors
                                                                #   and record "selection" in its card
    .venv/bin/python scripts/select_llm.py --target srresnet-llm-head [--write]
                                                                # the stop-gradient head's candidates
                                                                #   (scripts/train_llm.sh head)

Validation set: the 7 scikit-image images of :data:`uqcore.paper.heldout.SR_HELDOUT`
(centre-cropped to 384 px, LR = bicubic x1/4), the set ``scripts/check_students.py --data
heldout`` uses: neither training data (data/sr_train) nor assets/samples.
Per candidate: PSNR of the mean (Y channel, 4-px border, 8-bit rounded; the eval_sr.py metric),
Gaussian NLL of the HR under (mean, exp(log-variance)) per pixel and channel
(:func:`uqcore.metrics.nll`), and Pearson's r between the channel-mean variance and the absolute
error (pixel level). Rule: among the candidates whose mean validation PSNR is within
:data:`MARGIN_DB` of srresnet's on the same images, the lowest mean NLL.
Candidates: runs/sr/<name>.safetensors from scripts/train_sr_fair.sh (srresnet-llm) or
scripts/train_llm.sh head (srresnet-llm-head); each is built from the arch kwargs its weights
file records. For the head the prediction is srresnet's bit for bit, so the rule reduces to the
lowest NLL.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore.metrics as M  # noqa: E402
from uqcore.datasets.folders import make_lr  # noqa: E402
from uqcore.metrics.quality import psnr_ssim as image_metrics  # noqa: E402
from uqcore.models.srresnet import SRResNet  # noqa: E402
from uqcore.models.srresnet_head import SRResNetVarHead  # noqa: E402
from uqcore.paper.heldout import SR_HELDOUT, sr_heldout  # noqa: E402
from uqcore.datasets.folders import centre_crop  # noqa: E402

MODELS = ROOT / "assets" / "models"
CROP = 384  # as scripts/check_students.py --data heldout
MARGIN_DB = 0.5
CANDIDATES = {  # name -> (weights, how it was trained)
    "nll (previously bundled)": ("runs/sr/llm-nll.safetensors",
                                 "Gaussian NLL, all layers fine-tuned from srresnet (scripts/train_sr_zoo.sh); the "
                                 "weights bundled before issue 25: git show 3c076e6:assets/models/srresnet-llm.safetensors "
                                 "> runs/sr/llm-nll.safetensors"),
    "beta-nll 0.5": ("runs/sr/llm-beta05.safetensors",
                     "beta-NLL (beta=0.5), all layers fine-tuned from srresnet (scripts/train_sr_fair.sh)"),
    "beta-nll 1.0": ("runs/sr/llm-beta10.safetensors",
                     "beta-NLL (beta=1.0), all layers fine-tuned from srresnet (scripts/train_sr_fair.sh)"),
    "frozen mean, lr 1e-2": ("runs/sr/llm-frozen.safetensors",
                             "Gaussian NLL, only the log-variance channels of the output conv trained on "
                             "srresnet's frozen mean, lr 1e-2, 400 steps (scripts/train_sr_fair.sh)"),
    "frozen mean, lr 2e-3": ("runs/sr/llm-frozen-lr2e-3.safetensors",
                             "Gaussian NLL, only the log-variance channels of the output conv trained on "
                             "srresnet's frozen mean, lr 2e-3, 800 steps (scripts/train_sr_fair.sh)"),
    "laplace joint, lr 5e-5, 2500 steps": ("runs/sr/llm-laplace-joint.safetensors",
                                           "Laplace NLL (log-variance parametrised), all layers fine-tuned from "
                                           "srresnet at a low learning rate for srresnet's step budget "
                                           "(scripts/train_llm.sh joint; its weights exist only once the run ends)"),
    "laplace beta-nll 0.5 joint, lr 5e-5, 2500 steps": ("runs/sr/llm-laplace-beta05-joint.safetensors",
                                                        "Laplace beta-NLL (beta=0.5: the mean's gradient is srresnet's "
                                                        "L1 gradient), all layers fine-tuned from srresnet, lr 5e-5 "
                                                        "(scripts/train_llm.sh joint)"),
}
HEAD_CANDIDATES = {  # the stop-gradient head: srresnet frozen, a variance branch on its body features
    "gaussian, 3 convs x 32": ("runs/sr/llm-head-g3x32.safetensors",
                               "Gaussian NLL of the frozen prediction's residuals, branch of 3 convs of width 32 "
                               "(scripts/train_llm.sh head)"),
    "laplace, 3 convs x 32": ("runs/sr/llm-head-l3x32.safetensors",
                              "Laplace NLL (log-variance parametrised), branch of 3 convs of width 32 "
                              "(scripts/train_llm.sh head)"),
    "gaussian, 6 convs x 64": ("runs/sr/llm-head-g6x64.safetensors",
                               "Gaussian NLL, branch of 6 convs of width 64 (scripts/train_llm.sh head)"),
    "gaussian, 1 conv x 32": ("runs/sr/llm-head-g1x32.safetensors",
                              "Gaussian NLL, branch of 1 conv of width 32 (scripts/train_llm.sh head)"),
}
TARGETS = {"srresnet-llm": CANDIDATES, "srresnet-llm-head": HEAD_CANDIDATES}
COMMAND = "python scripts/select_llm.py --write"


def validation_pairs() -> tuple[list[str], list[tuple[torch.Tensor, torch.Tensor]]]:
    names, images = sr_heldout(len(SR_HELDOUT))
    return names, [make_lr(centre_crop(img, CROP), 4) for img in images]


def load(path: Path, logvar: bool) -> SRResNet:
    """The network of a weights file: its recorded architecture (``arch`` / ``arch_kwargs``
    metadata of ``uqcore train sr``), else srresnet's."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("arch") == "llm-head":
        net = SRResNetVarHead(**json.loads(meta["arch_kwargs"]))
    else:
        net = SRResNet(scale=4, n_feats=32, n_blocks=8, logvar=logvar)
    net.load_state_dict(load_file(str(path)))
    return net.eval()


def training_record(path: Path) -> dict:
    """What the weights file records of its training run: steps, seconds, hardware (threads), command."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata() or {}
    return {k: (float(meta[k]) if k == "train_seconds" else int(meta[k]) if k == "steps" else meta[k])
            for k in ("steps", "train_seconds", "hardware", "command") if k in meta}


@torch.inference_mode()
def score(net: SRResNet, pairs) -> dict:
    """Mean over images of PSNR, and (for a log-variance model) NLL and pixel correlation."""
    psnr, nll, corr = [], [], []
    for lr, hr in pairs:
        out = net(lr)
        psnr.append(image_metrics(out[:, :3], hr, border=4)[0])
        if out.shape[1] == 6:
            mean, var = out[0, :3].double().numpy(), out[0, 3:].double().clamp(-12, 8).exp().numpy()
            target = hr[0].double().numpy()
            nll.append(M.nll(mean, target, var))
            corr.append(M.pearson(M.error_map(mean, target), var.mean(0)))
    row = {"psnr": round(float(np.mean(psnr)), 4)}
    if nll:
        row.update(nll=round(float(np.mean(nll)), 4), corr_pixel=round(float(np.mean(corr)), 4))
    return row


def select(rows: dict, reference_psnr: float) -> str | None:
    """The rule: within MARGIN_DB of the reference PSNR, lowest NLL (None if no candidate qualifies)."""
    ok = {k: r for k, r in rows.items() if r["psnr"] >= reference_psnr - MARGIN_DB}
    return min(ok, key=lambda k: ok[k]["nll"]) if ok else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--target", choices=tuple(TARGETS), default="srresnet-llm")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    candidates = TARGETS[args.target]
    names, pairs = validation_pairs()
    reference = score(load(MODELS / "srresnet.safetensors", False), pairs)["psnr"]
    rows = {k: score(load(ROOT / w, True), pairs) for k, (w, _) in candidates.items() if (ROOT / w).exists()}
    card = MODELS / f"{args.target}.json"
    before = (json.loads(card.read_text()) if card.exists() else {}).get("selection") or {}
    recorded = {c["name"]: c for c in before.get("candidates", []) if c["name"] in candidates and c["name"] not in rows}
    if recorded and before.get("reference", {}).get("psnr") != reference:
        recorded = {}  # other validation numbers: not comparable
    # candidates whose weights are not in this checkout keep the numbers an earlier run recorded
    chosen = select({**{k: c for k, c in recorded.items()}, **rows}, reference)
    selection = {
        "data": names, "data_note": f"uqcore.paper.heldout.SR_HELDOUT, centre-cropped to {CROP} px "
                                    "(neither data/sr_train nor assets/samples)",
        "metric": f"mean Gaussian NLL (uqcore.metrics.nll) among candidates whose mean PSNR (Y, 4-px border) "
                  f"is within {MARGIN_DB} dB of srresnet's on the same images",
        "reference": {"model": "srresnet", "psnr": reference},
        "candidates": [*[dict(c, recorded="by an earlier run of this command; weights not in this checkout")
                         for c in recorded.values()],
                       *[{"name": k, "weights": candidates[k][0], "how": candidates[k][1], **r,
                          "training": training_record(ROOT / candidates[k][0])} for k, r in rows.items()]],
        "chosen": chosen,
        "command": COMMAND + ("" if args.target == "srresnet-llm" else f" --target {args.target}"),
    }
    print(json.dumps(selection, indent=1))
    if args.write and chosen is not None:
        src = ROOT / candidates[chosen][0]
        dst = MODELS / f"{args.target}.safetensors"
        if chosen in rows and src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        elif chosen not in rows and chosen != before.get("chosen"):
            print(f"{chosen!r} wins on recorded numbers but its weights are not here", file=sys.stderr)
            return 1  # the bundled weights are the earlier choice's copy only
        # a new model's card: scripts/eval_sr.py --write-cards completes it (and keeps "selection")
        doc = json.loads(card.read_text()) if card.exists() else {"name": args.target}
        doc["selection"] = selection
        card.write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if chosen is not None else 1


if __name__ == "__main__":
    sys.exit(main())
