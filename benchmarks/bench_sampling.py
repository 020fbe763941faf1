"""Time ``uqcore.estimate`` against a naive per-sample loop, in one run, and print the ratios.

The naive loop is what the paper's code does: one full forward pass per sample at batch 1
(``torch.no_grad``, default memory format), the perturbation added by a plain forward hook, and
the samples' mean/variance taken at the end. Both sides compute the unperturbed output too.
Cases: transform, and noise / dropout at an early, a middle and a late layer, 16 samples, on a
SRResNet-shaped x4 network (the bundled ``srresnet`` when present, else the same architecture
with random weights) and a 128x128 LR input. Timings alternate naive/engine ``--repeats`` times
and keep the median of each, so load from other processes hits both sides alike.

    python benchmarks/bench_sampling.py [--device cpu|cuda] [--samples 16] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uqcore  # noqa: E402
from uqcore.perturb import DIHEDRAL, apply_transform, invert_transform, sample_seed  # noqa: E402


def load_srresnet() -> tuple[uqcore.UQModel, str]:
    if "srresnet" in uqcore.list_models():
        return uqcore.load_model("srresnet"), "bundled srresnet"
    from uqcore.models.srresnet import SRResNet

    torch.manual_seed(0)
    return uqcore.wrap(SRResNet(scale=4), task="sr", scale=4, name="srresnet-random"), "SRResNet, random weights"


def naive(module, x, method, layer, strength, samples, seed):
    """Batch-1 loop: one forward per sample; returns the variance map."""
    outs = []
    with torch.no_grad():
        outs_original = module(x)  # the prediction, as the engine also computes it
        del outs_original
        target = dict(module.named_modules()).get(layer)
        for i in range(samples):
            if method == "transform":
                name = list(DIHEDRAL)[i % len(DIHEDRAL)]  # 16 samples = each transform twice
                outs.append(invert_transform(module(apply_transform(x, name)), name))
                continue
            gen = torch.Generator(device=x.device).manual_seed(sample_seed(seed, i))

            def hook(_m, _i, out, gen=gen):
                if method == "noise":
                    return out + strength * torch.randn(out.shape[1:], generator=gen, device=out.device)[None]
                keep = (torch.rand(out.shape[1:], generator=gen, device=out.device) >= strength).to(out.dtype)
                return out * keep[None] / (1 - strength)

            handle = target.register_forward_hook(hook)
            try:
                outs.append(module(x))
            finally:
                handle.remove()
    stacked = torch.cat(outs)
    return stacked.var(0, unbiased=False).mean(0)


def timed(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = uqcore.sampler.resolve_device(args.device)
    model, label = load_srresnet()
    module = model.module_on(device)
    x = torch.rand((1, 3, args.size, args.size), generator=torch.Generator().manual_seed(0)).to(device)
    layers = [info.name for info in uqcore.list_layers(model) if info.name.startswith(("head", "body.", "upsample."))]
    blocks = [n for n in layers if n.count(".") == 1 and n.startswith("body.")]
    early, middle = blocks[0], blocks[len(blocks) // 2]
    late = [n for n in layers if n.startswith("upsample.")][-1]
    cases = [("transform", None, None)]
    for method, strength in (("noise", 0.05), ("dropout", 0.1)):
        cases += [(method, layer, strength) for layer in (early, middle, late)]

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"model: {label}; input 1x3x{args.size}x{args.size}; {args.samples} samples; device: {name}; "
          f"median of {args.repeats} alternating runs")
    print("| case | naive s | engine s | ratio naive/engine | max abs diff of variance |")
    print("|---|---:|---:|---:|---:|")
    ratios = []
    for method, layer, strength in cases:
        def run_engine():
            return uqcore.estimate(model, x, method=method, layer=layer, strength=strength,
                                   samples=args.samples, seed=0, device=device)

        def run_naive():
            return naive(module, x, method, layer, strength, args.samples, 0)

        ref, est = run_naive(), run_engine()  # warm-up, and the results check
        diff = float((ref.cpu() - est.variance).abs().max())
        naive_t, engine_t = [], []
        for _ in range(args.repeats):
            naive_t.append(timed(run_naive))
            engine_t.append(timed(run_engine))
        n, e = statistics.median(naive_t), statistics.median(engine_t)
        ratios.append(n / e)
        case = method if layer is None else f"{method} @ {layer}"
        print(f"| {case} | {n:.3f} | {e:.3f} | {n / e:.2f} | {diff:.1e} |", flush=True)
    print(f"minimum ratio naive/engine: {min(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
