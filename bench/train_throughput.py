"""Training throughput: geopix's step vs a plain eager PyTorch pix2pix, in the same run.

Three measurements, interleaved round by round so machine noise hits all of them alike:
  baseline  a plain eager pix2pix step written out as in the reference implementation
            (forward G; D on fake/real with the loss halved; G with GAN + 100 * L1), same
            architecture (paper U-Net + 70x70 PatchGAN), batch and tile, on pre-made tensors;
  geopix    geopix's gan_step as ``geopix train`` runs it on this machine (the device plan's
            precision: bf16 autocast on a CPU with native bf16, float32 otherwise; fused Adam),
            with batches from the tiler's dataset reading a real GeoTIFF through a DataLoader;
  premade   geopix's gan_step on pre-made batches (how much the loader costs the step).
  compiled  (``--compile``) geopix's gan_step with G and D under ``torch.compile``, as ``geopix
            train --compile`` runs it, on pre-made batches; compilation happens in the first
            round's warm-up step and is timed separately (what a run must repay).
Prints samples/s of each and the ratios geopix/baseline and premade/geopix step time.

    .venv/bin/python bench/train_throughput.py [--tile 256] [--batch 1] [--steps 8] [--ngf 64]
                                               [--workers 0] [--no-amp] [--compile]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.runtime.device import DevicePlan, plan_device
from geo_pix2pix.tiles.pairs.dataset import PairWindowDataset
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.tiles.pairs.prepare import TilerConfig, prepare_pair
from geo_pix2pix.tiles.pairs.split import SplitConfig
from geo_pix2pix.training.batches import StepBatchSampler
from geo_pix2pix.training.objective import Batch, Networks, Objective
from geo_pix2pix.training.step import Optimisers, gan_step, make_optimisers, place

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"


def make_models(tile: int, ngf: int) -> tuple[Networks, Optimisers]:
    """The baseline's models: as the reference builds them (float32, default Adam; the PatchGAN as
    a plain ``nn.Sequential`` returning its logits)."""
    torch.manual_seed(0)
    G = build_generator(GeneratorConfig(tile=tile, ngf=ngf))
    D = build_discriminator(DiscriminatorConfig(in_channels=6, ndf=64)).scales[0].model
    return Networks(G, D), Optimisers(torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
                                      torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)))


def geopix_models(tile: int, ngf: int, plan: DevicePlan) -> tuple[Networks, Optimisers]:
    torch.manual_seed(0)
    G = place(build_generator(GeneratorConfig(tile=tile, ngf=ngf)), plan)
    D = place(build_discriminator(DiscriminatorConfig(in_channels=6, ndf=64)), plan)
    return Networks(G, D), make_optimisers(G, D, plan, 2e-4, (0.5, 0.999))


def compiled_models(tile: int, ngf: int, plan: DevicePlan, batch: Batch, w: Objective,
                    amp: Any) -> tuple[Networks, Optimisers]:
    """geopix's networks under ``torch.compile`` (as ``geopix train --compile``), compiled by two
    steps whose time is printed: what a run has to repay."""
    import dataclasses

    nets, opts = geopix_models(tile, ngf, plan)
    nets = dataclasses.replace(nets, G=torch.compile(nets.G), D=torch.compile(nets.D))
    t = time.perf_counter()
    gan_step(nets, opts, batch, w, amp)
    gan_step(nets, opts, batch, w, amp)  # a second call: any recompilation
    print(f"torch.compile: first two steps took {time.perf_counter() - t:.1f} s", flush=True)
    return nets, opts


def plain_step(G: nn.Module, D: nn.Module, oG, oD, real_A, real_B) -> None:  # noqa: ANN001
    """The reference implementation's optimize_parameters, written plainly."""
    bce = nn.BCEWithLogitsLoss()
    fake_B = G(real_A)
    for p in D.parameters():
        p.requires_grad = True
    oD.zero_grad()
    pred_fake = D(torch.cat((real_A, fake_B), 1).detach())
    pred_real = D(torch.cat((real_A, real_B), 1))
    loss_D = (bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real))) * 0.5
    loss_D.backward()
    oD.step()
    for p in D.parameters():
        p.requires_grad = False
    oG.zero_grad()
    pred_fake = D(torch.cat((real_A, fake_B), 1))
    loss_G = bce(pred_fake, torch.ones_like(pred_fake)) + nn.functional.l1_loss(fake_B, real_B) * 100
    loss_G.backward()
    oG.step()


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--workers", type=int, default=0,
                    help="loader worker processes (0, geopix's CPU default: load in the training process)")
    ap.add_argument("--no-amp", action="store_true", help="geopix in float32 too")
    ap.add_argument("--compile", action="store_true", help="also time geopix's step under torch.compile")
    ap.add_argument("--channels-last", action="store_true",
                    help="geopix trains in channels_last (the default plan trains in the default layout on a CPU)")
    return ap.parse_args()


