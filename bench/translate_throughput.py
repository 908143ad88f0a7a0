"""Translate throughput, memory and seams, against baselines measured in the same run.

1. Speed: end-to-end ``geopix translate`` on a 2048x2048 raster (median of ``--repeats`` runs) and
   on an 8192x8192 one vs the model alone on exactly the same tiles (same batch size, tensors
   already in memory). Target ratio <= 1.05. Also the CPU time of both (how busy the model alone
   keeps the cores: work beyond it can only hide in what it leaves idle).
2. Memory: peak RSS of ``geopix translate`` on 2048x2048 and 8192x8192 rasters, each in a fresh
   process. Target: flat (ratio <= 1.2). Also time vs area (16x the pixels).
3. Seams: on a model trained on real data, the mean absolute difference between neighbouring
   columns (rows) that straddle tile boundaries over that of all neighbouring columns (rows), for
   the default overlap (target <= 1.05) and for ``--overlap 0`` (for comparison).

The rasters are real imagery (the bundled Charlotte and Houston satellite images) mirrored into a
large mosaic, so the model sees realistic content. Needs a trained model (default ``runs/demo``,
made by ``make demo``).

    .venv/bin/python bench/translate_throughput.py [--model runs/demo] [--skip-large] [--tile 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"


def make_raster(path: Path, size: int) -> Path:
    """A ``size x size`` RGB GeoTIFF tiled from mirrored copies of real satellite images."""
    with rasterio.open(DATA / "charlotte_sat.tif") as a, rasterio.open(DATA / "houston_sat.tif") as b:
        base = np.concatenate([a.read(), b.read()[:, :, ::-1]], axis=2)  # (3, 512, 1024)
        crs, tr = a.crs, a.transform
    block = np.concatenate([base, base[:, ::-1]], axis=1)  # (3, 1024, 1024), seamless mirror
    profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=crs,
                   transform=Affine(tr.a, 0, tr.c, 0, tr.e, tr.f), tiled=True, blockxsize=512,
                   blockysize=512, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        for r in range(0, size, 1024):
            h = min(1024, size - r)
            row = np.tile(block[:, :h], (1, 1, (size + 1023) // 1024))[:, :, :size]
            dst.write(row, window=rasterio.windows.Window(0, r, size, h))
    return path


RUN_ONE = r"""
import json, sys, time
from geo_pix2pix.inference.translate import TranslateConfig, translate
t, c = time.perf_counter(), time.process_time()
res, _ = translate(sys.argv[1], sys.argv[2], TranslateConfig(model=sys.argv[3], device="cpu",
                   overlap=None if sys.argv[4] == "default" else int(sys.argv[4]), overwrite=True,
                   tile=int(sys.argv[5]) if sys.argv[5] != "model" else None))
# VmHWM, this process's own peak: ru_maxrss would also count the parent's RSS at the fork
# (Linux keeps the larger of the two across exec), which grows once the parent has loaded torch.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c, "tiles": res.tiles,
                  "max_rss_mb": hwm / 1024}))
