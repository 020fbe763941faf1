"""Data and model files the tests make: smooth HR images, (input, target) pairs, PNGs, a tiny model card, a tiny zoo."""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn
from PIL import Image
from safetensors.torch import save_file

import uqcore
from uqcore.datasets.folders import make_lr
from uqcore.models.registry import build_architecture


def smooth_hr(h=24, w=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand((1, 3, h // 4 + 1, w // 4 + 1), generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def sr_pairs(n=3):
    return [make_lr(smooth_hr(seed=i), 2) for i in range(n)]


def as_pairs(lr_hr):
    return [(lr, hr[0]) for lr, hr in lr_hr]


# -- folders -------------------------------------------------------------------------------------
def save_png(path, tensor):
    arr = (tensor[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(path)


def png_folder(folder, n, prefix="img", first_seed=0):
    """A folder of ``n`` smooth 20x24 RGB PNGs (``<prefix><i>.png``, seeds first_seed + i): an HR set."""
    folder.mkdir()
    for i in range(n):
        save_png(folder / f"{prefix}{i}.png", smooth_hr(20, 24, seed=first_seed + i))
    return folder


# -- CLI -----------------------------------------------------------------------------------------
def write_tiny_card(folder, **arch):
    """A model card + safetensors for a tiny x2 SRResNet (the real architecture, random weights)."""
    from safetensors.torch import save_file

    from uqcore.models.srresnet import SRResNet

    arch = {"scale": 2, "n_feats": 4, "n_blocks": 2, **arch}
    torch.manual_seed(0)
    net = SRResNet(**arch)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "tiny.safetensors"))
    card = {"name": "tiny-srresnet", "task": "sr", "scale": 2, "architecture": "srresnet", "arch_kwargs": arch,
            "weights": "tiny.safetensors", "probe_size": [16, 16]}
    path = folder / "tiny.json"
    path.write_text(json.dumps(card))
    return path


TINY = {
    "tiny-sr": dict(architecture="srresnet", task="sr", scale=4, arch_kwargs=dict(scale=4, n_feats=8, n_blocks=2)),
    "tiny-sr-mcdrop": dict(architecture="srresnet", task="sr", scale=4,
                           arch_kwargs=dict(scale=4, n_feats=8, n_blocks=2, dropout_p=0.1, dropout_at=1)),
    "tiny-sr-llm": dict(architecture="srresnet", task="sr", scale=4, output="mean_logvar",
                        arch_kwargs=dict(scale=4, n_feats=8, n_blocks=2, logvar=True)),
    "tiny-sr-ens": dict(architecture="srresnet", task="sr", scale=4, members=2,
                        arch_kwargs=dict(scale=4, n_feats=8, n_blocks=2)),
    "tiny-depth": dict(architecture="fcrn", task="depth", scale=1, probe_size=[64, 80],
                       arch_kwargs=dict(widths=[8, 8, 16, 16, 16], blocks=[1, 1, 1, 1], reduce=16,
                                        decoder=[16, 8, 8, 8])),
}


def write_tiny_zoo(folder) -> None:
    for seed, (name, spec) in enumerate(TINY.items()):
        spec = dict(spec)
        members = spec.pop("members", 1)
        files = []
        for m in range(members):
            torch.manual_seed(seed * 10 + m)
            module = build_architecture(spec["architecture"], **spec["arch_kwargs"])
            files.append(f"{name}.{m}.safetensors")
            save_file(module.state_dict(), str(folder / files[-1]))
        card = dict(name=name, description="tiny test model (random weights)", weights=files if members > 1 else files[0],
                    **spec)
        (folder / f"{name}.json").write_text(json.dumps(card))


def tiny_depth(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.2), nn.Conv2d(6, 1, 3, padding=1),
                        nn.Softplus())
    return uqcore.wrap(net, task="depth", name="tiny-depth")
