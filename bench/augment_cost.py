"""What the training augmentation costs next to the CPU recipe's step, in the same process.

The CPU recipe's Pix2Pix step (U-Net ngf 32 on 64-px tiles, PatchGAN ndf 32, batch 16, L1 400,
edge weight 4; ``bench/core_step.py``'s scenario) against the augmentation of one batch of
windows (:mod:`geo_pix2pix.training.augment`) with each option alone and all together, round by
round interleaved. Prints medians (wall clock and this process's CPU time) and the ratio
augmentation / step: a share of the step, not an absolute time, since the machine may be shared.

    .venv/bin/python bench/augment_cost.py [--steps 10] [--rounds 5] [--no-amp]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_step import _time, pix2pix  # noqa: E402  (a sibling script, not a package)

from geo_pix2pix.runtime.device import plan_device  # noqa: E402
from geo_pix2pix.training import step as train_step  # noqa: E402
from geo_pix2pix.training.augment import Augment, with_augment  # noqa: E402

TILE, N = 64, 16

VARIANTS = {"colour 1": Augment(colour=1.0), "blur/noise 0.5": Augment(blur_noise=0.5),
            "scale 1.25": Augment(scale=1.25), "all": Augment(colour=1.0, blur_noise=0.5, scale=1.25)}


def windows() -> dict[str, torch.Tensor]:
    """One loader batch of the CPU recipe: 16 windows of 64 px, RGB imagery and map, all valid."""
    g = torch.Generator().manual_seed(1)
    ones = torch.ones(N, 1, TILE, TILE, dtype=torch.bool)
    return {"imagery": torch.rand(N, 3, TILE, TILE, generator=g) * 2 - 1,
            "maps": torch.rand(N, 3, TILE, TILE, generator=g) * 2 - 1,
            "valid": ones, "imagery_valid": ones.clone(), "maps_valid": ones.clone()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-amp", action="store_true")
    a = ap.parse_args()
    plan = plan_device("cpu", amp=not a.no_amp)
    flags = " ".join(f for f in ("avx2", "avx512_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpu ({flags}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {plan.describe()}")
    built = pix2pix(False, plan)
    d = windows()
    counter = iter(range(10 ** 9))

    def augment(aug: Augment) -> Any:
        make = with_augment(lambda w, s, r=0, n=1: w, aug, seed=0)
        return lambda: make(d, next(counter))

    fns = {"step": lambda: train_step.gan_step(*built, plan.autocast()),
           **{k: augment(v) for k, v in VARIANTS.items()}}
    times = _time(fns, a.steps, a.rounds)
    print(f"  {a.steps} steps x {a.rounds} rounds, medians, and the share of the step:")
    for clock in ("wall", "cpu"):
        step = float(np.median(times["step"][clock]))
        for k, v in times.items():
            med = float(np.median(v[clock]))
            print(f"    {clock:4s} {k:15s} {med * 1000:8.2f} ms   {med / step:6.3f} of the step")


if __name__ == "__main__":
    main()
