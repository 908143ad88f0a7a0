"""CPU recipe vs the reference pix2pix at equal wall-clock time (issue 7).

Trains, for each seed, (1) geopix with a CPU recipe and (2) a plain eager PyTorch pix2pix with
the reference defaults (paper U-Net at 256, batch 1, lambda 100, Adam 2e-4 betas (0.5, 0.999),
random horizontal flips), each for the same number of minutes on the same 32 images of
``../shared/data/maps256`` (satellite -> map), then scores both on the other 8 images with the
same code: per-class IoU (road IoU, mIoU) from ``examples/palettes/google_maps_pix2pix.json``, the
palette of the maps256 style, and L1, PSNR, SSIM, pixel accuracy. Prints one row per run and the
recipe/baseline ratios of the means.

    .venv/bin/python bench/cpu_recipe.py [--minutes 20] [--seeds 0 1] [--recipe KEY=VALUE ...]
                                         [--preview bench/cpu_recipe_preview.png]

The geopix run starts from the CPU recipe (``geo_pix2pix.training.config.CPU_RECIPE``, what ``geopix
train`` uses on a CPU); ``--recipe KEY=VALUE`` overrides its ``TrainConfig`` fields
(``--recipe tile=128 batch_size=8``; ``--paper`` starts from the paper's defaults instead).
``--preview`` writes the first seed's held-out images: satellite | geopix | baseline | map.
``--tta`` also scores both models with test-time augmentation (``geopix translate --tta``: the mean
of the 8 rotations/mirrors of each image), as extra rows.
"""

from __future__ import annotations

import argparse
import ast
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geo_pix2pix.evaluation.metrics import MetricAccumulator
from geo_pix2pix.evaluation.palette import ClassAccumulator, load_palette
from geo_pix2pix.inference.predict import Predictor, dihedral_mean
from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.aligned import aligned_specs
from geo_pix2pix.tiles.pairs.pair import open_pair
from geo_pix2pix.training.config import CPU_RECIPE, TrainConfig
from geo_pix2pix.training.loop import fit

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "maps256"
PALETTE = REPO / "examples" / "palettes" / "google_maps_pix2pix.json"
N_EVAL = 8


def load_images(specs) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """All images as float32 in [-1, 1]: satellite (N, 3, 256, 256) and map (N, 3, 256, 256)."""
    sats, maps = [], []
    for s in specs:
        with open_pair(s) as p:
            smp = p.read(PixelWindow(0, 0, p.region.height, p.region.width))
        sats.append(smp.imagery.astype(np.float32) / 127.5 - 1)
        maps.append(smp.maps.astype(np.float32) / 127.5 - 1)
    return np.stack(sats), np.stack(maps)


