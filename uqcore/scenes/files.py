"""Scene files: PNG pairs (8-bit RGB + 16-bit millimetres),
listing and reading them, and :func:`write_scenes` (seeds ``seed .. seed + n - 1``, optionally
in worker processes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uqcore.scenes.raycast import render_scene


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------
def save_pair(rgb: np.ndarray, depth: np.ndarray, out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write ``name.png`` (8-bit RGB) and ``name_depth.png`` (16-bit, millimetres)."""
    from PIL import Image  # lazy: only the file functions need Pillow

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rgb8 = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    mm = np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16)
    p_rgb, p_depth = out_dir / f"{name}.png", out_dir / f"{name}_depth.png"
    Image.fromarray(rgb8, mode="RGB").save(p_rgb)
    Image.fromarray(mm).save(p_depth)  # uint16 -> mode I;16
    return p_rgb, p_depth


def load_rgbd(path_rgb: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``name.png`` + ``name_depth.png``: (rgb float32 [H, W, 3] in [0, 1], depth metres)."""
    from PIL import Image  # lazy: only the file functions need Pillow

    path_rgb = Path(path_rgb)
    rgb = np.asarray(Image.open(path_rgb).convert("RGB"), np.float32) / 255.0
    depth_path = path_rgb.with_name(path_rgb.stem + "_depth.png")
    depth = np.asarray(Image.open(depth_path), dtype=np.float32) / 1000.0
    return rgb, depth


def list_pairs(folder: str | Path) -> list[Path]:
    """RGB files in ``folder`` that have a ``*_depth.png`` partner, sorted by name."""
    folder = Path(folder)
    return sorted(
        p for p in folder.glob("*.png") if not p.stem.endswith("_depth") and p.with_name(p.stem + "_depth.png").exists()
    )


def _render_one(job):
    seed, height, width, out_dir, prefix, supersample = job
    rgb, depth = render_scene(seed, height, width, supersample=supersample)
    save_pair(rgb, depth, out_dir, f"{prefix}{seed:06d}")
    return seed


def write_scenes(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    height: int = 128,
    width: int = 160,
    prefix: str = "scene_",
    supersample: int = 2,
    workers: int = 1,
    progress: bool = False,
) -> list[Path]:
    """Render scenes with seeds ``seed, ..., seed + n - 1`` into ``out_dir`` as
    ``{prefix}{seed:06d}.png`` + ``{prefix}{seed:06d}_depth.png``; returns the RGB paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(seed + i, height, width, str(out_dir), prefix, supersample) for i in range(n)]
    bar = None
    if progress:
        from tqdm import tqdm  # lazy: only a run with a progress bar needs it

        bar = tqdm(total=n, desc="scenes", unit="scene")
    if workers > 1:
        from multiprocessing import get_context  # lazy: only parallel runs need it

        with get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_one, jobs, chunksize=8):
                if bar:
                    bar.update()
    else:
        for job in jobs:
            _render_one(job)
            if bar:
                bar.update()
    if bar:
        bar.close()
    return [out_dir / f"{prefix}{seed + i:06d}.png" for i in range(n)]


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------
