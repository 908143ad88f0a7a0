"""Imagery without maps (issue 33): pretrain the translation U-Net self-supervised, then train it on the pairs.

Each seed's run spends its budget in two parts, as a user would with ``geopix train``:

1. ``--pretrain`` minutes of inpainting (``--task inpaint``: the U-Net learns to fill holes drawn in
   the imagery, its own target) on every image of the imagery set, no map read;
2. the rest of ``--minutes`` training the CPU recipe with the average (bench/learning.py's ``aug``
   variant) on the 32 maps256 pairs, its generator started from the inpainting run's
   (``--init-from``; the mask channel's input weights dropped).

Scored as bench/learning.py scores (road IoU, mIoU over the classes with >= 1% of the held-out
reference pixels, per class; with ``--city`` the Houston pair joins the pairs and Charlotte is scored
too), rows appended to bench/learning.jsonl with the variant ``pretrain-P`` (``:ema``/``:raw``).
The from-scratch rows to compare with are learning.py's ``aug`` runs of the same total minutes.

The imagery set is the imagery a user holds without maps: the 40 maps256 satellite images (the 8
held-out ones included, as the region a user translates is imagery they have without its map; its
map is never read), and the Houston and Charlotte satellite images; ``--no-held-out`` leaves the 8
out. Equal wall-clock by calibration, as learning.py: ``--calibrate S`` trains each part ``S``
seconds on the quiet machine and fixes its step counts from the rates; ``--rates A B`` gives the
steps per second of the inpainting and the translation parts instead (from an earlier calibration).

    .venv/bin/python bench/pretrain.py --minutes 20 --pretrain 5 --seeds 0 --calibrate 60
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learning import DATA, N_EVAL, REPO, _score_run, keep, scenes, train, training_dir  # noqa: E402

from geo_pix2pix.tiles.pairs.aligned import aligned_specs  # noqa: E402
from geo_pix2pix.tiles.pairs.pair import PairSpec  # noqa: E402
from geo_pix2pix.training.config import CPU_RECIPE, TrainConfig  # noqa: E402
from geo_pix2pix.training.loop import fit  # noqa: E402

#: The translation part: bench/learning.py's ``aug`` variant (the CPU recipe with the average).
RECIPE: dict[str, Any] = dict(CPU_RECIPE) | {"ema_decay": 0.999}
#: The inpainting part: the translation U-Net's shape (tile, ngf, norm) with the CPU recipe's batch and
#: learning rate; one PatchGAN and the global critic, the inpaint family's CPU choices.
#: Taken from the recipe, so the two U-Nets stay one network if the recipe changes.
PRETRAIN: dict[str, Any] = {"task": "inpaint", "family": "inpaint", "lambda_l1": 100.0,
                            "family_options": {"num_d": 1, "lambda_feat": 0.0},
                            **{k: CPU_RECIPE[k] for k in ("tile", "batch_size", "ngf", "ndf", "lr")}}


def imagery_set(d: Path, held_out: bool) -> list[PairSpec]:
    """The satellite images as rasters of their own (maps256's left halves written as PNGs)."""
    out = d / "imagery"
    out.mkdir()
    specs = aligned_specs(DATA / "maps256", "AB")
    rasters = []
    for s in specs if held_out else specs[:-N_EVAL]:
        with Image.open(s.imagery) as im:
            rgb = np.asarray(im.convert("RGB"))
        path = out / Path(s.imagery).name
        Image.fromarray(rgb[:, : rgb.shape[1] // 2]).save(path)
        rasters.append(str(path))
    g = DATA / "google_sat2maps"
    rasters += [str(g / "000002_Houston_sat.tif"), str(g / "000008_Charlotte_sat.tif")]
    return [PairSpec(r, r) for r in rasters]


def inpaint(imagery: list[PairSpec], out: Path, seed: int, steps: int | None, seconds: float | None) -> Any:
    """The inpainting part: ``steps`` steps, or ``seconds`` of training (a calibration), every
    image trained on (no validation; the translation part is bench/learning.py's ``train``)."""
    cfg = TrainConfig(pairs=tuple(imagery), out=str(out), seed=seed, device="cpu", val_every=10**9,
                      checkpoint_every=10**9, steps=steps or 1, time_budget=seconds, val_fraction=0.0, **PRETRAIN)
    return fit(cfg, progress=False)


def calibrate(imagery: list[PairSpec], pairs: list[PairSpec], seconds: float, d: Path) -> tuple[float, float]:
    """Steps per second of the inpainting and the translation parts (seed 0, ``seconds`` each)."""
    a = inpaint(imagery, d / "cal-inpaint", 0, None, seconds).step / seconds
    b = train("calibrate-translate", RECIPE, pairs, 0, seconds / 60, str(d)).step / seconds
    print(f"calibration: inpainting {a:.3f} steps/s, translation {b:.3f} steps/s ({seconds:g} s each)", flush=True)
    return a, b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0, help="the whole budget, pretraining included")
    ap.add_argument("--pretrain", type=float, default=5.0, help="minutes of it spent inpainting")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--city", action="store_true", help="train with Houston too; score Charlotte as well")
    ap.add_argument("--no-held-out", dest="held_out", action="store_false",
                    help="leave the 8 held-out maps256 images out of the imagery set")
    ap.add_argument("--tta", action="store_true")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--calibrate", type=float, metavar="SECONDS")
    group.add_argument("--rates", type=float, nargs=2, metavar=("INPAINT", "TRANSLATE"))
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--log", type=Path, default=REPO / "bench" / "learning.jsonl")
    a = ap.parse_args()
    print(f"{os.cpu_count()} cpu, torch {torch.__version__} ({torch.get_num_threads()} threads)", flush=True)
    to_score = scenes(a.city)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        imagery, pairs = imagery_set(d, a.held_out), aligned_specs(training_dir(d, a.city), "AB")
        rate_a, rate_b = calibrate(imagery, pairs, a.calibrate, d) if a.calibrate else a.rates
        steps_a = round(rate_a * a.pretrain * 60)
        steps_b = round(rate_b * (a.minutes - a.pretrain) * 60)
        name = f"pretrain-{a.pretrain:g}" + ("" if a.held_out else "-no-held-out")
        print(f"{name}: {steps_a} inpainting steps, then {steps_b} translation steps", flush=True)
        for seed in a.seeds:
            pre = inpaint(imagery, d / f"inpaint-{seed}", seed, steps_a, None)
            res = train(name, RECIPE | {"steps": steps_b, "init_from": str(pre.run_dir)}, pairs, seed, a.minutes,
                        str(d))
            if a.keep:
                keep(Path(res.run_dir), a.keep / f"{name}-{seed}-{a.minutes:g}", res.step, a.minutes)
            _score_run(a, name, RECIPE | {"pretrain_steps": steps_a, "init_from": "inpainting"}, res, seed,
                       a.minutes, to_score)


if __name__ == "__main__":
    main()