def _loader(a: argparse.Namespace) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of the Houston pair's windows through geopix's own dataset and sampler."""
    spec = PairSpec(str(DATA / "houston_sat.tif"), str(DATA / "houston_map.tif"))
    prep = prepare_pair(spec, TilerConfig(tile=a.tile, split=SplitConfig(val_fraction=0.0)))
    ds = PairWindowDataset([prep.spec], prep.train, prep.imagery_stats, prep.map_stats)
    total = a.steps * a.rounds + a.rounds * 2
    return iter(torch.utils.data.DataLoader(
        ds, batch_sampler=StepBatchSampler([len(prep.train)], [1.0], a.batch, 0, 0, total),
        num_workers=a.workers, prefetch_factor=4 if a.workers else None))


def _timed(fn: Callable[[], object], steps: int) -> float:
    """Seconds for ``steps`` calls of ``fn``, after one untimed warm-up call."""
    fn()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - t


def _report(a: argparse.Namespace, plan: Any, times: dict[str, list[float]]) -> None:
    sps = {k: a.steps * a.batch / float(np.median(v)) for k, v in times.items()}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpu, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; python {sys.version.split()[0]}")
    print(f"geopix runs on {plan.describe()}, fused Adam; baseline float32, default Adam")
    print(f"config: unet ngf {a.ngf}, PatchGAN 70x70, tile {a.tile}, batch {a.batch}, "
          f"{a.steps} steps x {a.rounds} rounds (median), loader workers {a.workers}")
    for k, v in sps.items():
        print(f"  {k:9s} {v:8.3f} samples/s")
    print(f"ratio geopix / plain eager baseline (samples/s): {sps['geopix'] / sps['baseline']:.3f}")
    print(f"ratio step time real loader / pre-made batches:  {sps['premade'] / sps['geopix']:.3f}")
    if "compiled" in sps:
        print(f"ratio compiled / eager geopix step (pre-made batches): {sps['compiled'] / sps['premade']:.3f}")
        print(f"ratio compiled geopix / plain eager baseline: {sps['compiled'] / sps['baseline']:.3f}")


def main() -> None:
    a = _args()
    plan = plan_device("cpu", amp=not a.no_amp)
    if a.channels_last:
        import dataclasses

        plan = dataclasses.replace(plan, channels_last=True)
    loader = _loader(a)
    fixed = next(loader)
    A, B, V = fixed["imagery"], fixed["maps"], fixed["valid"]
    if plan.channels_last:
        A, B = A.contiguous(memory_format=torch.channels_last), B.contiguous(memory_format=torch.channels_last)

    (base, bopt), (geo, gopt) = make_models(a.tile, a.ngf), geopix_models(a.tile, a.ngf, plan)
    amp, w = plan.autocast(), Objective()

    def from_loader() -> None:
        b = next(loader)
        gan_step(geo, gopt, Batch(b["imagery"], b["maps"], b["valid"]), w, amp)

    steps: dict[str, Callable[[], object]] = {
        "baseline": lambda: plain_step(base.G, base.D, bopt.G, bopt.D, A, B),
        "geopix": from_loader,
        "premade": lambda: gan_step(geo, gopt, Batch(A, B, V), w, amp)}
    if a.compile:
        compiled = compiled_models(a.tile, a.ngf, plan, Batch(A, B, V), w, amp)
        steps["compiled"] = lambda: gan_step(*compiled, Batch(A, B, V), w, amp)
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(a.rounds):
        for k, fn in steps.items():
            times[k].append(_timed(fn, a.steps))
    _report(a, plan, times)


if __name__ == "__main__":
    main()
