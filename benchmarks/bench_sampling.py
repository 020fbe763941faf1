"""Time ``uqcore.estimate`` against the limit and against a naive per-sample loop, in one run.

The **limit** is what any exact method must at least pay for the samples the engine draws: the
same forward passes of the *unperturbed* model, at the engine's batch sizes, channels-last, under
``torch.inference_mode``, with nothing else -- no perturbation, hooks' draws, moments, checks or
copies. Where the engine reuses the prefix (the network before the perturbed layer runs once per
chunk at batch 1 and branches into the chunk's samples there), the limit branches at the same
layer, so it is "the forward passes, less what prefix reuse saves". The batch sizes are observed
on the engine itself (a pre-hook on the network and a hook on the perturbed layer), so the limit
follows whatever chunking the engine chose. Both sides include the unperturbed pass.
``engine/limit`` is the engine's own overhead: 1.10 means 10 %.

The **draws** are the random numbers an exact method cannot skip: per sample, from its own seeded
generator, one Gaussian (noise) or uniform (dropout, MC-dropout masks) number per element of each
perturbed layer's output, drawn on one thread in one call with nothing else (plain draws, as
before they were keyed to positions; the ``keyed draws`` column times the engine's position-keyed
blocks, copied into place, for comparison). ``engine/(limit+draws)`` is the
overhead beyond forward passes *and* draws: at a layer near the output, where all that follows is
one small convolution, the draws cost more than the rest of the network, so ``engine/limit``
cannot come near 1 there for any exact method, while this ratio still can.

The **naive loop** is what the paper's code does: one full forward pass per sample at batch 1
(``torch.no_grad``, default memory format), the perturbation added by a plain forward hook, the
samples' mean/variance taken at the end; the last column checks it gives the engine's map (same
per-sample seeds).

Cases (the bundled ``srresnet``, else the same architecture with random weights; ``srresnet-mcdrop``
for MC-dropout): transform; noise and dropout at an early, a middle and a late layer; MC-dropout.
16 samples, a 128x128 LR input. Each time is the best of ``--repeats`` runs that alternate
limit / engine / naive, so load from other processes (this 2-core machine is shared) hits all
three alike and the best run is the least disturbed one. The last line is
``maximum engine/limit: X``, after ``maximum engine/(limit+draws): Y``.

    python benchmarks/bench_sampling.py [--device cpu|cuda] [--samples 16] [--repeats 3] [--threads N]
    python benchmarks/bench_sampling.py --model fcrn --every-layer   # the depth model, every candidate layer
    python benchmarks/bench_sampling.py --smoke     # tiny random network, 2 samples (the CI test)
    python benchmarks/bench_sampling.py --profile "noise @ upsample.5"   # where the engine's extra time goes
    python benchmarks/bench_sampling.py --only transform --pass-pixels 1000000000   # batched passes (A/B)

``--profile CASE`` runs torch's profiler over one limit run and one engine run of that case and
prints the operators whose time differs most (self CPU seconds, limit vs engine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uqcore.engine.estimate  # noqa: E402  (binds uqcore; the module is used below)
from uqcore.engine.layers import candidate_layers  # noqa: E402
from uqcore.engine.model import DROPOUT_TYPES  # noqa: E402
from uqcore.models.srresnet import SRResNet  # noqa: E402
from uqcore.engine import positions  # noqa: E402
from uqcore.engine.perturb import apply_transform, default_transforms, invert_transform, sample_seed  # noqa: E402

NOISE, DROPOUT = 0.05, 0.1  # noise std and dropout rate of the layer cases


def load_srresnet() -> tuple[uqcore.UQModel, str]:
    if "srresnet" in uqcore.list_models():
        return uqcore.load_model("srresnet"), "bundled srresnet"
    torch.manual_seed(0)
    return uqcore.wrap(SRResNet(scale=4), task="sr", scale=4, name="srresnet-random"), "SRResNet, random weights"


def load_mcdrop() -> uqcore.UQModel:
    if "srresnet-mcdrop" in uqcore.list_models():
        return uqcore.load_model("srresnet-mcdrop")
    torch.manual_seed(0)
    return uqcore.wrap(SRResNet(scale=4, dropout_p=0.1, dropout_at=3), task="sr", scale=4, name="mcdrop-random")


def set_up(args) -> tuple:
    """The set-up bench_sampling and bench_peers share: threads, device, the models (tiny ones with
    ``--smoke``, which also shrinks samples, size and repeats) and the seeded input; returns
    (model, MC-dropout model, label, x, device, device name)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = uqcore.engine.estimate.resolve_device(args.device)
    if args.smoke:
        (model, mc), label = tiny_models(), "tiny SRResNet (smoke test)"
        args.samples, args.size, args.repeats = 2, 16, 1
    elif getattr(args, "model", "srresnet") == "fcrn":
        model = mc = uqcore.load_model("fcrn")
        label = "bundled fcrn"
    else:
        (model, label), mc = load_srresnet(), load_mcdrop()
    x = torch.rand((1, 3, args.size, args.size), generator=torch.Generator().manual_seed(0)).to(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    return model, mc, label, x, device, name


def tiny_models() -> tuple[uqcore.UQModel, uqcore.UQModel]:
    """The smoke test's networks: the bundled architecture, tiny, random weights."""
    torch.manual_seed(0)
    plain = uqcore.wrap(SRResNet(scale=2, n_feats=8, n_blocks=3), task="sr", scale=2, name="tiny")
    torch.manual_seed(0)
    mc = uqcore.wrap(SRResNet(scale=2, n_feats=8, n_blocks=3, dropout_p=0.2, dropout_at=1), task="sr", scale=2,
                     name="tiny-mcdrop")
    return plain, mc


def cases(model: uqcore.UQModel, mc: uqcore.UQModel, every_layer: bool = False
          ) -> list[tuple[uqcore.UQModel, str, str | None, float | None]]:
    """(model, method, layer, strength): transform; noise and dropout at an early, a middle and a
    late layer (the first candidate block, the middle one, the last leaf before the output) or,
    with ``every_layer``, at every candidate layer (uqcore.engine.layers.candidate_layers) and the
    late one; MC-dropout where the model has dropout."""
    blocks = candidate_layers(model)
    leaves = [info.name for info in uqcore.list_layers(model)
              if not any(True for _ in dict(model.module.named_modules())[info.name].children())]
    late = leaves[-2]  # the last leaf's input: all that follows is the output layer
    layers = blocks + [late] if every_layer else [blocks[0], blocks[len(blocks) // 2], late]
    out = [(model, "transform", None, None)]
    for method, strength in (("noise", NOISE), ("dropout", DROPOUT)):
        out += [(model, method, layer, strength) for layer in dict.fromkeys(layers)]
    has_dropout = any(isinstance(m, DROPOUT_TYPES) and getattr(m, "p", 0) > 0 for m in mc.module.modules())
    return out + ([(mc, "mc_dropout", None, None)] if has_dropout else [])


def perturbed_module(module: nn.Module, method: str, layer: str | None) -> nn.Module | None:
    if method == "mc_dropout":
        return next(m for m in module.modules() if isinstance(m, DROPOUT_TYPES))
    return dict(module.named_modules())[layer] if layer else None


# -- the limit -------------------------------------------------------------------------------------
def engine_schedule(module, run_engine) -> list[tuple[int, int]]:
    """(input batch, output batch) of every forward pass one engine call makes: an input at
    batch 1 with k outputs is a pass that reused the prefix and branched into k samples."""
    calls: list[tuple[int, int]] = []
    handle = module.register_forward_hook(lambda _m, inputs, out: calls.append((inputs[0].shape[0], out.shape[0])))
    try:
        run_engine()
    finally:
        handle.remove()
    return calls


def perturbed_shapes(module, method: str, target, x) -> list[tuple[int, ...]]:
    """One sample's shape of each output the method perturbs (the layer's; every dropout layer's
    for MC-dropout), from one unperturbed pass; none for transform."""
    if method == "transform":
        return []
    layers = [m for m in module.modules() if isinstance(m, DROPOUT_TYPES)] if method == "mc_dropout" else [target]
    shapes: list[tuple[int, ...]] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:]))) for m in layers]
    try:
        with torch.inference_mode():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return shapes


