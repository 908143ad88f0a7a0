"""Scale-out on this machine: torchrun training and sharded translate, each against one process,
measured in the same run.

``train``: samples per second of the Pix2Pix CPU recipe (tile 64, ngf/ndf 32) on the maps256
pairs, one process with 2 threads and batch 16 against ``torchrun --nproc-per-node 2`` with 1
thread and batch 8 per process (the same 16 samples per step), bf16 autocast and float32
(``--no-amp``), alternated ``--repeats`` times. Seconds are the training loop's own (the
checkpoint's ``elapsed``: no start-up, no validation). Then the all-reduce a step costs: the
gradients of G and D (their parameter count, from the run), all-reduced by gloo between the 2
processes in DDP's 25 MB buckets, median of 20. With ``--device cuda --nproc N`` on a GPU machine
the same case measures weak scaling over NCCL: batch 16 per GPU, 1 process on 1 GPU against N
processes on N GPUs, efficiency = samples/s of N / (N x samples/s of 1), and NCCL's all-reduce.

``translate``: an ``--size`` square raster (real imagery mirrored, as bench/translate_throughput.py
makes it) through ``--model``: one ``geopix translate`` with 2 threads, against 2 shards
(``--shard 0/2``, ``1/2``) run at the same time with 1 thread each and then ``geopix merge``; the
merged pixels are checked against the single translate's, and the merge's share of the total is
printed.

    .venv/bin/python bench/scale_out.py train [--steps 100] [--repeats 2] [--device cuda --nproc 8]
    .venv/bin/python bench/scale_out.py translate [--model runs/demo] [--size 8192]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAPS = REPO.parent / "shared" / "data" / "maps256"
PY = sys.executable
GEOPIX = [PY, "-m", "geo_pix2pix.cli.main", "-q"]
TORCHRUN = [PY, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def _env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads)}


def _check(cmd: list, threads: int) -> float:
    t = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], env=_env(threads), cwd=REPO, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def train(a: argparse.Namespace, d: Path) -> None:
    """On CPUs: the same 16 samples a step, 1 process x 2 threads vs 2 x 1 (this machine's cores).
    On GPUs (``--device cuda``): weak scaling, batch 16 per GPU, 1 process vs ``--nproc`` (NCCL);
    efficiency = samples/s of N / (N x samples/s of 1)."""
    import torch

    gpu = a.device.startswith("cuda")
    n = a.nproc
    base = ["train", "--aligned-dir", MAPS, "--steps", a.steps, "--device", a.device, "--val-every", 10**6,
            "--checkpoint-every", 10**6, "--val-pairs", 1]
    torchrun = [*TORCHRUN[:-1], str(n), "-m", "geo_pix2pix.cli.main", "-q"]
    rates: dict[str, list[float]] = {}
    per_step = {"one": 16, "ranks": 16 * n if gpu else 16}
    for rep in range(a.repeats):
        for amp in ("bf16", "fp32"):
            flags = [] if amp == "bf16" else ["--no-amp"]
            for name, cmd, threads in (
                    ("one", [*GEOPIX, *base, "--batch-size", 16], 1 if gpu else n),
                    ("ranks", [*torchrun, *base, "--batch-size", 16 if gpu else 16 // n], 1)):
                run = d / f"{amp}-{name}-{rep}"
                _check([*cmd, *flags, "--out", run], threads)
                elapsed = float(torch.load(run / "checkpoint.pt", weights_only=True)["elapsed"])
                rates.setdefault(f"{amp} {name}", []).append(a.steps * per_step[name] / elapsed)
    label = ({"one": "1 process, 1 GPU, batch 16", "ranks": f"torchrun {n} processes, 1 GPU each, batch 16 each"}
             if gpu else {"one": f"1 process x {n} threads, batch 16",
                          "ranks": f"torchrun {n} processes x 1 thread, batch {16 // n} each"})
    for k, v in rates.items():
        amp, name = k.split()
        print(f"{amp} {label[name]:50s}: {statistics.median(v):7.1f} samples/s  (runs: "
              f"{', '.join(f'{x:.1f}' for x in v)})")
    for amp in ("bf16", "fp32"):
        one, ranks = (statistics.median(rates[f"{amp} {k}"]) for k in ("one", "ranks"))
        print(f"{amp}: torchrun / one process = {ranks / one:.2f}"
              + (f"; scaling efficiency {ranks / (n * one):.0%}" if gpu else ""))
    state = torch.load(d / "bf16-one-0" / "checkpoint.pt", weights_only=True)
    params = sum(v.numel() for n in ("G", "D") for v in state[n].values() if v.is_floating_point())
    out = subprocess.run([*TORCHRUN[:-1], str(n), __file__, "allreduce", "--params", str(params),
                          "--device", a.device], env=_env(1), cwd=REPO, capture_output=True, text=True)
    print(out.stdout.strip() or out.stderr[-1500:])


def allreduce(a: argparse.Namespace) -> None:
    """Under torchrun: time gloo's all-reduce of ``--params`` float32 gradients in 25 MB buckets."""
    import torch
    import torch.distributed as dist

    gpu = a.device.startswith("cuda")
    if gpu:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if gpu else "gloo")
    bucket = 25 * 2**20 // 4
    sizes = [min(bucket, a.params - i) for i in range(0, a.params, bucket)]
    bufs = [torch.randn(n, device="cuda" if gpu else "cpu") for n in sizes]
    times = []
    for _ in range(22):
        dist.barrier()
        t = time.perf_counter()
        for b in bufs:
            dist.all_reduce(b)
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    if dist.get_rank() == 0:
        ms = statistics.median(times[2:]) * 1000
        print(f"all-reduce of G + D gradients ({a.params / 1e6:.2f} M float32 = {a.params * 4 / 2**20:.1f} MB, "
              f"{len(sizes)} bucket(s)) between {dist.get_world_size()} {dist.get_backend()} processes: {ms:.1f} ms "
              "per step (median of 20)")
    dist.destroy_process_group()


