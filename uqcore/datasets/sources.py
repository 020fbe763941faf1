"""Where the project's image data comes from, rebuilt reproducibly and offline (``python -m uqcore data``).

* ``sr-train``: the x4 super-resolution training folder ``data/sr_train/`` (git-ignored, with
  ``MANIFEST.json`` listing each file's source and licence): Debian ``mate-backgrounds`` 1.26.0-1
  (the photographs in ``nature/`` plus ``desktop/GreenTraditional.jpg`` and ``abstract/Elephants.jpg``;
  GPL-2+) and ``opencv-doc`` 4.6.0+dfsg-12 (photographs of ``examples/data/``; Apache-2.0 AND
  BSD-3-Clause). Images with a side over ``MAX_SIDE`` are downscaled (PIL Lanczos) to it; 8-bit RGB PNG.
* ``sr-eval``: the bundled eval set's first twelve images ``assets/samples/sr/`` (shipped): crops of
  images bundled with scikit-image (public domain or CC0; ``EVAL``). No scikit-image image is used
  for training, so the sets are disjoint.
* ``sr-test``: the seventeen ``assets/samples/sr/wp_*.png`` test photos, from Debian's
  ``lomiri-wallpapers-16.04`` / ``-20.04`` 20.04.0-2 (``PHOTOS``; no bundled model is trained on
  them): RGB, shorter side ``SHORT_SIDE`` (Lanczos), centre crop ``CROP``²; the ``wp_`` prefix sorts
  them after the original twelve, so "the first N images" of the set are unchanged.
* ``unseen``: Debian ``plasma-workspace-wallpapers`` (every ``UNSEEN_PATTERN``: 12 photos), reserved
  for independent checks: never copied into assets/ or any training / evaluation / selection set
  (``python -m uqcore quality unseen`` and docs/TRIAGE.md measure on them).
* ``triage-photos``: from the unseen photos, ``pairs16/hr|lr/`` (16 HR crops of 512², each photo
  halved with Lanczos: a centre crop of 8 photos, a left and a right crop of the other 4; LR =
  ``bicubic_downscale(HR, 4)``) and ``folder300/`` (300 LR inputs of 256², the first 25 tiles row by
  row of each full-size photo): what docs/TRIAGE.md measures triage on.

Debian packages go through :func:`uqcore.datasets.debian.unpack_debs` (``apt-get download`` from
the configured mirror, ``dpkg-deb -x``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from uqcore.datasets.debian import unpack_debs
from uqcore.io import to_uint8
from uqcore.models.srresnet import bicubic_downscale

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

SHORT_SIDE, CROP = 448, 384
BACKGROUNDS = "usr/share/backgrounds"
# (package, file, licence and author per debian/copyright)
PHOTOS = [
    ("lomiri-wallpapers-16.04", "aitzgorri_by_Aitzol_Berasategi.jpg", "CC-BY-4.0, Aitzol Berasategi 2018"),
    ("lomiri-wallpapers-16.04", "analogpattern_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0, Peter Nerlich 2018"),
    ("lomiri-wallpapers-16.04", "Bridge_by_Sander_Klootwijk.jpg", "CC-BY-SA-4.0, Sander Klootwijk 2018"),
    ("lomiri-wallpapers-16.04", "Dragonfly_by_Bolly.jpg", "CC-BY-SA-4.0, \"Bolly\" 2018"),
    ("lomiri-wallpapers-16.04", "free_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0, Peter Nerlich 2018"),
    ("lomiri-wallpapers-16.04", "friends_by_Aitzol_Berasategi.jpg", "CC-BY-4.0, Aitzol Berasategi 2018"),
    ("lomiri-wallpapers-16.04", "greentock_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0, Peter Nerlich 2018"),
    ("lomiri-wallpapers-16.04", "life_by_Aitzol_Berasategi.jpg", "CC-BY-4.0, Aitzol Berasategi 2018"),
    ("lomiri-wallpapers-16.04", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "CC-BY-4.0, Aitzol Berasategi 2018"),
    ("lomiri-wallpapers-16.04", "Picture_0B_by_freespace.jpg", "CC-BY-4.0, Trevor \"Freespace\" 2018"),
    ("lomiri-wallpapers-16.04", "Picture_1A_by_freespace.jpg", "CC-BY-4.0, Trevor \"Freespace\" 2018"),
    ("lomiri-wallpapers-16.04", "seeding_by_Clements_Engelhardt.jpg", "CC0-1.0, Clemens Engelhardt 2018"),
    ("lomiri-wallpapers-16.04", "sunset_by_Aitzol_Berasategi.jpg", "CC-BY-4.0, Aitzol Berasategi 2018"),
    ("lomiri-wallpapers-16.04", "umang_by_Abhishek_Mudgal.jpg", "CC-BY-4.0, Abhishek Mudgal 2018"),
    ("lomiri-wallpapers-16.04", "Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0, Jakub Mede 2018"),
    ("lomiri-wallpapers-20.04", "Kleiber_by_Lukas_Baubkus.jpg", "CC-BY-SA-3.0, Lukas Baubkus 2021"),
    ("lomiri-wallpapers-20.04", "Infinite-Sea_by_Aury88.jpg", "CC-BY-SA-3.0, Aury88 2019"),
]
PACKAGES = sorted({p for p, _, _ in PHOTOS})

UNSEEN_PACKAGE = "plasma-workspace-wallpapers"
UNSEEN_PATTERN = "usr/share/wallpapers/*/contents/images/2560x1600.jpg"
HR_SIDE, TILE, TILES_PER_PHOTO, TWO_CROPS = 512, 256, 25, 4



def sr_train_debs(data: Path) -> Path:
    debx = data / "debx"
    unpack_debs(["mate-backgrounds"], data / "debs", debx, marker=MATE)
    unpack_debs(["opencv-doc"], data / "debs", debx, marker=OPENCV)
    return debx


def sr_test_debs(data: Path) -> Path:
    return unpack_debs(PACKAGES, data / "debs", data / "debx_test", marker=BACKGROUNDS, per_package=True)


def unseen_photos(root: Path) -> list[Path]:
    """The unseen photos (module docstring), fetched into ``root`` unless already there."""
    unpack_debs([UNSEEN_PACKAGE], root, root, marker=UNSEEN_PATTERN)
    return sorted(Path(root).glob(UNSEEN_PATTERN))


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


def out_name(file: str) -> str:
    return "wp_" + file.split("_by_")[0].lower().replace("-", "_") + ".png"


def prepare(src: Path) -> Image.Image:
    img = Image.open(src).convert("RGB")
    w, h = img.size
    s = SHORT_SIDE / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.LANCZOS)
    w, h = img.size
    left, top = (w - CROP) // 2, (h - CROP) // 2
    return img.crop((left, top, left + CROP, top + CROP))



def build_test(debx: Path, out: Path) -> list[str]:
    """The test photos into ``out``; one markdown row per photo (assets/samples/README.md's table)."""
    rows = []
    for pkg, file, licence in PHOTOS:
        prepare(debx / pkg / BACKGROUNDS / file).save(out / out_name(file), optimize=True)
        rows.append(f"| `{out_name(file)}` | {CROP}×{CROP} | Debian `{pkg}` 20.04.0-2, `/{BACKGROUNDS}/{file}` | {licence} |")
    return rows


def save(path: Path, image: torch.Tensor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image)).save(path)


def tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def triage_pairs(photos: list[Path], out: Path) -> None:
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


def triage_folder(photos: list[Path], out: Path) -> None:
    for path in photos:
        img = tensor(Image.open(path))
        cols = img.shape[-1] // TILE
        for k in range(TILES_PER_PHOTO):
            r, c = divmod(k, cols)
            save(out / f"{path.parents[2].name}_{k:02d}.png", img[..., r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE])

