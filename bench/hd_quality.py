"""Pix2PixHD vs the Pix2Pix CPU recipe at equal wall-clock on this machine.

maps256 (default): for each seed, trains each family from its CPU recipe (what ``geopix train
--family F`` uses on a CPU) for the same number of minutes on the same 32 images of
``../shared/data/maps256`` (satellite -> map; the last 8 held out whole, as bench/cpu_recipe.py
does) and scores both on the 8 held-out images with the same code (bench/cpu_recipe.py's ``score``:
road IoU, mIoU and per-class IoU from the beige palette, L1, PSNR, SSIM, pixel accuracy).

``--google``: trains on the georeferenced Houston pair and evaluates on Charlotte (``geopix
evaluate``'s code, 512-px tiles, the grey style's palette).

    .venv/bin/python bench/hd_quality.py [--minutes 20] [--seeds 0 1] [--families pix2pix pix2pixhd]
                                         [--preview bench/hd_quality_preview.png] [--google]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from geo_pix2pix.inference.predict import Predictor
from geo_pix2pix.tiles.pairs.aligned import aligned_specs
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.loop import fit
from geo_pix2pix.training.recipes import apply_recipe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_recipe import DATA, N_EVAL, load_images, report, score, write_preview  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "data"


def config(family: str, specs: list[PairSpec], out: Path, seconds: float, seed: int, val_pairs: int) -> TrainConfig:
    cfg = TrainConfig(pairs=tuple(specs), out=str(out), family=family, val_pairs=val_pairs, time_budget=seconds,
                      seed=seed, device="cpu", val_every=10**9, checkpoint_every=10**9)
    return apply_recipe(cfg, "cpu")[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--families", nargs="+", default=["pix2pix", "pix2pixhd"])
    ap.add_argument("--preview", type=Path, default=None)
    ap.add_argument("--google", action="store_true", help="train Houston, evaluate Charlotte (512-px tiles)")
    a = ap.parse_args()
    seconds = a.minutes * 60
    flags = " ".join(f for f in ("avx2", "avx512_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text())
    print(f"{os.cpu_count()} cpu ({flags}), torch {torch.__version__}; {a.minutes:g} min per run; "
          f"families {', '.join(a.families)}", flush=True)
    if a.google:
        return google(a, seconds)
    specs = aligned_specs(DATA, "AB")
    sat, ref = load_images(specs[-N_EVAL:])
    rows: dict[str, list[dict[str, float]]] = {f: [] for f in a.families}
    shown: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as d:
        for seed in a.seeds:
            for fam in a.families:
                cfg = config(fam, specs, Path(d) / f"{fam}{seed}", seconds, seed, N_EVAL)
                res = fit(cfg, progress=False)
                pred = Predictor(res.run_dir, "cpu")
                r, iou = score(pred, sat, ref)
                r["steps"] = res.step
                rows[fam].append(r)
                report(fam, seed, r, iou)
                if fam not in shown:
                    shown[fam] = np.concatenate([pred(sat[i:i + 1]) for i in range(len(sat))])
    if a.preview is not None and shown:
        write_preview(a.preview, sat, shown, ref)
    for fam, rs in rows.items():
        print(f"mean {fam:9s}: " + "  ".join(f"{k} {np.mean([r[k] for r in rs]):.4g}" for k in rs[0]))
    if len(rows) == 2:
        (f1, r1), (f2, r2) = rows.items()
        for k in ("road_IoU", "mIoU", "SSIM"):
            print(f"ratio {f2} / {f1} {k}: {np.mean([r[k] for r in r2]) / np.mean([r[k] for r in r1]):.2f}")


def google(a: argparse.Namespace, seconds: float) -> None:
    from geo_pix2pix.evaluation.evaluate import evaluate
    from geo_pix2pix.evaluation.palette import load_palette

    palette = load_palette(REPO / "examples" / "palettes" / "google_maps_sat2maps.json")
    train = [PairSpec(str(EXAMPLES / "houston_sat.tif"), str(EXAMPLES / "houston_map.tif"))]
    with tempfile.TemporaryDirectory() as d:
        for seed in a.seeds:
            for fam in a.families:
                cfg = config(fam, train, Path(d) / f"{fam}{seed}", seconds, seed, 0).with_(val_fraction=0.0)
                res = fit(cfg, progress=False)
                ev = evaluate(res.run_dir, str(EXAMPLES / "charlotte_sat.tif"), str(EXAMPLES / "charlotte_map.tif"),
                              device="cpu", palette=palette, tile=512)
                print(f"{fam:9s} seed {seed}: steps {res.step}  " + "  ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in ev.to_dict().items()
                    if k in ("L1", "PSNR", "SSIM", "pixel_accuracy", "mIoU")), flush=True)
                print(f"{'':9s}   IoU: {ev.to_dict().get('class_iou')}", flush=True)


if __name__ == "__main__":
    main()
