"""What the two trainers (``training.sr``, ``training.depth``) share: device and threads, seeding,
checkpoints (written atomically, read back with ``weights_only=True``), the learning-rate setter,
the smoothed loss, the progress bar and the final safetensors weights.

The checkpoint *contents* stay each trainer's own (their keys differ and are part of their
``--resume`` format); only how a checkpoint is written and read lives here.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm


def pick_device(name: str | None) -> torch.device:
    """``--device``: the named device, else CUDA when available, else the CPU."""
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def set_threads(threads: int | None) -> None:
    """``--threads``: torch's CPU threads (0 or None: leave torch's default)."""
    if threads:
        torch.set_num_threads(threads)


def seeded_generator(seed: int) -> torch.Generator:
    """Seed torch's global RNG (weight init, dropout masks) and return the data generator
    (batch draws, crops, flips), seeded the same; both go into the checkpoint."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def restore_rng(gen: torch.Generator, gen_state: torch.Tensor, torch_rng: torch.Tensor) -> None:
    """Put the data generator and torch's global RNG back where a checkpoint left them."""
    gen.set_state(gen_state)
    torch.set_rng_state(torch_rng)


def save_checkpoint(state: dict, path: Path) -> None:
    """Write ``state`` (tensors and plain containers only) to ``path`` via a temporary file, so an
    interrupted write never leaves a broken checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint on the CPU; nothing but tensors and plain containers is unpickled."""
    return torch.load(path, map_location="cpu", weights_only=True)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def smoothed(running: float | None, value: float) -> float:
    """The progress bar's loss: an exponential moving average (weight 0.02 on the newest value)."""
    return value if running is None else 0.98 * running + 0.02 * value


def progress_bar(desc: str, initial: int, total: int, disable: bool):
    """A tqdm bar over the optimisation steps, starting at ``initial`` (a resumed run)."""
    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, disable=disable)


def save_weights(model: nn.Module, out: Path, metadata: dict[str, str]) -> dict[str, torch.Tensor]:
    """Write the model's state (on the CPU, contiguous) to ``out`` as safetensors with ``metadata``
    (the card's training record); returns the state written."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out), metadata=metadata)
    return state
