"""The GPU check's figures (``bench/gpu_check.py`` runs them): training samples/s, translate end to
end against the generator alone, torchrun weak scaling. Each prints its figures as it goes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from gpu_check import DATA, Report, Sizes, frame_tiles, peak, reset_peak, timed, train


def largest_batch(r: Report, work: Path, device: str, s: Sizes) -> int:
    """The largest probed batch whose training step keeps the GPU under half full (on a CPU: the
    largest probed)."""
    import torch

    best = s.probe[0]
    for b in s.probe:
        if r.left() < 60:
            break
        reset_peak()
        train(work / f"probe{b}", device, s, batch_size=b, steps=3)
        if torch.cuda.is_available():
            used = torch.cuda.max_memory_reserved() / torch.cuda.get_device_properties(0).total_memory
            r.line(f"batch {b}: {used:.0%} of the GPU's memory")
            if used > 0.5:
                break
        best = b
    return best


def check_train_speed(r: Report, work: Path, device: str, s: Sizes) -> None:
    """Samples/s of the paper recipe at batch 1 and at the largest batch, eager and compiled."""
    big = largest_batch(r, work, device, s)
    failed = []
    for compiled in (False, True) if s.compile else (False,):
        for b in (1, big):
            what = f"batch {b}{', --compile' if compiled else ''}"
            if r.left() < (150 if compiled else 30):
                r.line(f"train paper recipe, {what}: skipped, {r.left():.0f} s left")
                continue
            reset_peak()
            t = time.perf_counter()
            try:
                _, rate = train(work / f"speed{b}{int(compiled)}", device, s, batch_size=b, steps=s.bench_steps,
                                compile=compiled)
            except Exception as exc:  # noqa: BLE001 (a failed compile must not hide the other figures)
                failed.append(what)
                r.line(f"train paper recipe, {what}: {type(exc).__name__}: {str(exc).splitlines()[:1]}")
                continue
            r.line(f"train paper recipe, {what}: {rate:.1f} samples/s (steps {s.warmup + 1}-{s.bench_steps}; "
                   f"{time.perf_counter() - t:.0f} s with start-up); peak {peak()}")
    r.result("train throughput", "FAIL" if failed else "PASS", f"({', '.join(failed)} failed)" if failed else "")


def check_translate_speed(r: Report, run: Path, work: Path, device: str, s: Sizes) -> None:
    """Translate end to end against the generator alone on the same tiles, at the check's batch."""
    from translate_throughput import make_raster

    import geo_pix2pix as geopix

    raster = make_raster(work / "big.tif", s.big_side)
    model = geopix.load_model(run, device=device)
    t = time.perf_counter()
    res = model.translate(raster, work / "big_out.tif", tile=s.tile, batch_size=s.translate_batch, overwrite=True)
    e2e = time.perf_counter() - t
    tiles = frame_tiles(raster, model.meta.input_stats, s.tile)
    alone = timed(model._pred, tiles, s.translate_batch)
    r.result("translate throughput", "PASS", f"({s.big_side}x{s.big_side}, {res.tiles} tiles, batch "
             f"{s.translate_batch}, {model._pred.plan.describe()}: end to end {e2e:.1f} s, generator alone "
             f"{alone:.1f} s, ratio {e2e / alone:.2f})")


def check_nccl(r: Report, work: Path, s: Sizes) -> None:
    """Weak scaling under torchrun: the same batch per GPU on 1 and on all GPUs."""
    import torch

    n = torch.cuda.device_count()
    if n < 2:
        r.result("nccl weak scaling", "SKIP", f"({n} GPU)")
        return
    rates = {}
    for procs in (1, n):
        out = work / f"ddp{procs}"
        args = ["--imagery", str(DATA / "houston_sat.tif"), "--maps", str(DATA / "houston_map.tif"), "--out", str(out),
                "--recipe", "paper", "--steps", str(s.bench_steps), "--batch-size", "8", "--val-fraction", "0",
                "--device", "cuda"]
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs),
                        str(Path(__file__).with_name("gpu_check.py")), "geopix", "-q", "train", *args], check=True)
        rates[procs] = 8 * procs * s.bench_steps / (time.perf_counter() - t)
    r.result("nccl weak scaling", "PASS", f"(samples/s with start-up: 1 GPU {rates[1]:.1f}, {n} GPUs {rates[n]:.1f}, "
             f"efficiency {rates[n] / (n * rates[1]):.2f})")

