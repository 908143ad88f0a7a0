"""What a Pix2PixHD generator costs next to the Pix2Pix U-Net: parameters, GFLOP per 512x512 tile
and translate throughput, measured in the same run.

For each family's paper configuration and CPU recipe: parameters of G (and of D), GFLOP of one
forward pass on a 512x512 3-band tile (``torch.utils.flop_counter``: 2 FLOP per multiply-add, convs
and transposed convs), and generator throughput in translate's setting (eval mode, the inference
device plan: bf16 autocast + channels_last on a CPU with native bf16, float32 otherwise or with
``--no-amp``), batches of 512x512 tiles, rounds interleaved across models so machine noise hits
them alike. Prints tiles/s and megapixels/s of each, and each model's throughput relative to the
paper U-Net's.

    .venv/bin/python bench/hd_cost.py [--batch 2] [--rounds 3] [--no-amp]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from geo_pix2pix.families.base import get_family
from geo_pix2pix.families.pix2pixhd import CPU as HD_CPU
from geo_pix2pix.families.pix2pixhd import PAPER as HD_PAPER
from geo_pix2pix.families.pix2pixhd import HDGeneratorConfig, Pix2PixHDOptions
from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.runtime.device import plan_device
from geo_pix2pix.training.config import CPU_RECIPE

TILE = 512


def hd_config(recipe: dict) -> tuple[HDGeneratorConfig, DiscriminatorConfig]:
    o = Pix2PixHDOptions()
    g = HDGeneratorConfig(ngf=recipe["ngf"], n_downsample=recipe.get("n_downsample", o.n_downsample),
                          n_blocks=recipe.get("n_blocks", o.n_blocks), n_local_enhancers=o.n_local_enhancers,
                          n_blocks_local=recipe.get("n_blocks_local", o.n_blocks_local), norm=recipe["norm"])
    d = DiscriminatorConfig(in_channels=6, ndf=recipe["ndf"], norm=recipe["d_norm"], num_d=o.num_d)
    return g, d


def models() -> dict[str, tuple[torch.nn.Module, torch.nn.Module]]:
    hd = get_family("pix2pixhd")
    out = {}
    torch.manual_seed(0)
    out["pix2pix paper U-Net (ngf 64)"] = (build_generator(GeneratorConfig(tile=TILE, ngf=64)),
                                           build_discriminator(DiscriminatorConfig(in_channels=6, ndf=64)))
    out["pix2pix CPU recipe (ngf 32)"] = (build_generator(GeneratorConfig(tile=TILE, ngf=CPU_RECIPE["ngf"])),
                                          build_discriminator(DiscriminatorConfig(in_channels=6, ndf=32)))
    for name, rec in (("pix2pixhd paper", HD_PAPER), ("pix2pixhd CPU recipe", HD_CPU)):
        g, d = hd_config(dict(rec))
        out[f"{name} (ngf {g.ngf}, {g.n_downsample} down, {g.n_blocks} blocks)"] = (
            hd.build_generator(g), build_discriminator(d))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-amp", action="store_true")
    a = ap.parse_args()
    plan = plan_device("cpu", amp=not a.no_amp, inference=True)
    nets = models()
    x = torch.rand(a.batch, 3, TILE, TILE) * 2 - 1
    flags = " ".join(f for f in ("avx2", "avx512_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpu ({flags}), torch {torch.__version__}; "
          f"translate plan: {plan.describe()}; batch {a.batch} x {TILE}x{TILE}, {a.rounds} rounds (median)")
    gens = {}
    for name, (G, D) in nets.items():
        G.eval()
        with torch.inference_mode(), FlopCounterMode(display=False) as fc:
            G(x[:1])
        gflop = fc.get_total_flops() / 1e9
        n_g = sum(p.numel() for p in G.parameters())
        n_d = sum(p.numel() for p in D.parameters())
        print(f"{name:52s} G {n_g / 1e6:7.2f} M params, D {n_d / 1e6:5.2f} M, {gflop:8.1f} GFLOP per {TILE} tile")
        G = G.to(memory_format=torch.channels_last) if plan.channels_last else G
        gens[name] = G
    times: dict[str, list[float]] = {k: [] for k in gens}
    xin = x.contiguous(memory_format=torch.channels_last) if plan.channels_last else x
    amp = plan.autocast()
    for _ in range(a.rounds):
        for name, G in gens.items():
            with torch.inference_mode():
                ctx = amp() if amp is not None else torch.autocast("cpu", enabled=False)
                with ctx:
                    G(xin)  # warm-up
                    t = time.perf_counter()
                    G(xin)
                    times[name].append(time.perf_counter() - t)
    base = float(np.median(times[next(iter(times))]))
    for name, ts in times.items():
        med = float(np.median(ts))
        print(f"  {name:52s} {a.batch / med:7.3f} tiles/s  {a.batch * TILE * TILE / med / 1e6:6.2f} Mpx/s  "
              f"speed vs paper U-Net {base / med:5.2f}x")


if __name__ == "__main__":
    main()
