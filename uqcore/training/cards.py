"""Model cards of the models this project trains, from what their weights files record
(``python -m uqcore card``): the ``config`` and ``provenance`` sections.

* SR (:data:`ZOO`): each model's weights' safetensors metadata (``python -m uqcore train sr`` writes
  the command, steps, seed, init, seconds, hardware, arch_kwargs) becomes ``provenance.training.runs``;
  architecture, parameters, description, input range and the training data's sources come from here.
* depth (:func:`depth_card`): one training stage per run; weights fine-tuned from an earlier model
  (``--init``) keep that model's stages.

``measured`` entries are other commands' (``quality``, ``recommend``, ``select``) and are kept when a
card is rewritten.
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from uqcore.models.architectures import build_architecture
from uqcore.models.card import ModelCard, read_card
from uqcore.models.registry import MODELS_DIR

MANIFEST = Path("data") / "sr_train" / "MANIFEST.json"

# name -> (weights files, output kind, description)
ZOO = {
    "srresnet": (["srresnet.safetensors"], "mean",
                 "SRResNet-style x4 generator (no BatchNorm) trained with an L1 pixel loss."),
    "srgan": (["srgan.safetensors"], "mean",
              "The srresnet generator fine-tuned adversarially: L1 pixel loss + non-saturating GAN loss "
              "from a small patch discriminator + discriminator feature matching. No VGG/perceptual "
              "loss (no pretrained VGG offline)."),
    "srresnet-mcdrop": (["srresnet-mcdrop.safetensors"], "mean",
                        "srresnet with an element-wise nn.Dropout after a middle body block, "
                        "initialised from srresnet and fine-tuned with dropout active "
                        "(MC-dropout baseline: method='mc_dropout')."),
    "srresnet-ens": ([f"srresnet-ens.{i}.safetensors" for i in range(8)], "mean",
                     "Deep ensemble of 8 srresnet members, each trained from scratch with its own seed "
                     "(method='ensemble')."),
    "srresnet-llm": (["srresnet-llm.safetensors"], "mean_logvar",
                     "srresnet with 6 output channels (3 mean + 3 log-variance) initialised from srresnet, all "
                     "layers fine-tuned with a likelihood loss, mean and log-variance together (method='llm'); "
                     "which loss and learning rate was chosen on held-out validation images: see 'selection' "
                     "(python -m uqcore select srresnet-llm)."),
    "srresnet-llm-head": (["srresnet-llm-head.safetensors"], "mean_logvar",
                          "srresnet's frozen trunk (its prediction bit-identical) plus a stop-gradient variance "
                          "branch: convs on the body's features, upsampled as the image is, trained with the NLL of "
                          "the frozen prediction's residuals (method='llm'; 'Pretrained Visual Uncertainties'). "
                          "Branch size and loss chosen on held-out validation images: see 'selection' "
                          "(python -m uqcore select srresnet-llm-head)."),
}
# the registry architecture of a zoo model (default: srresnet)
ARCH = {"srresnet-llm-head": "srresnet-head"}
SCRIPT = {"srresnet-llm": "scripts/train_baselines.sh llm-joint", "srresnet-ens": "scripts/train_baselines.sh",
          "srresnet-llm-head": "scripts/train_baselines.sh llm-head", "srresnet-mcdrop": "scripts/train_baselines.sh"}
# honest notes on how the bundled runs deviated from a single clean command
NOTES = {
    "srresnet": "The first 250 of the 2500 steps were run with --steps 5000 (cosine learning rate within "
                "2% of the recorded schedule), then the run was resumed from its step-250 checkpoint with "
                "the recorded command (--resume); CPU time was cut short by a shared machine.",
    "srresnet-ens": "Every member has srresnet's recipe and step count (2500 steps, batch 8, 96 px, lr 5e-4) "
                    "and its own seed (100 + index), from scripts/train_baselines.sh (checkpoints every 100 "
                    "steps; runs interrupted for other work were resumed with --resume); bundled by "
                    "python -m uqcore install-ensemble --candidates runs/sr --write.",
    "srresnet-llm": "The weights are a copy of the candidate chosen by python -m uqcore select srresnet-llm (its --out was "
                    "runs/sr/<candidate>.safetensors); candidates trained by scripts/train_baselines.sh llm-joint "
                    "(the earlier all-layer and frozen-mean candidates: llm-fair).",
    "srresnet-llm-head": "The weights are a copy of the candidate chosen by python -m uqcore select "
                         "srresnet-llm-head (its --out was runs/sr/<candidate>.safetensors); candidates trained by "
                         "scripts/train_baselines.sh llm-head. Only the var_* branch was trained; the trunk tensors are "
                         "srresnet's, unchanged.",
}

MONITORING = "seeds 2000000-2000023; bundled held-out set assets/samples/depth (seeds 1000000-1000011)"


def load_members(files: list[str], architecture: str = "srresnet", models_dir: Path = MODELS_DIR) -> tuple[list[nn.Module], list[dict]]:
    members, metas = [], []
    for f in files:
        path = models_dir / f
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
        module = build_architecture(architecture, **json.loads(meta["arch_kwargs"]))
        module.load_state_dict(load_file(str(path)))
        members.append(module.eval())
        metas.append(meta)
    return members, metas



def training_data() -> dict:
    doc = {"folder": "data/sr_train (built by: python -m uqcore data sr-train)",
           "sources": "Debian packages mate-backgrounds 1.26.0-1 (GPL-2+) and opencv-doc 4.6.0+dfsg-12 "
                      "(Apache-2.0 AND BSD-3-Clause); scikit-image images are used only for evaluation"}
    if MANIFEST.exists():
        doc["images"] = [{k: e[k] for k in ("file", "source", "licence")} for e in json.loads(MANIFEST.read_text())]
    return doc



def sr_card(name: str, models_dir: Path = MODELS_DIR) -> ModelCard:
    """The card of zoo model ``name`` (:data:`ZOO`) from its weights' metadata; the measured
    entries of the card there now are kept."""
    files, output, desc = ZOO[name]
    path = models_dir / f"{name}.json"
    old = read_card(path) if path.exists() else None
    if old is not None:  # the bundled members (python -m uqcore install-ensemble may have added some)
        files = old.config["weights"] if isinstance(old.config["weights"], list) else [old.config["weights"]]
    members, metas = load_members(files, ARCH.get(name, "srresnet"), models_dir)
    module = members[0]
    kwargs = json.loads(metas[0]["arch_kwargs"])
    runs = [{"command": m["command"], "steps": int(m["steps"]), "seed": int(m["seed"]),
             "init": m.get("init") or None, "train_seconds": float(m["train_seconds"]),
             "hardware": m["hardware"], "torch": m["torch"], "n_train_images": int(m["n_train_images"])}
            for m in metas]
    card = {
        "name": name, "task": "sr", "scale": kwargs["scale"], "architecture": ARCH.get(name, "srresnet"),
        "arch_kwargs": kwargs, "weights": files if len(files) > 1 else files[0], "output": output,
        "probe_size": [32, 32], "in_channels": 3,
        "description": desc,
        "input_range": "RGB float32 in [0, 1]; output RGB (not clamped) at 4x the input size"
                       + ("; channels 3-5 are the log-variance" if output == "mean_logvar" else ""),
        "parameters": sum(p.numel() for p in module.parameters()),
        "parameters_note": ("per member" if len(files) > 1 else
                            f"{sum(p.numel() for p in module.branch_parameters())} trained (the var_* branch), the "
                            "rest srresnet's frozen trunk" if hasattr(module, "branch_parameters") else "all trainable"),
        "members": len(files),
        "training": {
            "runs": runs,
            "total_train_seconds": round(sum(r["train_seconds"] for r in runs), 1),
            "script": SCRIPT.get(name, "scripts/train_sr_zoo.sh")
                      + " (python -m uqcore.training.sr ARGS == python -m uqcore train sr ARGS)",
            "degradation": "LR = uqcore.models.srresnet.bicubic_downscale(HR crop, 4): torch F.interpolate("
                           "bicubic, antialias=True, align_corners=False), clamped to [0, 1]",
            "augmentation": "random HR crops, random h/v flips and transpose",
            "data": training_data(),
        },
    }
    if name in NOTES:
        card["training"]["note"] = NOTES[name]
    kept = (old.provenance.get("training") or {}).get("data", {}) if old else {}
    if "images" in kept and "images" not in card["training"]["data"]:  # no data/sr_train here: keep the list
        card["training"]["data"]["images"] = kept["images"]
    return ModelCard.from_dict({**card, **(old.measured if old else {})}, path)


def training_stage(meta: dict) -> dict:
    """One training run, from the metadata the training command wrote into its weights."""
    command = meta["command"].replace("/tmp/d5/train", "data/depth_train")
    n = int(meta["train_pairs"])
    stage = {
        "command": command,
        "data": f"python -m uqcore make-scenes --n {n} --seed 0 --out data/depth_train (seeds 0-{n - 1}, 160x128)",
        "steps": int(meta["steps"]),
        "seed": int(meta["seed"]),
        "loss": meta["loss"],
        "train_pairs": n,
        "train_seconds": float(meta["train_seconds"]),
        "hardware": f"CPU ({platform.processor() or platform.machine()}), 1 torch thread, shared 2-core machine",
        "train_mean_depth_m": float(meta["train_mean_depth"]),
    }
    if "--init " in command:
        stage["init"] = command.split("--init ", 1)[1].split()[0]
    return stage


def depth_card(weights: Path, previous: dict | None = None) -> dict:
    """A depth model's card (flat: config and provenance), from the weights' own metadata (written by
    the training command).

    Weights fine-tuned from an earlier model (``--init``) keep that model's recipe: ``previous``
    is the card of the weights they started from, and its training becomes the first stage."""
    with safe_open(str(weights), "pt") as f:
        meta = f.metadata()
        params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys()
                     if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    arch = json.loads(meta["arch_kwargs"])
    stage = training_stage(meta)
    if "init" in stage:
        if previous is None:
            raise SystemExit(f"{weights} was fine-tuned from {stage['init']}: pass that model's card with --init-card")
        stages = previous["training"].get("stages") or [previous["training"]]
        stages = [dict(s, stage=i + 1) for i, s in enumerate(stages)]
        stage["init"] = f"{stage['init']} (the weights of stage {len(stages)})"
        stages.append(dict(stage, stage=len(stages) + 1))
        training = {
            "stages": stages,
            "total_steps": sum(s["steps"] for s in stages),
            "total_train_seconds": round(sum(s["train_seconds"] for s in stages), 1),
            "train_pairs": stage["train_pairs"],
            "train_mean_depth_m": stage["train_mean_depth_m"],
            "monitoring": MONITORING,
        }
    else:
        training = dict(stage, monitoring=MONITORING)
    return {
        "name": weights.stem,
        "task": "depth",
        "scale": 1,
        "architecture": "fcrn",
        "arch_kwargs": arch,
        "weights": weights.name,
        "output": "mean",
        "probe_size": [128, 160],
        "in_channels": 3,
        "description": "FCRN-style monocular depth network (residual encoder, up-projection decoder, "
                       f"dropout p={arch.get('dropout')} before the prediction) trained on synthetic indoor scenes "
                       "(uqcore.scenes); see docs/MODELS.md.",
        "input_range": "RGB float32 in [0, 1] (ImageNet normalisation inside the module); output depth in metres "
                       "at the input resolution",
        "parameters": params,
        "training": training,
    }


