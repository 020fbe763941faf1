"""PSNR gain over bicubic of bundled SR models on photos none of them has seen: Debian's
plasma-workspace-wallpapers (KDE). These are reserved for independent checks: never copy them
into assets/ or any training / evaluation set.

    .venv/bin/python scripts/check_unseen.py --models esrgan-thick,srresnet [--write-card]

The package is fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into
``--root`` (default /tmp/uqcore-unseen) unless it is already there. Images: every
``usr/share/wallpapers/*/contents/images/2560x1600.jpg`` (the photographic wallpapers), each
halved (PIL Lanczos, to soften JPEG artefacts) and centre-cropped to ``--crop`` pixels (HR). Then
scripts/eval_sr.py's protocol: LR = bicubic_downscale(HR, 4), Y-channel PSNR with a 4 px border,
bicubic x4 baseline. For a model with a variance head (``method="llm"``) also its PSNR, the
PSNR of ``--reference`` (default srresnet) on the same crops, and the pixel-level Pearson
correlation of its variance (``uqcore.estimate(model, lr, method="llm")``) with its own error map
(``uqcore.metrics``: channel-mean absolute error), averaged over the photos. ``--write-card``
records the result as ``unseen_check`` in each model card.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uqcore.models.registry import MODELS_DIR, load_model  # noqa: E402
from uqcore.metrics.quality import psnr_ssim as image_metrics  # noqa: E402
from uqcore.models.srresnet import bicubic_downscale, bicubic_upscale  # noqa: E402

PACKAGE = "plasma-workspace-wallpapers"
PATTERN = "usr/share/wallpapers/*/contents/images/2560x1600.jpg"


def fetch(root: Path) -> list[Path]:
    if not list(root.glob(PATTERN)):
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", PACKAGE], cwd=root, check=True)
        (deb,) = root.glob(f"{PACKAGE}_*.deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return sorted(root.glob(PATTERN))


def hr_crop(path: Path, crop: int) -> torch.Tensor:
    from PIL import Image

    img = Image.open(path).convert("RGB")
    img = img.resize((img.width // 2, img.height // 2), Image.LANCZOS)
    left, top = (img.width - crop) // 2, (img.height - crop) // 2
    arr = np.asarray(img.crop((left, top, left + crop, top + crop)), np.float32) / 255
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)


@torch.inference_mode()
def likelihood_check(model, reference, images: dict[str, torch.Tensor]) -> dict:
    """PSNR of ``model`` and ``reference`` and the pixel correlation of ``model``'s predicted
    variance with its own error, per photo and averaged."""
    import uqcore
    import uqcore.metrics as M

    per = {}
    for name, hr in images.items():
        lr = bicubic_downscale(hr, 4)
        est = uqcore.estimate(model, lr, method="llm")
        pred = est.prediction.double().numpy()
        err = M.error_map(pred, hr[0].double().numpy())
        per[name] = {"psnr": round(image_metrics(est.prediction[None, :3], hr, border=4)[0], 4),
                     "reference_psnr": round(image_metrics(reference.module(lr)[:, :3], hr, border=4)[0], 4),
                     "corr_pixel": round(M.pearson(err, est.variance.double().numpy()), 4)}
    mean = {k: round(float(np.mean([r[k] for r in per.values()])), 4) for k in ("psnr", "reference_psnr", "corr_pixel")}
    return {**{f"{k}_mean": v for k, v in mean.items()}, "likelihood_per_image": per}


@torch.inference_mode()
def gains(model, images: dict[str, torch.Tensor]) -> dict[str, float]:
    out = {}
    for name, hr in images.items():
        lr = bicubic_downscale(hr, 4)
        p, _ = image_metrics(model.module(lr)[:, :3], hr, border=4)
        b, _ = image_metrics(bicubic_upscale(lr, 4), hr, border=4)
        out[name] = round(p - b, 4)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="esrgan-thick")
    ap.add_argument("--root", type=Path, default=Path("/tmp/uqcore-unseen"))
    ap.add_argument("--crop", type=int, default=384, help="HR crop side (divisible by 4)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reference", default="srresnet", help="the model a variance head's PSNR is compared with")
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    paths = fetch(args.root)
    images = {p.parts[-4]: hr_crop(p, args.crop) for p in paths}
    command = ".venv/bin/python scripts/check_unseen.py " + " ".join(sys.argv[1:] if argv is None else argv)
    for name in args.models.split(","):
        model = load_model(name, student=False)
        model.module.eval()
        per_image = gains(model, images)
        mean = round(float(np.mean(list(per_image.values()))), 4)
        print(f"{name}: mean PSNR gain over bicubic {mean:+.3f} dB on {len(images)} unseen photos; {per_image}",
              flush=True)
        extra = {}
        if "llm" in model.methods:
            reference = load_model(args.reference, student=False)
            reference.module.eval()
            extra = likelihood_check(model, reference, images)
            extra["reference"] = args.reference
            print(f"{name}: PSNR {extra['psnr_mean']:.3f} dB ({args.reference} {extra['reference_psnr_mean']:.3f}), "
                  f"pixel correlation of its variance with its error {extra['corr_pixel_mean']:.3f}", flush=True)
        if args.write_card:
            card_path = MODELS_DIR / f"{name}.json"
            card = json.loads(card_path.read_text())
            card["unseen_check"] = {
                "psnr_gain_mean": mean, "per_image": per_image, **extra, "command": command,
                "images": f"Debian {PACKAGE} ({PATTERN}), halved and centre-cropped to {args.crop} px; "
                          "never used for training, selection or the bundled samples"}
            card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