def run_draws(method: str, shapes, samples: int, device, keyed: bool = False) -> None:
    """The draws alone, on one thread: per sample one number per perturbed element. Plain: from
    the sample's own seeded generator in one call (what any exact per-sample-seeded method pays);
    ``keyed``: in the engine's seeded blocks of the layer's grid (uqcore.engine.positions), copied
    into place."""
    sampler = torch.randn if method == "noise" else torch.rand
    with torch.inference_mode():
        for i in range(samples):
            for shape in shapes:
                row = torch.empty(shape, device=device)
                if keyed and row.dim() == 3:
                    positions.fill_row(row, sample_seed(0, i), 0, (0, 0), sampler)
                elif keyed:
                    positions.fill_flat(row, sample_seed(0, i), 0, sampler)
                else:
                    sampler(shape, generator=torch.Generator(device=device).manual_seed(sample_seed(0, i)), out=row)


def run_limit(module, x, target, schedule) -> None:
    """The engine's forward passes on the unperturbed model: same batches, channels-last, and a
    plain branch (a copy of the batch-1 features into k samples) where the engine reuses the prefix."""
    with torch.inference_mode():
        for batch, branched in schedule:
            if batch == 1 and branched > 1:
                def branch(_m, _i, out, k=branched):
                    return out.expand(k, *out.shape[1:]).contiguous(memory_format=torch.channels_last)

                handle = target.register_forward_hook(branch)
                try:
                    module(x)
                finally:
                    handle.remove()
            else:
                module(x.expand(batch, *x.shape[1:]).contiguous(memory_format=torch.channels_last))


