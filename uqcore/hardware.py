"""What a run's timings were measured on: the CPU's name and the machine's state, for reports and
model cards (the paper run's hardware line, a trained model's ``hardware`` metadata)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch


def cpu_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo``; else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_info(device: torch.device) -> dict[str, Any]:
    """CPU, core count, torch threads and version, Python, the device (and its GPU's name) and the
    load average (None where the platform has none) of a run on ``device``."""
    info = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
    try:
        info["load_average"] = tuple(round(v, 2) for v in os.getloadavg())
    except OSError:
        info["load_average"] = None
    return info
