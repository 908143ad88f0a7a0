"""The reshaped GAN core against the one it replaced: Pix2Pix CPU-recipe step time, same run.

The pre-reshape core (``train_step`` of commit 31e4353, before model families, multi-scale
discriminator outputs and ``gan_step``) is extracted from git into a temporary package
``geo_pix2pix_base`` and imported beside today's ``geo_pix2pix``; both build the same CPU-recipe
networks (U-Net ngf 32 on 64-px tiles, PatchGAN ndf 32, batch 16, L1 400 with edge weight 4) from
the same seed and run the same pre-made batches, round by round interleaved so machine noise hits
both alike. Prints the median step times and today / before (>= 1 means no slower).

    .venv/bin/python bench/core_step.py [--steps 10] [--rounds 5] [--no-amp] [--base 31e4353]
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def extract_base(rev: str, into: Path) -> None:
    """``geo_pix2pix`` and ``tiles`` of ``rev`` as the package ``geo_pix2pix_base`` under ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "geo_pix2pix", "tiles"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    pkg = into / "geo_pix2pix_base"
    (into / "geo_pix2pix").rename(pkg)
    (into / "tiles").rename(pkg / "tiles")
    for f in pkg.rglob("*.py"):
        f.write_text(f.read_text().replace("geo_pix2pix.", "geo_pix2pix_base.").replace(
            "from geo_pix2pix ", "from geo_pix2pix_base "))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-amp", action="store_true")
    ap.add_argument("--base", default="31e4353")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    extract_base(a.base, tmp)
    sys.path.insert(0, str(tmp))
    old_models = importlib.import_module("geo_pix2pix_base.models")
    old_step = importlib.import_module("geo_pix2pix_base.step")
    old_device = importlib.import_module("geo_pix2pix_base.device")

    from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
    from geo_pix2pix.runtime.device import plan_device
    from geo_pix2pix.training.step import Batch, LossWeights, Networks, gan_step, make_optimisers, place

    plan = plan_device("cpu", amp=not a.no_amp)
    old_plan = old_device.plan_device("cpu", amp=not a.no_amp)
    tile, batch = 64, 16
    torch.manual_seed(0)
    G = place(build_generator(GeneratorConfig(tile=tile, ngf=32)), plan)
    D = place(build_discriminator(DiscriminatorConfig(in_channels=6, ndf=32)), plan)
    nets, opts = Networks(G, D), make_optimisers(G, D, plan, 1e-3, (0.5, 0.999))
    weights = LossWeights(l1=400.0, edge=4.0)
    torch.manual_seed(0)
    old = old_step.build_gan(old_models.GeneratorConfig(tile=tile, ngf=32),
                             old_models.DiscriminatorConfig(in_channels=6, ndf=32), old_plan, 1e-3, (0.5, 0.999))
    rng = torch.Generator().manual_seed(1)
    A = torch.rand(batch, 3, tile, tile, generator=rng) * 2 - 1
    B = (torch.rand(batch, 3, tile, tile, generator=rng) > 0.5).float() * 2 - 1
    V = torch.ones(batch, 1, tile, tile, dtype=torch.bool)

    def run_new() -> None:
        gan_step(nets, opts, Batch(A, B, V), weights, plan.autocast())

    def run_old() -> None:
        old_step.train_step(old, A, B, V, 400.0, "vanilla", old_plan.autocast(), 4.0)

    times: dict[str, list[float]] = {"before": [], "today": []}
    for r in range(a.rounds):
        order = (("before", run_old), ("today", run_new)) if r % 2 == 0 else (("today", run_new), ("before", run_old))
        for name, fn in order:
            fn()  # warm-up
            t = time.perf_counter()
            for _ in range(a.steps):
                fn()
            times[name].append((time.perf_counter() - t) / a.steps)
    med = {k: float(np.median(v)) for k, v in times.items()}
    flags = " ".join(f for f in ("avx2", "avx512_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpu ({flags}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {plan.describe()}")
    print(f"CPU recipe step (U-Net ngf 32, tile {tile}, batch {batch}, L1 400 + edge 4), "
          f"{a.steps} steps x {a.rounds} rounds, medians:")
    for k, v in med.items():
        print(f"  {k:7s} {v * 1000:8.1f} ms/step   (rounds: {', '.join(f'{x * 1000:.0f}' for x in times[k])})")
    paired = [b / t for b, t in zip(times["before"], times["today"])]  # each round's pair ran back to back
    print(f"ratio speed today / before (reshaped core / {a.base}): medians {med['before'] / med['today']:.3f}, "
          f"median of per-round ratios {float(np.median(paired)):.3f} (rounds {min(paired):.2f}-{max(paired):.2f})")


if __name__ == "__main__":
    main()