# -- the naive loop --------------------------------------------------------------------------------
def naive(module, x, method, target, strength, samples, seed, task="sr"):
    """Batch-1 loop: one forward per sample; returns the variance map. Transform cycles through the
    task's transforms (SR: the 8 dihedral ones; depth: identity and flip): a transform drawn twice
    leaves the variance as it is, so it matches the engine's map of each transform once."""
    names = default_transforms(task)
    outs = []
    with torch.no_grad():
        module(x)  # the prediction, as the engine also computes it
        for i in range(samples):
            if method == "transform":
                name = names[i % len(names)]
                outs.append(invert_transform(module(apply_transform(x, name)), name))
                continue
            rate = float(target.p) if method == "mc_dropout" else strength

            def hook(_m, _i, out, s=sample_seed(seed, i), rate=rate):
                # the engine's draws (uqcore.engine.positions: 32x32 blocks of the layer's grid, seeded
                # by sample, layer and block), for the whole layer at once
                draws = torch.empty(out.shape[1:], device=out.device)
                positions.fill_row(draws, s, 0, (0, 0), torch.randn if method == "noise" else torch.rand)
                if method == "noise":
                    return out + rate * draws[None]
                keep = (draws >= rate).to(out.dtype)
                return out * keep[None] / (1 - rate)

            handle = target.register_forward_hook(hook)
            try:
                outs.append(module(x))
            finally:
                handle.remove()
    return torch.cat(outs).var(0, unbiased=False).mean(0)


