"""Importing UpscalerJS's ESRGAN models (npm, MIT) into the zoo as safetensors + a model card
(``python -m uqcore import-upscalerjs``).

For each package (``@upscalerjs/esrgan-{slim,medium,thick}@1.0.0``; ``npm pack``, or downloaded
tarballs): read ``models/x{scale}/model.json`` + its float32 shards (a Keras functional graph in TF.js
layers format), rebuild it as :class:`uqcore.models.rrdn.RDN` / :class:`~uqcore.models.rrdn.RRDN`
(grouped names, Keras kernels HWIO -> OIHW, TF's NHWC depth_to_space kept as such), check the module
against a numpy evaluation of the Keras graph (:mod:`uqcore.models.tfjs`) on a small random input, then
score it on assets/samples/sr with the eval protocol of :func:`uqcore.paper.quality.sr_eval` (Y-PSNR /
SSIM, 4 px border, bicubic baseline) under several LR degradations. Written models get
``assets/models/<name>.safetensors`` + ``<name>.json``. The weights are stored as float16 (half the
bytes: esrgan-thick's 7.3M parameters are 14 MiB, not 28, under the project's 20 MiB guideline for
committed files) and loaded and run as float32; every number measured is of that stored network
(:func:`stored_copy`), and the card records its largest output difference from the float32 network
on the bundled samples.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from uqcore.models.card import ModelCard, read_card, today
from uqcore.models.registry import MODELS_DIR, SAMPLES_DIR
from uqcore.metrics.quality import psnr_ssim as image_metrics
from uqcore.models.srresnet import bicubic_downscale, bicubic_upscale, load_hr
from uqcore.models.tfjs import build_module, max_difference, read_layers_model

EVAL_DIR = SAMPLES_DIR / "sr"
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
    "torch-bicubic-antialias": bicubic_downscale,  # the eval protocol (uqcore.paper.quality.sr_eval)
    "pil-bicubic": _pil_bicubic,  # antialiased like MATLAB imresize (DIV2K's bicubic LR)
    "torch-bicubic-no-antialias": lambda hr, s: F.interpolate(hr, scale_factor=1 / s, mode="bicubic",
                                                              align_corners=False).clamp(0, 1),
    "area": lambda hr, s: F.avg_pool2d(hr, s),
}


@torch.inference_mode()
def evaluate(module, paths, scale: int, degrade=bicubic_downscale, reference=None) -> dict:
    """The eval protocol's per-image rows for ``module`` with the LR made by ``degrade``; with a
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
            f"python -m uqcore import-upscalerjs. Third-party weights (MIT).")


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
            "command": command, "date": today(),
            "how": "the eval protocol (uqcore.paper.quality.sr_eval): PSNR/SSIM on the Y channel (BT.601), 4 px border cropped, 8-bit "
                   "rounded outputs; LR = uqcore.models.srresnet.bicubic_downscale(HR, 4); baseline = bicubic x4. "
                   f"Command: {command}",
            "mean": result["mean"], "per_image": result["per_image"],
        },
        "degradation_check": {
            "command": command, "date": today(), "psnr_gain_by_lr": gains, "best": max(gains, key=gains.get),
            "how": "mean PSNR gain over bicubic on assets/samples/sr with the LR made by each downscaler "
                   "(uqcore.models.upscalerjs.DEGRADATIONS); the eval above uses torch-bicubic-antialias",
        },
    }
    path = MODELS_DIR / f"{name}.json"
    if path.exists():  # keep what other commands recorded (recommended setting, timings, unseen check)
        prev = read_card(path).flat()
        card.update({k: v for k, v in prev.items() if k not in card})
    ModelCard.from_dict(card, path).save(path)
    return card
