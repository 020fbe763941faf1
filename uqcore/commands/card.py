"""``python -m uqcore card``: (re)write the cards of the models this project trains from their
weights' training metadata (:mod:`uqcore.training.cards`): ``config`` and ``provenance``; the
``measured`` entries (written by ``quality``, ``recommend``, ``select``) are kept.

    python -m uqcore card sr [--only srresnet,srgan] [--write]
        + with --write the SR table of docs/MODELS.md (from the cards' measured.eval) and
          docs/figures/srgan_vs_srresnet_crop.png (bicubic | srresnet | srgan | HR on a crop)
    python -m uqcore card depth --weights assets/models/fcrn.safetensors [--init-card CARD] [--write]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch

DOC = Path("docs") / "MODELS.md"
FIGURE = Path("docs") / "figures" / "srgan_vs_srresnet_crop.png"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=("sr", "depth"))
    parser.add_argument("--only", default=None, help="sr: comma-separated zoo names (default: all)")
    parser.add_argument("--weights", type=Path, default=None, help="depth: the weights whose card to write")
    parser.add_argument("--init-card", type=Path, default=None,
                        help="depth, fine-tuned weights: the card of the weights they started from")
    parser.add_argument("--write", action="store_true", help="write the cards (sr: and the MODELS.md table, figure)")


def run(args: argparse.Namespace) -> int:
    from uqcore.models.card import ModelCard, read_card
    from uqcore.models.registry import MODELS_DIR
    from uqcore.training import cards as C

    if args.task == "depth":
        if args.weights is None:
            print("card depth needs --weights", file=sys.stderr)
            return 2
        previous = read_card(args.init_card).flat() if args.init_card else None
        path = args.weights.parent / f"{args.weights.stem}.json"
        flat = C.depth_card(args.weights, previous)
        old = read_card(path).measured if path.exists() else {}
        card = ModelCard.from_dict({**flat, **old}, path)
        print(json.dumps(card.to_dict()["provenance"], indent=1)[:2000])
        if args.write:
            card.save()
        return 0
    only = set(args.only.split(",")) if args.only else None
    written = {}
    for name in C.ZOO:
        if only is not None and name not in only:
            continue
        try:
            card = C.sr_card(name)
        except FileNotFoundError as exc:
            print(f"skip {name}: {exc}", file=sys.stderr)
            continue
        written[name] = card
        print(f"{name}: {card.config['parameters']:,} parameters, {len(card.provenance['training']['runs'])} run(s)")
        if args.write:
            card.save()
    if args.write:
        update_doc(table({n: c.flat() for n, c in written.items()}), only)
        if only is None and {"srresnet", "srgan"} <= written.keys():
            crop_figure({n: C.load_members(C.ZOO[n][0])[0][0] for n in ("srresnet", "srgan")})
    return 0


def crop_figure(models: dict, image: str = "gravel.png", box=(100, 100, 96, 96), zoom: int = 3) -> None:
    """bicubic | srresnet | srgan | HR on a crop of one eval image, nearest-neighbour zoomed."""
    from PIL import Image, ImageDraw

    from uqcore.models.registry import SAMPLES_DIR
    from uqcore.models.srresnet import bicubic_downscale, bicubic_upscale, load_hr

    hr = load_hr(SAMPLES_DIR / "sr" / image, 4)
    lr = bicubic_downscale(hr, 4)
    t, l, h, w = box
    panels = [("bicubic", bicubic_upscale(lr, 4))]
    with torch.inference_mode():
        for name in ("srresnet", "srgan"):
            panels.append((name, models[name](lr)[:, :3].clamp(0, 1)))
    panels.append(("HR", hr))
    tiles = []
    for label, img in panels:
        arr = (img[0, :, t:t + h, l:l + w].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        tile = Image.fromarray(arr).resize((w * zoom, h * zoom), Image.NEAREST)
        canvas = Image.new("RGB", (tile.width, tile.height + 22), "white")
        canvas.paste(tile, (0, 22))
        ImageDraw.Draw(canvas).text((6, 4), label, fill="black")
        tiles.append(canvas)
    gap = 6
    fig = Image.new("RGB", (sum(c.width for c in tiles) + gap * (len(tiles) - 1), tiles[0].height), "white")
    x = 0
    for c in tiles:
        fig.paste(c, (x, 0))
        x += c.width + gap
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.save(FIGURE, optimize=True)


def table(cards: dict) -> str:
    """The SR table of docs/MODELS.md from the cards (``eval`` is ``quality sr``'s)."""
    lines = ["| model | PSNR (dB) | SSIM | bicubic PSNR | bicubic SSIM | PSNR gain (dB) | params | train time |",
             "|---|---|---|---|---|---|---|---|"]
    for name, card in cards.items():
        if "eval" not in card:
            continue
        mean = card["eval"]["mean"]
        secs = card["training"]["total_train_seconds"]
        params = card["parameters"]
        lines.append(f"| `{name}` | {mean['psnr']:.2f} | {mean['ssim']:.4f} | {mean['bicubic_psnr']:.2f} | "
                     f"{mean['bicubic_ssim']:.4f} | {mean['psnr_gain']:+.2f} | {params:,} | {secs / 60:.0f} min |")
    return "\n".join(lines)


def update_doc(text: str, only: set[str] | None = None) -> None:
    """The table of docs/MODELS.md; with ``only``, just those models' rows (replaced or appended)."""
    start, end = "<!-- sr-table:start -->", "<!-- sr-table:end -->"
    if not DOC.exists():
        return
    doc = DOC.read_text()
    if only is not None and start in doc and end in doc:
        old = doc.split(start, 1)[1].split(end, 1)[0].strip("\n").splitlines()
        new = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("| `")}
        rows = [new.pop(line.split("`")[1], line) if line.startswith("| `") else line for line in old]
        text = "\n".join(rows + list(new.values()))
    if start in doc and end in doc:
        doc = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{text}\n{end}", doc,
                     flags=re.S)
        DOC.write_text(doc)


