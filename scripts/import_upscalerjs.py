"""Import UpscalerJS's ESRGAN models (npm, MIT) into the zoo as safetensors + a model card.

    .venv/bin/python scripts/import_upscalerjs.py                       # npm pack all three, measure
    .venv/bin/python scripts/import_upscalerjs.py --write esrgan-thick  # + write that model's files
    .venv/bin/python scripts/import_upscalerjs.py --tarball T.tgz ...   # use downloaded tarballs

For each package (``@upscalerjs/esrgan-{slim,medium,thick}@1.0.0``; ``npm pack`` runs here
unless ``--tarball`` names the files): read ``models/x{scale}/model.json`` + its float32 shards
(a Keras functional graph in TF.js layers format), rebuild it as :class:`uqcore.models.rrdn.RDN`
/ :class:`~uqcore.models.rrdn.RRDN` (grouped names, Keras kernels HWIO -> OIHW, TF's NHWC
depth_to_space kept as such), check the module against a numpy evaluation of the Keras graph
(:mod:`uqcore.models.tfjs`) on a small random input, then score it on assets/samples/sr with
scripts/eval_sr.py's protocol (Y-PSNR/SSIM, 4 px border, bicubic baseline) under several LR
degradations. ``--write`` models get assets/models/<name>.safetensors + <name>.json. The weights
are stored as float16 (half the bytes: esrgan-thick's 7.3M parameters are 14 MiB, not 28, under
the project's 20 MiB guideline for committed files) and loaded and run as float32; every number
the script measures is of that stored network (:func:`stored_copy`), and the card records its
largest output difference from the float32 network on the bundled samples.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uqcore.metrics.quality import psnr_ssim as image_metrics  # noqa: E402
from uqcore.models.srresnet import bicubic_downscale, bicubic_upscale, load_hr  # noqa: E402
from uqcore.models.tfjs import build_module, max_difference, read_layers_model  # noqa: E402

MODELS_DIR = ROOT / "assets" / "models"
EVAL_DIR = ROOT / "assets" / "samples" / "sr"
SIZES = ("slim", "medium", "thick")
VERSION = "1.0.0"
TOLERANCE = 1e-4  # max |torch - numpy Keras| in [0, 1] output units
# UpscalerJS 1.0.0, packages/shared/src/esrgan/esrgan.js (in each tarball's dist/): the "rdn"
# models take and return [0, 255], the "rrdn" ones [0, 1].
VALUE_RANGE = {"rdn": 255.0, "rrdn": 1.0}
ARCH_CLASS = {"rdn": "RDN", "rrdn": "RRDN"}
STORE_DTYPE = torch.float16  # the committed weights' dtype; the zoo loads them into float32 parameters


def stored_copy(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` as the zoo runs it from the stored file: every floating tensor rounded to
    STORE_DTYPE and back to float32 (what load_state_dict's copy into float32 parameters does)."""
    out = copy.deepcopy(module)
    with torch.no_grad():
        for t in out.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.to(STORE_DTYPE).float())
    return out


