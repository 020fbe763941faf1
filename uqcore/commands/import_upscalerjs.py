"""``python -m uqcore import-upscalerjs``: UpscalerJS's ESRGAN models (npm, MIT) into the zoo
(:mod:`uqcore.models.upscalerjs`).

    python -m uqcore import-upscalerjs                       # npm pack all three, measure
    python -m uqcore import-upscalerjs --write esrgan-thick  # + write that model's files
    python -m uqcore import-upscalerjs --tarball T.tgz ...   # use downloaded tarballs
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="slim,medium,thick", help="comma-separated: slim, medium, thick")
    parser.add_argument("--tarball", type=Path, nargs="*", default=None,
                        help="npm tarballs (upscalerjs-esrgan-<size>-1.0.0.tgz) instead of running npm pack")
    parser.add_argument("--write", default="", help="comma-separated names (esrgan-<size>) to write to assets/models")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    import torch

    from uqcore.models import upscalerjs as U

    torch.set_num_threads(args.threads)
    paths = sorted(U.EVAL_DIR.glob("*.png"))
    write = {w for w in args.write.split(",") if w}
    argv = sys.argv[2:] if sys.argv[1:2] == ["import-upscalerjs"] else []
    command = "python -m uqcore import-upscalerjs " + " ".join(shlex.quote(a) for a in argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.tarball:
            tarballs = {re.search(r"esrgan-(\w+)-", t.name).group(1): t for t in args.tarball}
        else:
            tarballs = {s: U.npm_pack(s, work) for s in args.sizes.split(",")}
        for size, tarball in tarballs.items():
            imp = U.import_package(tarball, args.scale, work)
            result = U.measure(imp, paths, args.scale)
            name = f"esrgan-{size}"
            params = sum(p.numel() for p in imp["module"].parameters())
            print(f"{name}: {imp['arch']} {imp['kwargs']} params {params:,} max|torch-keras| {imp['max_diff']:.2e}; "
                  f"stored {U.STORE_DTYPE} vs float32: max|diff| {max(result['storage_diff'].values()):.2e}; "
                  f"{result['mean']}; gain by LR {result['gain_by_degradation']}", flush=True)
            if name in write:
                if result["mean"]["psnr_gain"] <= 0:
                    print(f"{name} does not beat bicubic: not written", file=sys.stderr)
                    continue
                U.write_files(name, imp, result, args.scale, command)
    return 0
