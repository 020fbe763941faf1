"""A tiny model zoo for the dashboard tests (random weights, same architectures as the bundled
models) so that AppTest runs fast; registered through ``UQCORE_MODEL_DIRS``."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from uqcore.models.registry import build_architecture

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


@pytest.fixture(scope="session", autouse=True)
def tiny_zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_zoo")
    write_tiny_zoo(folder)
    old = os.environ.get("UQCORE_MODEL_DIRS")
    os.environ["UQCORE_MODEL_DIRS"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("UQCORE_MODEL_DIRS", None)
    else:
        os.environ["UQCORE_MODEL_DIRS"] = old
