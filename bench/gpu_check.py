"""The GPU check: correctness and figures of geopix's CUDA path in one short run (``bench/gpu_check.sh``).

1. Correctness on the device: a short paper-recipe train, an exact resume (a run stopped halfway and
   resumed against an uninterrupted one; on a GPU against the spread of two uninterrupted runs,
   since cuDNN's fastest kernels are not bitwise deterministic), translate with a seam check, bf16
   autocast against float32 outputs, and ONNX Runtime's CUDA provider against torch.
2. Training samples/s of the paper recipe at batch 1 and at the largest probed batch that keeps the
   GPU under half full, with and without ``--compile``.
3. Translate end to end against the generator alone on the same tiles, on an 8192x8192 raster at
   batch 32.
4. Peak GPU memory of each part, and with 2+ GPUs a torchrun NCCL weak-scaling step.

Every part runs under a deadline (``--minutes``) and reports PASS/FAIL/SKIP without stopping the
others. It needs no vector I/O (no geopandas, pyogrio) and no ONNX exporter (the ONNX model is
exported beforehand by ``bench/gpu_wheels.sh``). ``--device cpu --small`` runs the same code in
seconds: ``tests/bench/test_gpu_check.py`` does, so the check cannot rot.

    python bench/gpu_check.py --device cuda [--minutes 6.5] [--onnx-model bench/gpu_wheels/model]
    python bench/gpu_check.py geopix ARGS...     # geopix's CLI from this tree (torchrun uses it)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"


def source_tree() -> None:
    """geopix importable from this tree without installing it: ``tiles/`` and ``cli/`` are the
    ``geo_pix2pix.tiles``/``.cli`` subpackages (setup.py maps them), so the package also looks in the
    tree's root. Where the loss plot's matplotlib is missing (the GPU machine), no loss plot."""
    sys.path.insert(0, str(REPO))
    import geo_pix2pix

    if str(REPO) not in geo_pix2pix.__path__:
        geo_pix2pix.__path__.append(str(REPO))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        import geo_pix2pix.training.loop as loop

        loop.plot_losses = lambda rows, path: None


@dataclass(frozen=True)
class Sizes:
    """What each part runs on (the GPU's, or tiny ones for the CPU test)."""

    tile: int = 256
    ngf: int = 64
    steps: int = 40  # correctness runs
    bench_steps: int = 30  # throughput runs (the first ``warmup`` not timed)
    warmup: int = 10
    probe: tuple[int, ...] = (16, 64, 256)
    seam_limit: float = 1.10
    check_side: int = 2048  # translate correctness raster
    big_side: int = 8192  # translate throughput raster
    translate_batch: int = 32
    compile: bool = True


SMALL = Sizes(tile=64, ngf=8, steps=4, bench_steps=5, warmup=2, probe=(2, 4), seam_limit=1.5, check_side=192,
              big_side=256, translate_batch=4, compile=False)


class Report:
    """Prints as it goes (one file, via the shell's tee) and keeps each part's result."""

    def __init__(self, deadline: float) -> None:
        self.deadline, self.results = deadline, {}
        self.start = time.perf_counter()

    def line(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.start:6.1f}s] {text}", flush=True)

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def result(self, name: str, status: str, text: str = "") -> None:
        self.results[name] = status
        self.line(f"RESULT {name}: {status} {text}".rstrip())

    @contextlib.contextmanager
    def part(self, name: str, needs: float = 0.0) -> Iterator[bool]:
        """Run a part if ``needs`` seconds are left; an error is its FAIL line, not the end of the check."""
        if self.left() < needs:
            self.result(name, "SKIP", f"(needs ~{needs:.0f} s, {self.left():.0f} s left)")
            yield False
            return
        self.line(f"== {name}")
        reset_peak()
        try:
            yield True
        except Exception as exc:  # noqa: BLE001 (every failure is reported, the next part still runs)
            self.result(name, "FAIL", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        finally:
            self.line(f"peak GPU memory in {name}: {peak()}")


def reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak() -> str:
    import torch

    if not torch.cuda.is_available():
        return "n/a (no CUDA)"
    return (f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB allocated, "
            f"{torch.cuda.max_memory_reserved() / 2**30:.2f} GiB reserved")


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def train(out: Path, device: str, s: Sizes, **changes: Any) -> tuple[Any, float]:
    """A paper-recipe run on the Houston pair; returns (fit result, samples/s after the warm-up)."""
    from geo_pix2pix.tiles.pairs.pair import PairSpec
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.loop import fit
    from geo_pix2pix.training.recipes import apply_recipe

    base = TrainConfig(pairs=(PairSpec(str(DATA / "houston_sat.tif"), str(DATA / "houston_map.tif")),), out=str(out),
                       device=device, val_fraction=0.0, val_every=10**6, checkpoint_every=10**6, seed=3)
    cfg, _ = apply_recipe(base, "paper")
    fields = {"tile": s.tile, "ngf": s.ngf, "ndf": s.ngf, "steps": s.steps, **changes}
    cfg = cfg.with_(**fields)
    marks: dict[int, float] = {}
    warm = min(s.warmup, cfg.steps - 1)

    def on_step(step: int, losses: Any) -> None:
        if step in (warm, cfg.steps):
            sync()
            marks[step] = time.perf_counter()

    result = fit(cfg, progress=False, on_step=on_step)
    done = marks.get(cfg.steps, time.perf_counter()) - marks.get(warm, time.perf_counter())
    return result, cfg.batch_size * (cfg.steps - warm) / max(done, 1e-9)


def weights_diff(a: Path, b: Path) -> float:
    """Largest absolute difference between two model files' tensors."""
    from safetensors.numpy import load_file

    ta, tb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return max(float(np.max(np.abs(ta[k].astype(np.float64) - tb[k]))) if ta[k].size else 0.0 for k in ta)


def check_resume(r: Report, work: Path, device: str, s: Sizes) -> Path:
    """Uninterrupted twice (the spread) and stopped at half + resumed: the resume within the spread."""
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.loop import fit

    train(work / "a", device, s)
    train(work / "c", device, s)
    train(work / "b", device, s, stop_at=s.steps // 2)  # stops with a checkpoint, as if interrupted
    cfg = json.loads((work / "b" / "config.json").read_text())
    fit(TrainConfig.from_dict({**cfg, "stop_at": None}), resume=True, progress=False)
    spread, resumed = weights_diff(work / "a", work / "c"), weights_diff(work / "a", work / "b")
    ok = resumed == 0.0 if spread == 0.0 else resumed <= 2 * spread
    r.result("train + exact resume", "PASS" if ok else "FAIL",
             f"(resumed vs uninterrupted: max |dw| {resumed:.3g}; two uninterrupted runs: {spread:.3g})")
    return work / "a"


def check_translate(r: Report, run: Path, work: Path, device: str, s: Sizes) -> None:
    """Seams of a float32 translate, and bf16 autocast against it."""
    import rasterio
    from translate_throughput import make_raster

    import geo_pix2pix as geopix
    from geo_pix2pix.evaluation.metrics import seam_ratio

    raster = make_raster(work / "check.tif", s.check_side)
    outs = {}
    for name, amp in (("float32", False), ("bf16", True)):
        model = geopix.load_model(run, device=device, amp=amp)
        model.translate(raster, work / f"{name}.tif", tile=s.tile, batch_size=s.translate_batch, overwrite=True)
        with rasterio.open(work / f"{name}.tif") as src:
            outs[name] = src.read().astype(np.int16)
        r.line(f"translate {name}: {model._pred.plan.describe()}")
    cols, rows = seam_ratio(outs["float32"], s.tile, s.tile // 4)
    r.result("translate seams", "PASS" if max(cols, rows) <= s.seam_limit else "FAIL",
             f"(seam ratio columns {cols:.3f}, rows {rows:.3f}; <= {s.seam_limit})")
    d = np.abs(outs["bf16"] - outs["float32"])
    ok = d.mean() < 1.0 and np.percentile(d, 99.9) <= 8
    r.result("bf16 vs float32", "PASS" if ok else "FAIL", f"(grey levels: mean {d.mean():.3f}, 99.9th percentile "
             f"{np.percentile(d, 99.9):.0f}, max {d.max()}; mean < 1 and 99.9th <= 8)")


def frame_tiles(src: Path, stats: Any, tile: int) -> np.ndarray:
    """The mosaicker's normalised tiles of ``src`` (as ``bench/onnx_throughput.py`` cuts them)."""
    from onnx_throughput import frame_tiles as cut

    return cut(src, stats, tile)


def timed(pred: Callable[[np.ndarray], np.ndarray], tiles: np.ndarray, batch: int) -> float:
    pred(tiles[:batch])
    sync()
    t = time.perf_counter()
    for i in range(0, len(tiles), batch):
        pred(tiles[i:i + batch])
    sync()
    return time.perf_counter() - t


def check_onnx(r: Report, model_dir: Path | None, work: Path, device: str, s: Sizes) -> None:
    """ONNX Runtime (its CUDA provider on a GPU) against torch float32 on the same tiles."""
    import onnxruntime
    from translate_throughput import make_raster

    import geo_pix2pix as geopix

    if model_dir is None or not (model_dir / "model.onnx").is_file():
        r.result("onnx runtime", "SKIP", "(no exported model: run bench/gpu_wheels.sh)")
        return
    providers = onnxruntime.get_available_providers()
    if device.startswith("cuda") and "CUDAExecutionProvider" not in providers:
        r.result("onnx runtime", "SKIP", f"(no CUDA provider in onnxruntime {onnxruntime.__version__}: {providers})")
        return
    torch_model = geopix.load_model(model_dir / "model.safetensors", device=device, amp=False)
    onnx_model = geopix.load_model(model_dir / "model.onnx", device=device)
    tiles = frame_tiles(make_raster(work / "onnx.tif", s.check_side), torch_model.meta.input_stats, s.tile)
    a, b = torch_model._pred(tiles[:8]), onnx_model._pred(tiles[:8])
    diff = float(np.abs(a - b).max()) * 127.5
    t_torch, t_onnx = timed(torch_model._pred, tiles, s.translate_batch), timed(onnx_model._pred, tiles,
                                                                               s.translate_batch)
    r.result("onnx runtime", "PASS" if diff <= 1.0 else "FAIL",
             f"({onnx_model._pred.session.get_providers()[0]}: max diff {diff:.4f} grey levels; {len(tiles)} tiles "
             f"in {t_onnx:.2f} s against torch float32 {t_torch:.2f} s)")


def environment(r: Report, device: str) -> None:
    import onnxruntime
    import torch

    r.line(f"python {sys.version.split()[0]}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__} "
           f"{onnxruntime.get_available_providers()}")
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        r.line(f"{torch.cuda.device_count()} x {p.name}, {p.total_memory / 2**30:.0f} GiB, cuda {torch.version.cuda}, "
               f"cudnn {torch.backends.cudnn.version()}, bf16 {torch.cuda.is_bf16_supported()}")
    elif device.startswith("cuda"):
        raise SystemExit("gpu_check: --device cuda but torch sees no CUDA GPU")


def run_check(a: argparse.Namespace) -> int:
    """Every part in order; returns 1 if any failed."""
    import tempfile

    from gpu_speed import check_nccl, check_train_speed, check_translate_speed

    s = SMALL if a.small else Sizes()
    r = Report(time.perf_counter() + 60 * a.minutes)
    environment(r, a.device)
    with tempfile.TemporaryDirectory(prefix="geopix-gpu-check-") as d:
        work, run = Path(d), None
        with r.part("train + exact resume", 60) as go:
            run = check_resume(r, work, a.device, s) if go else None
        with r.part("translate", 30) as go:
            if go and run is not None:
                check_translate(r, run, work, a.device, s)
        with r.part("onnx runtime", 20) as go:
            if go:
                check_onnx(r, a.onnx_model, work, a.device, s)
        with r.part("translate throughput", 60) as go:
            if go and run is not None:
                check_translate_speed(r, run, work, a.device, s)
        with r.part("train throughput", 60) as go:
            if go:
                check_train_speed(r, work, a.device, s)
        with r.part("nccl weak scaling", 60) as go:
            if go:
                check_nccl(r, work, s)
    r.line("SUMMARY " + ", ".join(f"{k}: {v}" for k, v in r.results.items()))
    return int(any(v == "FAIL" for v in r.results.values()))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sys.path.insert(0, str(REPO / "bench"))
    source_tree()
    if argv[:1] == ["geopix"]:  # geopix's command line from this tree (torchrun's entry point)
        from geo_pix2pix.cli.main import main as geopix

        return int(geopix(argv[1:]) or 0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--small", action="store_true", help="tiny sizes (the CPU test)")
    ap.add_argument("--minutes", type=float, default=6.5, help="no part starts after this")
    ap.add_argument("--onnx-model", type=Path, default=REPO / "bench" / "gpu_wheels" / "model")
    return run_check(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