def score(predict, sat: np.ndarray, ref: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:  # noqa: ANN001
    """Metrics of ``predict`` on held-out images (whole 256x256 images), and the per-class IoU."""
    acc, cls = MetricAccumulator(), ClassAccumulator(load_palette(PALETTE))
    for i in range(len(sat)):
        fake = predict(sat[i:i + 1])
        valid = np.ones((1, 1, *sat.shape[2:]), bool)
        acc.add(fake, ref[i:i + 1], valid)
        to8 = lambda x: np.rint((np.clip(x, -1, 1) + 1) * 127.5)  # noqa: E731
        cls.add(to8(fake), to8(ref[i:i + 1]), valid)
    m, iou = acc.result(), cls.iou()
    return {"road_IoU": iou["roads"], "mIoU": cls.miou(), "L1": m.L1, "PSNR": m.PSNR, "SSIM": m.SSIM,
            "pixel_acc": m.pixel_accuracy}, iou


def report(name: str, seed: int, r: dict[str, float], iou: dict[str, float]) -> None:
    print(f"{name:8s} seed {seed}: " + "  ".join(f"{k} {v:.4g}" for k, v in r.items()), flush=True)
    print(f"{'':8s}   IoU: " + "  ".join(f"{k} {v:.3f}" for k, v in iou.items()), flush=True)


def baseline(seed: int, seconds: float, sat: np.ndarray, ref: np.ndarray) -> tuple[nn.Module, int]:
    """The reference defaults, written plainly: unet_256, PatchGAN, batch 1, lambda 100."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    G = build_generator(GeneratorConfig(tile=256))
    D = build_discriminator(DiscriminatorConfig(in_channels=6)).scales[0].model  # plain PatchGAN: logits
    oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    steps, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        i = rng.integers(len(sat))
        a, b = torch.from_numpy(sat[i:i + 1]), torch.from_numpy(ref[i:i + 1])
        if rng.random() < 0.5:
            a, b = a.flip(-1), b.flip(-1)
        fake = G(a)
        for p in D.parameters():
            p.requires_grad = True
        oD.zero_grad()
        pf, pr = D(torch.cat((a, fake.detach()), 1)), D(torch.cat((a, b), 1))
        ((bce(pf, torch.zeros_like(pf)) + bce(pr, torch.ones_like(pr))) * 0.5).backward()
        oD.step()
        for p in D.parameters():
            p.requires_grad = False
        oG.zero_grad()
        pf = D(torch.cat((a, fake), 1))
        (bce(pf, torch.ones_like(pf)) + 100 * nn.functional.l1_loss(fake, b)).backward()
        oG.step()
        steps += 1
    return G.eval(), steps


def write_preview(path: Path, sat: np.ndarray, shown: dict[str, np.ndarray], ref: np.ndarray) -> None:
    """One row per held-out image: satellite | geopix | baseline | map, at half resolution."""
    from PIL import Image

    from geo_pix2pix.files.runs import to_rgb8

    cols = [sat, *shown.values(), ref]
    grid = np.concatenate([np.concatenate([to_rgb8(c[i]) for c in cols], axis=1) for i in range(len(sat))])
    img = Image.fromarray(grid)
    img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(path)
    print(f"preview ({' | '.join(['satellite', *shown, 'map'])}): {path}")


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--recipe", nargs="*", default=[], metavar="KEY=VALUE",
                    help="TrainConfig fields of the geopix recipe, e.g. tile=128 batch_size=8 ngf=32")
    ap.add_argument("--paper", action="store_true", help="start from the paper's defaults, not CPU_RECIPE")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--tta", action="store_true", help="also score both with test-time augmentation")
    ap.add_argument("--preview", type=Path, default=None, help="PNG of the first seed's held-out predictions")
    return ap.parse_args()


Rows = dict[str, list[dict[str, float]]]


def _run_geopix(a: argparse.Namespace, recipe: dict[str, Any], specs: list[Any], seed: int, d: str,
                held_out: tuple[np.ndarray, np.ndarray], rows: Rows, shown: dict[str, np.ndarray]) -> None:
    """Train geopix's recipe for the budget from ``seed``; score it (and with --tta, its dihedral mean)."""
    sat, ref = held_out
    cfg = TrainConfig(pairs=tuple(specs), out=str(Path(d) / f"geopix{seed}"), val_pairs=N_EVAL,
                      time_budget=a.minutes * 60, seed=seed, device="cpu", val_every=10**9,
                      checkpoint_every=10**9, **recipe)
    res = fit(cfg, progress=False)
    pred = Predictor(res.run_dir, "cpu")
    r, iou = score(pred, sat, ref)
    r["steps"] = res.step
    if not shown:
        shown["geopix"] = np.concatenate([pred(sat[i:i + 1]) for i in range(len(sat))])
    rows["geopix"].append(r)
    report("geopix", seed, r, iou)
    if a.tta:
        pred.tta = True
        r, iou = score(pred, sat, ref)
        rows["geopix+tta"].append(r | {"steps": res.step})
        report("geopix+tta", seed, r, iou)


def _run_baseline(a: argparse.Namespace, seed: int, train: tuple[np.ndarray, np.ndarray],
                  held_out: tuple[np.ndarray, np.ndarray], rows: Rows, shown: dict[str, np.ndarray]) -> None:
    """Train the plain pix2pix baseline for the same budget from ``seed``; score it like geopix."""
    sat, ref = held_out
    G, steps = baseline(seed, a.minutes * 60, *train)
    with torch.inference_mode():
        r, iou = score(lambda x, G=G: G(torch.from_numpy(x)).numpy(), sat, ref)
        r["steps"] = steps
        if "baseline" not in shown:
            shown["baseline"] = G(torch.from_numpy(sat)).numpy()
    rows["baseline"].append(r)
    report("baseline", seed, r, iou)
    if a.tta:
        with torch.inference_mode():
            r, iou = score(lambda x, G=G: dihedral_mean(G, torch.from_numpy(x)).numpy(), sat, ref)
        rows["baseline+tta"].append(r | {"steps": steps})
        report("baseline+tta", seed, r, iou)


def _summary(rows: Rows) -> None:
    """Means over the seeds, then geopix against the baseline as ratios from this run."""
    for name, rs in rows.items():
        if rs:
            print(f"mean {name:8s}: " + "  ".join(f"{k} {np.mean([r[k] for r in rs]):.4g}" for k in rs[0]))
    for suffix in ("", "+tta"):
        if rows["baseline" + suffix]:
            for k in ("road_IoU", "mIoU"):
                g = np.mean([r[k] for r in rows["geopix" + suffix]])
                b = np.mean([r[k] for r in rows["baseline" + suffix]])
                ratio = f"{g / b:.2f}" if b else f"n/a (baseline {b:.3g})"
                print(f"ratio geopix{suffix} / baseline{suffix} {k}: {ratio}")


def main() -> None:
    a = _args()
    recipe = ({} if a.paper else dict(CPU_RECIPE)) | {
        k: ast.literal_eval(v) if v[:1].isdigit() or v[:1] in "-[(" or v in ("True", "False") else v
        for k, v in (item.split("=", 1) for item in a.recipe)}
    specs = aligned_specs(DATA, "AB")
    held_out, train = load_images(specs[-N_EVAL:]), load_images(specs[:-N_EVAL])
    print(f"maps256: {len(specs) - N_EVAL} training images, {N_EVAL} held out; {a.minutes:g} min per run; "
          f"{os.cpu_count()} cpu, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"geopix recipe: {recipe or 'paper defaults'}")
    rows: Rows = {"geopix": [], "baseline": [], "geopix+tta": [], "baseline+tta": []}
    shown: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as d:
        for seed in a.seeds:
            _run_geopix(a, recipe, specs, seed, d, held_out, rows, shown)
            if not a.skip_baseline:
                _run_baseline(a, seed, train, held_out, rows, shown)
    if a.preview is not None and shown:
        write_preview(a.preview, held_out[0], shown, held_out[1])
    _summary(rows)


if __name__ == "__main__":
    main()