# -- degradations tried for "which LR matches the training data best" ------------------------------
def _pil_bicubic(hr: torch.Tensor, scale: int) -> torch.Tensor:
    from PIL import Image

    arr = (hr[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    h, w = arr.shape[:2]
    small = Image.fromarray(arr).resize((w // scale, h // scale), Image.BICUBIC)
    return torch.from_numpy(np.asarray(small, np.float32) / 255).permute(2, 0, 1).unsqueeze(0)


DEGRADATIONS = {
    "torch-bicubic-antialias": bicubic_downscale,  # THE eval_sr.py protocol
    "pil-bicubic": _pil_bicubic,  # antialiased like MATLAB imresize (DIV2K's bicubic LR)
    "torch-bicubic-no-antialias": lambda hr, s: F.interpolate(hr, scale_factor=1 / s, mode="bicubic",
                                                              align_corners=False).clamp(0, 1),
    "area": lambda hr, s: F.avg_pool2d(hr, s),
}


@torch.inference_mode()
def evaluate(module, paths, scale: int, degrade=bicubic_downscale, reference=None) -> dict:
    """scripts/eval_sr.py's per-image rows for ``module`` with the LR made by ``degrade``; with a
    ``reference`` module also each image's max |module(LR) - reference(LR)| ([0, 1] units) as
    ``max_abs_diff``."""
    rows = {}
    for path in paths:
        hr = load_hr(path, scale)
        lr = degrade(hr, scale)
        out = module(lr)
        p, s = image_metrics(out, hr, border=scale)
        bp, bs = image_metrics(bicubic_upscale(lr, scale), hr, border=scale)
        rows[Path(path).name] = {"psnr": round(p, 4), "ssim": round(s, 5), "bicubic_psnr": round(bp, 4),
                                 "bicubic_ssim": round(bs, 5), "psnr_gain": round(p - bp, 4)}
        if reference is not None:
            rows[Path(path).name]["max_abs_diff"] = float((out - reference(lr)).abs().max())
    return rows


def summarise(rows: dict) -> dict:
    keys = ["psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "psnr_gain"]
    return {k: round(float(np.mean([r[k] for r in rows.values()])), 4) for k in keys}


# -- the package -----------------------------------------------------------------------------------
def npm_pack(size: str, dest: Path) -> Path:
    spec = f"@upscalerjs/esrgan-{size}@{VERSION}"
    out = subprocess.run(["npm", "pack", spec, "--pack-destination", str(dest)], capture_output=True, text=True,
                         check=True)
    return dest / out.stdout.strip().splitlines()[-1]


def unpack(tarball: Path, dest: Path, scale: int) -> Path:
    """Extract only plain files of the model folder and the package's docs into ``dest``."""
    keep = re.compile(rf"package/(models/x{scale}/[^/]+|README\.md|LICENSE|package\.json|"
                      rf"dist/esm/models/[^/]+/src/(getModelDefinition\.js|x{scale}/index\.js))")
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and keep.fullmatch(m.name)]
        tar.extractall(dest, members=members, filter="data")
    return dest / "package"


def package_meta(pkg: Path, scale: int) -> dict:
    """name, version, license from package.json; the model meta of getModelDefinition.js; the
    original (ISR) weights file name from x{scale}/index.js."""
    info = json.loads((pkg / "package.json").read_text())
    (definition,) = pkg.glob("dist/esm/models/*/src/getModelDefinition.js")
    meta = dict(re.findall(r"(\w+): ['\"]?([\w.-]+)['\"]?,", definition.read_text().split("meta:", 1)[1]))
    index = next(pkg.glob(f"dist/esm/models/*/src/x{scale}/index.js"), None)
    found = re.search(r"getModelDefinition\(\d+, '([^']+)'", index.read_text()) if index else None
    return {"package": info["name"], "version": info["version"], "license": info.get("license", "MIT"),
            "meta": meta, "source_name": found.group(1) if found else None}


def import_package(tarball: Path, scale: int, work: Path) -> dict:
    pkg = unpack(tarball, work / tarball.stem, scale)
    info = package_meta(pkg, scale)
    config, weights = read_layers_model(pkg / "models" / f"x{scale}")
    arch = "rrdn" if info["meta"].get("architecture") == "rrdn" else "rdn"
    module, arch_found, kwargs = build_module(config, weights, VALUE_RANGE[arch])
    if arch_found != arch:
        raise SystemExit(f"{tarball}: package says {arch}, graph is {arch_found}")
    diff = max_difference(module, config, weights, VALUE_RANGE[arch])
    if diff > TOLERANCE:
        raise SystemExit(f"{tarball}: rebuilt module differs from the Keras graph by {diff:.2e}")
    return {"module": module, "stored": stored_copy(module), "arch": arch, "kwargs": kwargs, "info": info,
            "max_diff": diff,
            "readme": (pkg / "README.md").read_text(), "layers": len(config["config"]["layers"])}


def measure(imp: dict, paths, scale: int) -> dict:
    """Quality of the stored (float16-rounded) network, and its largest output difference from
    the float32 one on the same LR inputs."""
    stored = imp["stored"]
    rows = evaluate(stored, paths, scale, reference=imp["module"])
    diffs = {name: row.pop("max_abs_diff") for name, row in rows.items()}
    by_lr = {name: summarise(evaluate(stored, paths, scale, fn))["psnr_gain"] if fn is not bicubic_downscale
             else summarise(rows)["psnr_gain"] for name, fn in DEGRADATIONS.items()}
    return {"per_image": rows, "mean": summarise(rows), "gain_by_degradation": by_lr, "storage_diff": diffs}


# -- the zoo files -----------------------------------------------------------------------------------
def description(imp: dict) -> str:
    kw, meta = imp["kwargs"], imp["info"]["meta"]
    what = ("the ESRGAN generator (RRDN: residual-in-residual dense blocks, residuals scaled by 0.2, a "
            "depth-to-space head)" if imp["arch"] == "rrdn" else
            "a residual dense network (RDN) with a nearest-upsampling head")
    return (f"UpscalerJS's esrgan-{meta.get('size')} x{kw['scale']}: {what}, trained by UpscalerJS with idealo's ISR "
            f"on DIV2K; imported from the npm package's TensorFlow.js layers model by "
            f"scripts/import_upscalerjs.py. Third-party weights (MIT).")


def storage_record(diffs: dict, command: str) -> dict:
    """The card's record of the float16 storage: its largest output change on the bundled samples."""
    worst = max(diffs, key=diffs.get)
    return {"dtype": str(STORE_DTYPE).removeprefix("torch."), "run_as": "float32",
            "max_abs_diff_vs_float32": float(f"{diffs[worst]:.3g}"), "worst_image": worst,
            "mean_of_per_image_max": float(f"{np.mean(list(diffs.values())):.3g}"),
            "check": "max |stored(LR) - float32(LR)| over the pixels of each bundled sample (assets/samples/sr, LR = "
                     "bicubic_downscale(HR, 4)), [0, 1] output units; 1/255 = 0.0039 is one 8-bit level; eval below is "
                     f"of the stored network. Command: {command}"}


def write_files(name: str, imp: dict, result: dict, scale: int, command: str) -> dict:
    from safetensors.torch import save_file

    module, info, meta = imp["module"], imp["info"], imp["info"]["meta"]
    weights = f"{name}.safetensors"
    state = {k: (v.to(STORE_DTYPE) if v.is_floating_point() else v).contiguous()
             for k, v in module.state_dict().items()}
    save_file(state, str(MODELS_DIR / weights), metadata={"origin": f"{info['package']}@{info['version']}"})
    gains = result["gain_by_degradation"]
    card = {
        "name": name, "task": "sr", "scale": scale, "architecture": imp["arch"], "arch_kwargs": imp["kwargs"],
        "weights": weights, "output": "mean", "probe_size": [32, 32], "in_channels": 3,
        "description": description(imp),
        "input_range": "RGB float32 in [0, 1]; output RGB (not clamped) at 4x the input size; the network itself "
                       f"works in [0, {imp['kwargs']['value_range']:g}] (scaled inside the module)",
        "parameters": sum(p.numel() for p in module.parameters()),
        "parameters_note": f"all trainable; stored {str(STORE_DTYPE).removeprefix('torch.')} (safetensors), loaded "
                           "and run as float32 (see import.storage)",
        "members": 1,
        "origin": {"package": info["package"], "version": info["version"], "license": info["license"],
                   "model_file": f"models/x{scale}/model.json", "npm": f"npm pack {info['package']}@{info['version']}",
                   "source_name": info["source_name"],
                   "copyright": "Copyright (c) 2022 Kevin Scott (the package's LICENSE, MIT)",
                   "homepage": "https://upscalerjs.com/models/available/upscaling/esrgan-" + meta.get("size", "")},
        "training": {
            "data": "DIV2K (Agustsson & Timofte, NTIRE 2017: 800 2K training images) "
                    "as the package's model definition states (meta.dataset = 'div2k', file "
                    f"{info['source_name']!r}); the package README names no data set",
            "degradation": "not stated in the package; DIV2K's x4 bicubic LR is MATLAB imresize (antialiased), and "
                           f"the best match measured here is {max(gains, key=gains.get)} (see degradation_check: "
                           "antialiased bicubic, torch or PIL, within 0.01 dB; without antialiasing the model loses to "
                           "bicubic). 'compress100-sharpen0' in the file name: no JPEG or sharpening augmentation",
            "by": "UpscalerJS (Kevin Scott) with idealo's ISR; not retrained here",
        },
        "import": {"command": command, "max_abs_diff_vs_keras_numpy": float(f"{imp['max_diff']:.3g}"),
                   "check": "uqcore.models.tfjs.max_difference: the module vs a numpy evaluation of the Keras graph "
                            "on a random 8x8 input, in [0, 1] output units", "keras_layers": imp["layers"],
                   "storage": storage_record(result["storage_diff"], command)},
        "eval": {
            "set": "assets/samples/sr (sources and licences: assets/samples/README.md)",
            "how": "scripts/eval_sr.py's protocol: PSNR/SSIM on the Y channel (BT.601), 4 px border cropped, 8-bit "
                   "rounded outputs; LR = uqcore.models.srresnet.bicubic_downscale(HR, 4); baseline = bicubic x4. "
                   f"Command: {command}",
            "mean": result["mean"], "per_image": result["per_image"],
        },
        "degradation_check": {
            "psnr_gain_by_lr": gains, "best": max(gains, key=gains.get),
            "how": "mean PSNR gain over bicubic on assets/samples/sr with the LR made by each downscaler "
                   "(scripts/import_upscalerjs.py DEGRADATIONS); the eval above uses torch-bicubic-antialias",
        },
    }
    old = MODELS_DIR / f"{name}.json"
    if old.exists():  # keep what other scripts added (recommended setting, timings, unseen check)
        prev = json.loads(old.read_text())
        card.update({k: v for k, v in prev.items() if k not in card})
    (MODELS_DIR / f"{name}.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return card


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma-separated: slim, medium, thick")
    ap.add_argument("--tarball", type=Path, nargs="*", default=None,
                    help="npm tarballs (upscalerjs-esrgan-<size>-1.0.0.tgz) instead of running npm pack")
    ap.add_argument("--write", default="", help="comma-separated names (esrgan-<size>) to write to assets/models")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    paths = sorted(EVAL_DIR.glob("*.png"))
    write = {w for w in args.write.split(",") if w}
    command = ".venv/bin/python scripts/import_upscalerjs.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.tarball:
            tarballs = {re.search(r"esrgan-(\w+)-", t.name).group(1): t for t in args.tarball}
        else:
            tarballs = {s: npm_pack(s, work) for s in args.sizes.split(",")}
        for size, tarball in tarballs.items():
            imp = import_package(tarball, args.scale, work)
            result = measure(imp, paths, args.scale)
            name = f"esrgan-{size}"
            params = sum(p.numel() for p in imp["module"].parameters())
            print(f"{name}: {imp['arch']} {imp['kwargs']} params {params:,} max|torch-keras| {imp['max_diff']:.2e}; "
                  f"stored {STORE_DTYPE} vs float32: max|diff| {max(result['storage_diff'].values()):.2e}; "
                  f"{result['mean']}; gain by LR {result['gain_by_degradation']}", flush=True)
            if name in write:
                if result["mean"]["psnr_gain"] <= 0:
                    print(f"{name} does not beat bicubic: not written", file=sys.stderr)
                    continue
                write_files(name, imp, result, args.scale, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
