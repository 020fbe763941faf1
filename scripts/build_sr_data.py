"""Build the x4 super-resolution training folder and the bundled eval set, reproducibly, offline.

    .venv/bin/python scripts/build_sr_data.py            # -> data/sr_train/ + assets/samples/sr/

Sources (nothing is fetched from the web; Debian packages come from the configured apt mirror):

* training (``data/sr_train/``, git-ignored, with ``MANIFEST.json`` listing each file's source
  and licence):
  - Debian ``mate-backgrounds`` 1.26.0-1: the photographs in ``nature/`` plus
    ``desktop/GreenTraditional.jpg`` and ``abstract/Elephants.jpg`` (GPL-2+, per debian/copyright);
  - Debian ``opencv-doc`` 4.6.0+dfsg-12: photographs from ``examples/data/`` (the OpenCV
    ``samples/data`` test images; Apache-2.0 AND BSD-3-Clause per debian/copyright "Files: *").
  Images with a side over ``MAX_SIDE`` are downscaled (PIL Lanczos) so the longer side is
  ``MAX_SIDE``: wallpapers are soft at full size and this also brings their scale near the eval
  images'. Everything is saved as 8-bit RGB PNG.
* eval (``assets/samples/sr/``, shipped): crops of images bundled with scikit-image
  (``skimage/data``), all public domain or CC0 (see ``EVAL`` below and assets/samples/README.md).
  No scikit-image image is used for training, so the sets are disjoint.

The debs are fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into
``data/debs``/``data/debx`` unless already there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MAX_SIDE = 1280

MATE = "usr/share/backgrounds/mate"
MATE_LICENCE = "GPL-2+ (Debian package mate-backgrounds 1.26.0-1, debian/copyright)"
MATE_FILES = [
    "nature/Aqua.jpg", "nature/Blinds.jpg", "nature/Dune.jpg", "nature/FreshFlower.jpg",
    "nature/Garden.jpg", "nature/GreenMeadow.jpg", "nature/LadyBird.jpg", "nature/RainDrops.jpg",
    "nature/Storm.jpg", "nature/TwoWings.jpg", "nature/Wood.jpg", "nature/YellowFlower.jpg",
    "desktop/GreenTraditional.jpg", "abstract/Elephants.jpg",
]
OPENCV = "usr/share/doc/opencv-doc/examples/data"
OPENCV_LICENCE = "Apache-2.0 AND BSD-3-Clause (Debian package opencv-doc 4.6.0+dfsg-12, debian/copyright 'Files: *')"
OPENCV_FILES = [
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg", "building.jpg",
    "butterfly.jpg", "ela_original.jpg", "fruits.jpg", "graf1.png", "home.jpg", "leuvenA.jpg",
    "left.jpg", "messi5.jpg", "orange.jpg", "pca_test1.jpg", "pic1.png", "rubberwhale1.png",
    "smarties.png", "squirrel_cls.jpg", "starry_night.jpg", "stuff.jpg", "Blender_Suzanne1.jpg",
]
DEBS = ["mate-backgrounds", "opencv-doc"]

# eval: (skimage file, output name, crop box (top, left, height, width) or None = whole, licence)
EVAL = [
    ("astronaut.png", "astronaut.png", (0, 64, 384, 384), "public domain (NASA; scikit-image data.astronaut)"),
    ("chelsea.png", "chelsea.png", (0, 0, 300, 448), "CC0 (Stefan van der Walt; scikit-image data.chelsea)"),
    ("coffee.png", "coffee.png", (0, 64, 400, 384), "CC0 (Rachel Michetti; scikit-image data.coffee)"),
    ("rocket.jpg", "rocket.png", (0, 128, 424, 384), "public domain (SpaceX; scikit-image data.rocket)"),
    ("hubble_deep_field.jpg", "hubble.png", (100, 100, 384, 384), "public domain (NASA; scikit-image data.hubble_deep_field)"),
    ("retina.jpg", "retina.png", (600, 600, 384, 384), "CC0 1.0 (Häggström, Mikael; scikit-image data.retina)"),
    ("ihc.png", "ihc.png", (0, 0, 384, 384), "no known copyright restrictions (scikit-image data.immunohistochemistry)"),
    ("camera.png", "camera.png", (0, 64, 384, 384), "CC0 (Lav Varshney; scikit-image data.camera)"),
    ("brick.png", "brick.png", (64, 64, 256, 256), "CC0 (CC0Textures Bricks25; scikit-image data.brick)"),
    ("gravel.png", "gravel.png", (64, 64, 256, 256), "CC0 (CC0Textures Gravel04; scikit-image data.gravel)"),
    ("page.png", "page.png", (0, 0, 188, 384), "CC0 (Andreas Preuss; scikit-image data.page)"),
    ("coins.png", "coins.png", (0, 0, 300, 384), "no known copyright restrictions (Brooklyn Museum via scikit-image data.coins)"),
]


def ensure_debs(data: Path) -> Path:
    debs, debx = data / "debs", data / "debx"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in DEBS:
        if not list(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True)
    if not (debx / MATE).exists() or not (debx / OPENCV).exists():
        debx.mkdir(parents=True, exist_ok=True)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(debx)], check=True)
    return debx


def to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    return img.convert("RGB")


def build_train(debx: Path, out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    items = [(debx / MATE / f, "mate_" + Path(f).stem, f"mate-backgrounds:{f}", MATE_LICENCE) for f in MATE_FILES]
    items += [(debx / OPENCV / f, "opencv_" + Path(f).stem, f"opencv-doc:examples/data/{f}", OPENCV_LICENCE)
              for f in OPENCV_FILES]
    for src, stem, source, licence in items:
        img = to_rgb(Image.open(src))
        w, h = img.size
        if max(w, h) > MAX_SIDE:
            s = MAX_SIDE / max(w, h)
            img = img.resize((round(w * s), round(h * s)), Image.LANCZOS)
        name = stem + ".png"
        img.save(out / name)
        manifest.append({"file": name, "source": source, "licence": licence,
                         "original_size": [w, h], "size": list(img.size)})
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def build_eval(out: Path) -> list[dict]:
    import skimage

    sk = Path(skimage.__file__).parent / "data"
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for src, name, box, licence in EVAL:
        arr = np.asarray(to_rgb(Image.open(sk / src)))
        if box is not None:
            t, l, h, w = box
            arr = arr[t:t + h, l:l + w]
        h, w = arr.shape[0] // 4 * 4, arr.shape[1] // 4 * 4
        arr = arr[:h, :w]
        assert max(h, w) <= 512
        Image.fromarray(arr).save(out / name, optimize=True)
        manifest.append({"file": name, "source": f"scikit-image {skimage.__version__} skimage/data/{src}",
                         "crop_top_left_height_width": list(box) if box else None, "size": [w, h],
                         "licence": licence})
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data"))
    ap.add_argument("--eval-out", default=str(ROOT / "assets" / "samples" / "sr"))
    args = ap.parse_args()
    debx = ensure_debs(Path(args.data))
    train = build_train(debx, Path(args.data) / "sr_train")
    ev = build_eval(Path(args.eval_out))
    print(f"training images: {len(train)} -> {Path(args.data) / 'sr_train'}")
    print(f"eval images: {len(ev)} -> {args.eval_out}")
    print(json.dumps(ev, indent=1))


if __name__ == "__main__":
    main()
