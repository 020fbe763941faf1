"""Held-out calibration images for the paper run's calibrated error bars.

A split-conformal quantile pooled over the pixels of a few images is noisy: pixels within an
image are not exchangeable, images are, so how close the test coverage comes to the level
depends on the number of calibration *images* (with the 4 images of the calibration split, only
39–73 % of the ways of choosing them put the test coverage within ±3 points; docs/RESULTS.md).
The error bars are therefore fitted on the calibration split **plus** these held-out images,
which are used for nothing else (not for training, not for the tables, not for choosing the
settings), and measured on the unchanged test split:

* **SR**: images that ship inside scikit-image (read from the installed package at run time;
  nothing is copied into this repository) and are neither in ``assets/samples/sr`` nor in the SR
  training data (Debian mate-backgrounds / opencv-doc, ``python -m uqcore data sr-train``). Synthetic
  graphics (colour wheel, chessboard, phantom, logo, silhouette) and the second view of the
  motorcycle stereo pair (a near-duplicate of the first) are left out. Each is prepared like
  the bundled samples: read as RGB, centre-cropped to the run's crop, bicubic-downscaled.
* **Depth**: synthetic scenes rendered by :mod:`uqcore.scenes` with seeds from
  :data:`DEPTH_SEED` (the fcrn card: trained on seeds 0–7199, monitored on 2000000–2000023; the
  bundled set is 1000000–1000011), written to a temporary folder and read like the bundled set.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from uqcore.datasets.folders import load_pairs
from uqcore.io import read_image

# (file in skimage/data, licence as stated in skimage/data/_fetchers.py)
SR_HELDOUT = (
    ("grass.png", "CC0 (scikit-image data.grass)"),
    ("moon.png", "none stated (scikit-image data.moon)"),
    ("motorcycle_left.png", "Middlebury 2014 stereo benchmark (scikit-image data.stereo_motorcycle, left view)"),
    ("cell.png", "CC0 (scikit-image data.cell)"),
    ("text.png", "no known copyright restrictions, public domain (scikit-image data.text)"),
    ("clock_motion.png", "public domain (Stefan van der Walt; scikit-image data.clock)"),
    ("microaneurysms.png", "CC0 (Andreas Maier; scikit-image data.microaneurysms)"),
)
DEPTH_SEED = 3_000_000
# The depth test scenes added to the bundled set's test split (so the depth table has >= 200 test scenes):
# seeds from here, disjoint from fcrn's training (0-7199), monitoring (2000000-), the bundled set
# (1000000-1000011) and the held-out calibration scenes above.
DEPTH_TEST_SEED = 4_000_000


def skimage_data_dir() -> Path:
    import skimage  # lazy: only the paper run's held-out SR set needs it

    return Path(skimage.__file__).parent / "data"


def sr_heldout(n: int) -> tuple[list[str], list[torch.Tensor]]:
    """The first ``n`` of :data:`SR_HELDOUT`: names and HR images [1, 3, H, W] in [0, 1] (the
    run prepares them like ``assets/samples/sr``: centre crop, bicubic downscale)."""
    root = skimage_data_dir()
    chosen = SR_HELDOUT[: max(0, int(n))]
    return [f"skimage:{Path(f).stem}" for f, _ in chosen], [read_image(root / f) for f, _ in chosen]


def depth_heldout(n: int, model: Any, folder: str | Path | None = None,
                  seed: int = DEPTH_SEED) -> tuple[list[str], list[tuple[Any, Any]]]:
    """``n`` scenes with seeds ``seed`` (:data:`DEPTH_SEED`), ... rendered at the bundled set's size
    into ``folder`` (a temporary one if None) and loaded like it (also the extra test scenes,
    ``seed=DEPTH_TEST_SEED``)."""
    from uqcore.scenes.files import write_scenes  # lazy: rendering is needed only here

    if int(n) <= 0:
        return [], []
    out = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="uqcore_heldout_"))
    try:
        write_scenes(out, int(n), seed=int(seed), height=128, width=160)
        names, pairs = load_pairs(str(out), model)  # in memory from here on
    finally:
        if folder is None:  # a temporary folder is not left behind (each run renders 200+ scenes)
            shutil.rmtree(out, ignore_errors=True)
    return list(names), list(pairs)
