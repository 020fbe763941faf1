"""``python -m uqcore recommend``: each bundled model's recommended setting, the one the dashboard's
Explore page opens on (the card's ``measured.recommended``).

    python -m uqcore recommend [--sweeps docs/results_sweeps.csv] [--write]
        training-free models: uqcore.datasets.sweep.best_setting over the paper run's tolerability
        sweeps on the calibration split (what reproduce wrote to docs/results_sweeps.csv): the
        highest pixel correlation within a 5 % loss increase, the better of infer-noise and
        infer-dropout; baseline models (MC-dropout, ensemble, likelihood heads): their own method
    python -m uqcore recommend --sweep --model esrgan-thick [--crop 128] [--write]
        one model's sweeps with the paper run's protocol (uqcore.paper defaults) without running all
        of reproduce (a model added after the last reproduce): its rows go to --out (CSV) and, with
        --write, to the card's measured.tolerability as well
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

BASELINES = (("mc_dropout", "srresnet-mcdrop"), ("ensemble", "srresnet-ens"), ("llm", "srresnet-llm"),
             ("llm", "srresnet-llm-head"))  # (method, model): a baseline model recommends its own method
FIELDS = ("method", "layer", "strength", "samples", "loss_increase", "corr_pixel")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sweeps", type=Path, default=Path("docs/results_sweeps.csv"),
                        help="the sweep rows (default docs/results_sweeps.csv, written by reproduce)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="loss increase allowed (default 0.05)")
    parser.add_argument("--sweep", action="store_true", help="run one model's sweeps first (--model)")
    parser.add_argument("--model", default=None, help="--sweep: the bundled model")
    parser.add_argument("--crop", type=int, default=None, help="--sweep: HR centre crop (default the paper run's)")
    parser.add_argument("--out", type=Path, default=None, help="--sweep: CSV of its rows (default runs/sweeps_MODEL.csv)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--write", action="store_true", help="record the settings in the cards")


def run(args: argparse.Namespace) -> int:
    from uqcore.models.card import read_card
    from uqcore.models.registry import MODELS_DIR

    if args.sweep:
        if not args.model:
            print("--sweep needs --model", file=sys.stderr)
            return 2
        settings, extra = _one_sweep(args)
    else:
        settings, extra = _from_csv(args, MODELS_DIR), {}
    for model, (setting, command) in settings.items():
        print(f"{model}: {setting}")
        if args.write:
            card = read_card(MODELS_DIR / f"{model}.json")
            card.set_measured("recommended", setting, command=command)
            if model in extra:
                card.set_measured("tolerability", extra[model], command=command)
            card.save()
    return 0


def _from_csv(args: argparse.Namespace, models: Path) -> dict[str, tuple[dict[str, Any], str]]:
    from uqcore.datasets.sweep import best_setting, read_sweep_rows

    command = "python -m uqcore recommend" + ("" if args.sweeps == Path("docs/results_sweeps.csv")
                                              else f" --sweeps {args.sweeps}") + " --write"
    source = (f"python -m uqcore reproduce: tolerability sweeps on the calibration split ({args.sweeps}), highest "
              f"pixel correlation within a {args.tolerance:.0%} loss increase")
    rows = read_sweep_rows(args.sweeps)
    found = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        setting = best_setting([r for r in rows if r["model"] == model], args.tolerance)
        if setting and (models / f"{model}.json").exists():
            found[model] = ({**setting, "source": source}, command)
    for method, model in BASELINES:
        if (models / f"{model}.json").exists():
            found[model] = ({"method": method, "samples": 8, "source": "the model's own baseline method"}, command)
    return found


def _one_sweep(args: argparse.Namespace) -> tuple[dict[str, tuple[dict[str, Any], str]], dict[str, dict]]:
    import torch

    from uqcore.datasets.sweep import best_setting, default_layers, read_sweep_rows, sweep
    from uqcore.models.registry import load_model
    from uqcore.paper.report import Settings
    from uqcore.paper.run import load_sr_split

    torch.set_num_threads(max(1, args.threads))
    s = Settings() if args.crop is None else Settings(sr_crop=args.crop)
    model = load_model(args.model, student=False)
    split = load_sr_split(s.sr_data, model.scale, s.sr_crop, s.sr_limit, s.sr_calibration, s.seed)
    names, cal = split.part("cal")
    xs, ts = [p[0] for p in cal], [p[1] for p in cal]
    layers = default_layers(model, s.sweep_layers)
    rows, t0 = [], time.perf_counter()
    for method, strengths in (("noise", s.noise_strengths), ("dropout", s.dropout_strengths)):
        for r in sweep(model, xs, ts, method=method, layers=layers, strengths=list(strengths),
                       samples=s.sweep_samples, seed=s.seed):
            rows.append({**r, "model": args.model})
            print({k: r[k] for k in FIELDS}, flush=True)
    seconds = time.perf_counter() - t0
    out = args.out or Path("runs") / f"sweeps_{args.model}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    setting = best_setting(read_sweep_rows(out), s.tolerance)
    if setting is None:
        return {}, {}
    command = f"python -m uqcore recommend --sweep --model {args.model}" + (
        f" --crop {args.crop}" if args.crop else "") + " --write"
    setting["source"] = (f"the paper run's sweep protocol on the calibration split ({', '.join(names)}, HR centre crop "
                         f"{s.sr_crop} px), highest pixel correlation within a {s.tolerance:.0%} loss increase")
    tolerability = {"rows": [{k: (round(r[k], 5) if isinstance(r[k], float) else r[k]) for k in FIELDS} for r in rows],
                    "images": names, "seconds": round(seconds, 1), "threads": torch.get_num_threads()}
    return {args.model: (setting, command)}, {args.model: tolerability}