def timed(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def profile_case(module, xc, target, schedule, run_engine, top: int = 10) -> None:
    """Operators by self CPU time, the limit against the engine, largest difference first."""
    from torch.profiler import ProfilerActivity, profile

    def ops(fn) -> dict[str, float]:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        return {e.key: e.self_cpu_time_total / 1e6 for e in prof.key_averages()}

    limit, engine = ops(lambda: run_limit(module, xc, target, schedule)), ops(run_engine)
    keys = sorted(set(limit) | set(engine), key=lambda k: limit.get(k, 0.0) - engine.get(k, 0.0))
    print(f"| operator | limit s | engine s | engine - limit |\n|---|---:|---:|---:|")
    for k in keys[:top]:
        print(f"| {k} | {limit.get(k, 0.0):.3f} | {engine.get(k, 0.0):.3f} | {engine.get(k, 0.0) - limit.get(k, 0.0):+.3f} |")
    print(f"| all operators | {sum(limit.values()):.3f} | {sum(engine.values()):.3f} | "
          f"{sum(engine.values()) - sum(limit.values()):+.3f} |")


def describe(schedule: list[tuple[int, int]]) -> str:
    """The engine's sample passes, e.g. "4x b4" or "4x b1>4 (prefix)"; the unperturbed pass left out."""
    passes = schedule[1:]
    groups: list[list] = []
    for batch, branched in passes:
        label = f"b1>{branched} (prefix)" if batch == 1 and branched > 1 else f"b{batch}"
        if groups and groups[-1][1] == label:
            groups[-1][0] += 1
        else:
            groups.append([1, label])
    return " + ".join(f"{n}x {label}" for n, label in groups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=None, help="input side (default: 128 for srresnet, 256 for fcrn)")
    parser.add_argument("--model", choices=("srresnet", "fcrn"), default="srresnet")
    parser.add_argument("--every-layer", action="store_true",
                        help="noise and dropout at every candidate layer, not only an early, a middle and a late one")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--smoke", action="store_true", help="tiny random network, 2 samples, 16x16, 1 repeat")
    parser.add_argument("--profile", metavar="CASE", help='profile one case instead, e.g. "noise @ upsample.5"')
    parser.add_argument("--only", metavar="CASE", help='time this case only, e.g. "transform"')
    parser.add_argument("--pass-pixels", type=int, default=None,
                        help="set uqcore.engine.estimate.CPU_PASS_PIXELS (transform batches its passes up to this many "
                             "output pixels on CPU; a huge value batches as before)")
    args = parser.parse_args(argv)
    args.size = args.size or (256 if args.model == "fcrn" else 128)
    if args.pass_pixels is not None:
        uqcore.engine.estimate.CPU_PASS_PIXELS = args.pass_pixels
    model, mc, label, x, device, name = set_up(args)
    print(f"model: {label} (MC-dropout: {mc.name}); input 1x3x{args.size}x{args.size}; {args.samples} samples; "
          f"device: {name}; best of {args.repeats} alternating runs")
    if not args.profile:
        print("| case | engine passes | limit s | draws s | keyed draws s | engine s | engine/limit | "
              "engine/(limit+draws) | naive s | naive/engine | max abs diff |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratios, beyond_draws = [], []
    for case_model, method, layer, strength in cases(model, mc, args.every_layer):
        case = method if layer is None else f"{method} @ {layer}"
        if (args.profile or args.only) and case != (args.profile or args.only):
            continue
        module = case_model.module_on(device)
        target = perturbed_module(module, method, layer)
        xc = x.contiguous(memory_format=torch.channels_last)

        def run_engine():
            return uqcore.estimate(case_model, x, method=method, layer=layer, strength=strength,
                                   samples=args.samples, seed=0, device=device)

        est = run_engine()  # warm-up
        schedule = engine_schedule(module, run_engine)
        ref = naive(module, x, method, target, strength, args.samples, 0, case_model.task)  # warm-up and the results check
        run_limit(module, xc, target, schedule)
        shapes = perturbed_shapes(module, method, target, xc)
        diff = float((ref.cpu() - est.variance).abs().max())
        if args.profile:
            return profile_case(module, xc, target, schedule, run_engine) or 0
        times: dict[str, list[float]] = {"limit": [], "draws": [], "keyed": [], "engine": [], "naive": []}
        for _ in range(args.repeats):
            times["limit"].append(timed(lambda: run_limit(module, xc, target, schedule)))
            times["draws"].append(timed(lambda: run_draws(method, shapes, args.samples, device)) if shapes else 0.0)
            times["keyed"].append(timed(lambda: run_draws(method, shapes, args.samples, device, keyed=True))
                                  if shapes else 0.0)
            times["engine"].append(timed(run_engine))
            times["naive"].append(timed(lambda: naive(module, x, method, target, strength, args.samples, 0, case_model.task)))
        lim, drw, key, eng, nai = (min(times[k]) for k in ("limit", "draws", "keyed", "engine", "naive"))
        ratios.append(eng / lim)
        beyond_draws.append(eng / (lim + drw))
        print(f"| {case} | {describe(schedule)} | {lim:.3f} | {drw:.3f} | {key:.3f} | {eng:.3f} | {eng / lim:.2f} | "
              f"{eng / (lim + drw):.2f} | {nai:.3f} | {nai / eng:.2f} | {diff:.1e} |", flush=True)
    if not ratios:
        raise SystemExit(f"no case {args.profile or args.only!r}")
    print(f"maximum engine/(limit+draws): {max(beyond_draws):.2f}")
    print(f"maximum engine/limit: {max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