def translate(a: argparse.Namespace, d: Path) -> None:
    import numpy as np
    import rasterio

    sys.path.insert(0, str(REPO / "bench"))
    from translate_throughput import make_raster

    src = make_raster(d / f"r{a.size}.tif", a.size)
    one = d / "one.tif"
    t_one = _check([*GEOPIX, "translate", src, one, "--model", a.model, "--device", "cpu"], 2)
    parts = d / "parts"
    parts.mkdir()
    t0 = time.perf_counter()
    procs = [subprocess.Popen([str(c) for c in [*GEOPIX, "translate", src, parts / f"p{i}.tif", "--model", a.model,
                                                "--device", "cpu", "--shard", f"{i}/2"]], env=_env(1), cwd=REPO,
                              stdout=subprocess.DEVNULL)
             for i in range(2)]
    if any(p.wait() for p in procs):
        sys.exit("a shard failed")
    t_shards = time.perf_counter() - t0
    merged = d / "merged.tif"
    t_merge = _check([*GEOPIX, "merge", merged, parts], 2)
    with rasterio.open(one) as x, rasterio.open(merged) as y:
        same = all(np.array_equal(x.read(window=w), y.read(window=w)) for _, w in x.block_windows(1))
    total = t_shards + t_merge
    print(f"translate {a.size}x{a.size}: one process x 2 threads {t_one:.1f} s; 2 shards x 1 thread in parallel "
          f"{t_shards:.1f} s + merge {t_merge:.1f} s = {total:.1f} s -> {total / t_one:.2f}x the one process; "
          f"merge {t_merge / total:.1%} of the sharded total; merged pixels == one process's: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=["train", "translate", "allreduce"])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--model", default=str(REPO / "runs" / "demo"))
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--params", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU (NCCL) form of train")
    ap.add_argument("--nproc", type=int, default=2, help="processes (CPU: the machine's cores; GPU: GPUs)")
    a = ap.parse_args()
    if a.case == "allreduce":
        return allreduce(a)
    import torch

    flags = open("/proc/cpuinfo").read()
    have = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f" {f}" in flags]
    print(f"{os.cpu_count()} cpu ({' '.join(have)}), torch {torch.__version__}; {a.case}", flush=True)
    with tempfile.TemporaryDirectory(dir=REPO / "runs" if (REPO / "runs").is_dir() else None) as tmp:
        (train if a.case == "train" else translate)(a, Path(tmp))


if __name__ == "__main__":
    main()
