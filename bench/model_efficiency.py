"""Generator efficiency: achieved GFLOP/s on 256-pixel tiles against this machine's matmul rate.

Measures, in the same run:
  * the float32 (and bfloat16) matrix-multiply rate of this machine (2048x2048 @ 2048x2048),
  * the paper U-Net generator's forward pass (inference mode, eval) on 256x256 tiles, FLOPs
    counted by ``torch.utils.flop_counter`` (multiply-add = 2 FLOPs), in several settings:
    memory layout (contiguous / channels_last), precision (float32 / bf16 autocast), batch size,
    and ``torch.compile``.
Prints GFLOP/s of each and its ratio to the float32 matmul rate. ``geopix translate`` runs the
setting :class:`geo_pix2pix.inference.predict.Predictor` picks (channels_last; bf16 on CPUs with native
bf16), marked with ``*``.

    .venv/bin/python bench/model_efficiency.py [--ngf 64] [--tile 256] [--batches 1 8] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from geo_pix2pix.models import GeneratorConfig, build_generator
from geo_pix2pix.runtime.device import plan_device


def rate(fn, flops: float, min_seconds: float = 3.0) -> float:  # noqa: ANN001
    """GFLOP/s of ``fn`` (after two warm-up calls), timed over at least ``min_seconds``."""
    fn()
    fn()
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < min_seconds or n < 3:
        fn()
        n += 1
    return flops * n / (time.perf_counter() - t) / 1e9


def matmul_rate(dtype: torch.dtype, n: int = 2048) -> float:
    a, b = torch.rand(n, n).to(dtype), torch.rand(n, n).to(dtype)
    return rate(lambda: a @ b, 2.0 * n ** 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    a = ap.parse_args()
    torch.manual_seed(0)
    G = build_generator(GeneratorConfig(tile=a.tile, ngf=a.ngf)).eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        G(torch.zeros(1, 3, a.tile, a.tile))
    per_tile = fc.get_total_flops()
    mm32, mm16 = matmul_rate(torch.float32), matmul_rate(torch.bfloat16)
    plan = plan_device("cpu", inference=True)
    print(f"machine: {os.cpu_count()} cpu, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"unet ngf {a.ngf} on {a.tile}x{a.tile}: {per_tile / 1e9:.2f} GFLOP per tile")
    print(f"matmul 2048^3: float32 {mm32:.1f} GFLOP/s, bfloat16 {mm16:.1f} GFLOP/s")
    print(f"geopix translate runs: {plan.describe()}")
    settings = [("float32", False, False), ("float32", True, False), ("bf16", False, False), ("bf16", True, False)]
    if a.compile:
        settings += [("float32", True, True), ("bf16", True, True)]
    for batch in a.batches:
        x = torch.rand(batch, 3, a.tile, a.tile) * 2 - 1
        for prec, cl, comp in settings:
            fmt = torch.channels_last if cl else torch.contiguous_format
            g = G.to(memory_format=fmt)
            g = torch.compile(g) if comp else g
            xx = x.contiguous(memory_format=fmt)
            amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if prec == "bf16" else contextlib.nullcontext

            def fwd(g=g, xx=xx, amp=amp) -> None:  # this iteration's g, xx and amp, bound now
                with torch.inference_mode(), amp():
                    g(xx)

            r = rate(fwd, per_tile * batch)
            mine = (cl == plan.channels_last and (prec == "bf16") == (plan.amp_dtype is not None) and not comp)
            name = f"{prec:7s} {'channels_last' if cl else 'contiguous':13s}{' compiled' if comp else ''}"
            print(f"{'*' if mine else ' '} batch {batch:2d} {name:32s} {r:7.1f} GFLOP/s = "
                  f"{r / mm32:6.1%} of float32 matmul"
                  + (f", {r / mm16:6.1%} of bf16 matmul" if prec == "bf16" else ""),
                  flush=True)


if __name__ == "__main__":
    main()
