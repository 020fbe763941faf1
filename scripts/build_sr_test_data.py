"""Add the SR test photos from Debian's lomiri wallpapers to the bundled eval set, reproducibly.

    .venv/bin/python scripts/build_sr_test_data.py       # -> assets/samples/sr/wp_*.png

Issue 25 asks for at least 24 SR test images. The twelve scikit-image crops give 8 after the
calibration split, so these 17 photographs are added, from Debian packages that no bundled model
is trained on (training: mate-backgrounds, opencv-doc; plasma-workspace-wallpapers is reserved
for independent checks and must not be used here):

* ``lomiri-wallpapers-16.04`` 20.04.0-2: every file of ``usr/share/backgrounds`` (15 photos);
* ``lomiri-wallpapers-20.04`` 20.04.0-2: the two photographic ones (``Kleiber``, ``Infinite-Sea``;
  the others are graphics).

Each is converted to RGB, downscaled (PIL Lanczos) so its shorter side is ``SHORT_SIDE`` px and
centre-cropped to ``CROP``×``CROP`` (the size of most scikit-image samples), saved as
``wp_<name>.png`` (the ``wp_`` prefix sorts them after the original twelve, so "the first N
images" of the set are unchanged). Licences per file from each package's debian/copyright
(``LICENCES``; listed in assets/samples/README.md). The debs go to ``data/debs`` and are unpacked
into ``data/debx_test`` (git-ignored) unless already there.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
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


def out_name(file: str) -> str:
    return "wp_" + file.split("_by_")[0].lower().replace("-", "_") + ".png"


def ensure_debs(data: Path) -> Path:
    debs, debx = data / "debs", data / "debx_test"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        if not list(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True)
        if not (debx / pkg / BACKGROUNDS).exists():
            deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
            (debx / pkg).mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(debx / pkg)], check=True)
    return debx


def prepare(src: Path) -> Image.Image:
    img = Image.open(src).convert("RGB")
    w, h = img.size
    s = SHORT_SIDE / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.LANCZOS)
    w, h = img.size
    left, top = (w - CROP) // 2, (h - CROP) // 2
    return img.crop((left, top, left + CROP, top + CROP))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data"))
    ap.add_argument("--out", default=str(ROOT / "assets" / "samples" / "sr"))
    args = ap.parse_args()
    debx = ensure_debs(Path(args.data))
    out = Path(args.out)
    for pkg, file, licence in PHOTOS:
        prepare(debx / pkg / BACKGROUNDS / file).save(out / out_name(file), optimize=True)
        print(f"| `{out_name(file)}` | {CROP}×{CROP} | Debian `{pkg}` 20.04.0-2, `/{BACKGROUNDS}/{file}` | {licence} |")


if __name__ == "__main__":
    main()