"""


def run_translate(src: Path, out: Path, model: str, overlap: str = "default", tile: int | None = None) -> dict:
    r = subprocess.run([sys.executable, "-c", RUN_ONE, str(src), str(out), model, overlap,
                        str(tile) if tile else "model"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def model_only_seconds(src: Path, model: str, tile: int | None = None) -> tuple[float, float, int]:
    """The generator alone on the same tiles the mosaicker feeds it (in memory, same batches):
    wall-clock seconds, CPU seconds (all threads) and the number of tiles."""
    from geo_pix2pix.inference.predict import Predictor
    from geo_pix2pix.tiles.mosaic.blend import plan_mosaic, reflect_index

    pred = Predictor(model, "cpu")
    t = tile or pred.tile
    ov = t // 4
    with rasterio.open(src) as s:
        plan = plan_mosaic(s.height, s.width, t, ov)
        data = pred.meta.input_stats.normalize(s.read())
    rows = reflect_index(np.arange(plan.frame_height) - plan.pad_top, plan.height)
    frame = data[:, rows][:, :, plan.source_cols()]  # the reflection-padded frame
    tiles = [frame[:, r:r + t, c:c + t] for r in plan.row_starts for c in plan.col_starts]
    pred(np.stack(tiles[:8]))  # warm-up, as the subprocess's first batch is not excluded either
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(len(plan.row_starts)):  # same batches as the mosaicker: per tile row
        row = tiles[k * len(plan.col_starts):(k + 1) * len(plan.col_starts)]
        for i in range(0, len(row), 8):
            pred(np.stack(row[i:i + 8]))
    return time.perf_counter() - start, time.process_time() - cpu, len(tiles)


def _median(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def seam_ratio(path: Path, tile: int, overlap: int) -> tuple[float, float]:
    from geo_pix2pix.evaluation.metrics import seam_ratio as ratio

    with rasterio.open(path) as s:
        return ratio(s.read(), tile, overlap)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(REPO / "runs" / "demo"))
    ap.add_argument("--skip-large", action="store_true", help="skip the 8192x8192 raster")
    ap.add_argument("--tile", type=int, default=None, help="translate tile size (default: geopix translate's)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each 2048x2048 timing (the median is used)")
    a = ap.parse_args()
    from geo_pix2pix.files.modelfile import read_meta
    from geo_pix2pix.inference.translate import default_tile

    meta = read_meta(a.model)
    tile = a.tile or default_tile(meta.tile_size, 2048, 2048)
    print(f"model: {a.model} ({meta.generator.name}, ngf {meta.generator.ngf}, trained on tile {meta.tile_size}, "
          f"step {meta.step}); translate tile {tile}; machine: {os.cpu_count()} cpu")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        small = make_raster(d / "r2048.tif", 2048)
        # medians of a few runs: on a shared machine a single 2-second run can be off by 40%
        e2e = _median([run_translate(small, d / "o2048.tif", a.model, tile=tile) for _ in range(a.repeats)])
        model = _median([dict(zip(("seconds", "cpu_seconds", "tiles"), model_only_seconds(small, a.model, tile),
                                  strict=True))
                         for _ in range(a.repeats)])
        model_s, model_cpu, n = model["seconds"], model["cpu_seconds"], model["tiles"]
        assert n == e2e["tiles"]
        print(f"speed 2048x2048 (median of {a.repeats}): end-to-end {e2e['seconds']:.2f} s, model only "
              f"{model_s:.2f} s on the same {n} tiles -> ratio {e2e['seconds'] / model_s:.3f} (target <= 1.05)")
        cores = os.cpu_count() or 1
        print(f"CPU time: model only {model_cpu:.2f} s ({model_cpu / model_s:.2f} of {cores} cores busy), "
              f"end-to-end {e2e['cpu_seconds']:.2f} s: {e2e['cpu_seconds'] - model_cpu:.2f} s beyond the model "
              f"(OpenMP spin-waits count as busy, so this is rough)")
        cx, cy = seam_ratio(d / "o2048.tif", tile, tile // 4)
        run_translate(small, d / "o0.tif", a.model, "0", tile=tile)
        zx, zy = seam_ratio(d / "o0.tif", tile, 0)
        print(f"seams (overlap {tile // 4}): columns {cx:.3f}, rows {cy:.3f} (target <= 1.05); "
              f"overlap 0: columns {zx:.3f}, rows {zy:.3f}")
        if not a.skip_large:
            large = make_raster(d / "r8192.tif", 8192)
            big = run_translate(large, d / "o8192.tif", a.model, tile=tile)
            big_model, _, big_n = model_only_seconds(large, a.model, tile)
            assert big_n == big["tiles"]
            print(f"speed 8192x8192: end-to-end {big['seconds']:.1f} s, model only {big_model:.1f} s on the same "
                  f"{big_n} tiles -> ratio {big['seconds'] / big_model:.3f} (target <= 1.05)")
            print(f"peak RSS: 2048x2048 {e2e['max_rss_mb']:.0f} MB, 8192x8192 {big['max_rss_mb']:.0f} MB -> "
                  f"ratio {big['max_rss_mb'] / e2e['max_rss_mb']:.3f} (target <= 1.2)")
            print(f"time vs area: 8192x8192 {big['seconds']:.1f} s / 2048x2048 {e2e['seconds']:.1f} s = "
                  f"{big['seconds'] / e2e['seconds']:.2f} for 16x the pixels (target 16 +- 10%)")

if __name__ == "__main__":
    main()
