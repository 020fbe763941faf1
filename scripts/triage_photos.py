"""The unseen photos that docs/TRIAGE.md measures triage on (never copied into the repository).

    .venv/bin/python scripts/triage_photos.py [--root /tmp/uqcore-unseen] [--out /tmp/uqcore-triage]

Source: the photographic wallpapers of Debian's plasma-workspace-wallpapers (every
``*/contents/images/2560x1600.jpg``: 12 photos), fetched by ``scripts/check_unseen.py``'s ``fetch``,
reserved for independent checks (no model was trained or evaluated on them). Writes:

* ``pairs16/hr/`` and ``pairs16/lr/``: 16 HR crops of 512² (each photo halved with Lanczos, as
  check_unseen does; a centre crop of 8 photos, a left and a right crop, which do not overlap, of
  the other 4) and their LR inputs, ``bicubic_downscale(HR, 4)`` (128²);
* ``folder300/``: 300 LR inputs of 256², the first 25 tiles (row by row) of each full-size photo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from check_unseen import fetch  # noqa: E402
from uqcore.io import to_uint8  # noqa: E402
from uqcore.models.srresnet import bicubic_downscale  # noqa: E402

HR_SIDE, TILE, TILES_PER_PHOTO, TWO_CROPS = 512, 256, 25, 4


def save(path: Path, image: torch.Tensor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image)).save(path)


def tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def pairs(photos: list[Path], out: Path) -> None:
    for i, path in enumerate(photos):
        img = Image.open(path).convert("RGB")
        img = img.resize((img.width // 2, img.height // 2), Image.LANCZOS)
        top = (img.height - HR_SIDE) // 2
        lefts = [0, img.width - HR_SIDE] if i >= len(photos) - TWO_CROPS else [(img.width - HR_SIDE) // 2]
        for j, left in enumerate(lefts):
            hr = tensor(img.crop((left, top, left + HR_SIDE, top + HR_SIDE)))
            name = f"{path.parents[2].name}{'' if len(lefts) == 1 else '_' + 'lr'[j]}"
            save(out / "hr" / f"{name}.png", hr)
            save(out / "lr" / f"{name}.png", bicubic_downscale(hr, 4).clamp(0, 1))


def folder(photos: list[Path], out: Path) -> None:
    for path in photos:
        img = tensor(Image.open(path))
        cols = img.shape[-1] // TILE
        for k in range(TILES_PER_PHOTO):
            r, c = divmod(k, cols)
            save(out / f"{path.parents[2].name}_{k:02d}.png", img[..., r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path("/tmp/uqcore-unseen"))
    p.add_argument("--out", type=Path, default=Path("/tmp/uqcore-triage"))
    args = p.parse_args()
    photos = fetch(args.root)
    pairs(photos, args.out / "pairs16")
    folder(photos, args.out / "folder300")
    print(f"{len(photos)} photos -> {len(list((args.out / 'pairs16' / 'lr').glob('*.png')))} pairs, "
          f"{len(list((args.out / 'folder300').glob('*.png')))} LR images in {args.out}")


if __name__ == "__main__":
    main()
