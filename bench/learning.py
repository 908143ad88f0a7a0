"""Learning per CPU-minute and per training pair (issue 33): the CPU recipe and its levers.

Trains geopix variants for a fixed time on the 32 training images of ``../shared/data/maps256``
(optionally with the Google Houston pair, for the held-out city), then scores every run's raw
generator and, where the run averaged it (``ema_decay``), its average, from the same run:

- on the 8 held-out maps256 images, per class through the beige palette of that style
  (``examples/palettes/google_maps_pix2pix.json``): road IoU, mIoU over the six classes, and
  mIoU over the classes that cover at least 1% of the held-out reference pixels (named);
- with ``--city``, on the Google Charlotte pair: the prediction (drawn in the beige style the
  model learnt) is classified through the beige palette, the Charlotte reference through its own
  grey style's palette (``google_maps_sat2maps.json``), so the classes, not the two styles'
  colours, are compared.

``--city`` adds the Houston pair to the training set with its map **re-drawn in the beige style**:
each Houston pixel takes its class through the grey palette and is painted that class's first
beige colour. Mixing the two styles as RGB targets would teach a blend of both (the styles swap
shades between background and buildings); reading each pair through its own palette keeps one
style. The re-drawn map has hard class edges where the maps256 maps are anti-aliased.

    .venv/bin/python bench/learning.py --minutes 20 --seeds 0 1 --variant ema=ema_decay=0.999
    .venv/bin/python bench/learning.py --minutes 20 --seeds 0 --city --variant ... --variant ...

``--pairs N`` trains on the first N of the 32 training images only (per training pair: how the
scores move with the number of pairs at the same steps), and ``--seen`` trains on the 8 held-out
images as well, so their scores are those of a model on images it learnt: the ceiling of what the
budget fits, against which the held-out scores measure what generalises.

``--shifted K ...`` prints how the held-out reference maps score against themselves moved K
pixels (no training): how exactly each class must be placed to reach an IoU.

``--keep DIR`` copies each run's model and checkpoint to ``DIR/NAME-SEED-MINUTES``, and
``--rescore DIR/...`` scores kept runs again without training (a new measure, or ``--tta``).

A ``--variant NAME=KEY=VALUE,KEY=VALUE`` starts from ``CPU_RECIPE`` (``--paper``: the paper's
defaults) and overrides ``TrainConfig`` fields; a variant with ``ema_decay`` is scored twice,
``NAME:raw`` (G as trained, what the run would publish without the average) and ``NAME:ema``.
A variant with a ``steps`` field trains that many steps instead of ``--minutes`` (``make demo``'s
600: ``--variant demo=steps=600,ema_decay=0.999``).
Averaging does not change training (tested), so the two rows are the same run.

``--calibrate S`` makes the budgets equal wall-clock by calibration, as ``bench/map_kinds.py``
does: each variant first trains ``S`` seconds (seed 0) on the quiet machine, and its steps per
second times each budget becomes that variant's fixed step count. The long runs then see the
same steps whatever else the machine does meanwhile (a wall-clock budget would silently hand a
run sharing the machine fewer steps); the calibration itself needs the machine quiet.
``--step-rate`` measures instead, and exits: each variant's steps per second from fixed step
counts, ``400 / (t(450 steps) - t(50 steps))`` (start-up and data loading cancel), the variants
run one after the other in the same conditions, and their ratio to the first. Two one-thread
lanes can then calibrate one variant against another while the other core is busy.
Each scored row is also appended, as one JSON line, to ``--log`` (default bench/learning.jsonl).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch

from geo_pix2pix.evaluation.palette import ClassAccumulator, Palette, load_palette
from geo_pix2pix.inference.predict import Predictor
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.aligned import aligned_specs
from geo_pix2pix.tiles.pairs.pair import PairSpec, open_pair
from geo_pix2pix.training.config import CPU_RECIPE, TrainConfig
from geo_pix2pix.training.loop import fit

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
BEIGE = load_palette(REPO / "examples" / "palettes" / "google_maps_pix2pix.json")
GREY = load_palette(REPO / "examples" / "palettes" / "google_maps_sat2maps.json")
N_EVAL = 8
COMMON_SHARE = 0.01
NETWORK = ("roads", "highways")


@dataclass(frozen=True)
class Scene:
    """Images to score (uint8, (N, 3, H, W)) and the palettes their reference maps are read with."""

    name: str
    sat: np.ndarray
    ref: np.ndarray
    ref_palette: Palette


def read_pairs(specs: list[PairSpec]) -> tuple[np.ndarray, np.ndarray]:
    """Imagery and map of each pair, whole, as uint8 arrays."""
    sats, maps = [], []
    for s in specs:
        with open_pair(s) as p:
            smp = p.read(PixelWindow(0, 0, p.region.height, p.region.width))
        sats.append(smp.imagery.astype(np.uint8))
        maps.append(smp.maps.astype(np.uint8))
    return np.stack(sats), np.stack(maps)


def redraw_in_beige(grey_map: Path) -> np.ndarray:
    """``grey_map`` (grey Google style) re-drawn in the beige style, class by class: (3, H, W) uint8."""
    with rasterio.open(grey_map) as src:
        classes = GREY.classify(src.read())
    first = np.array([rgba[:3] for rgba in BEIGE.class_table().colors], np.uint8)  # each class's first colour
    return np.moveaxis(first[classes], -1, 0)


def training_images(images: list[Path], pairs: int | None = None, seen: bool = False) -> list[tuple[str, Path]]:
    """The maps256 images a run's aligned directory links, as (link name, image): the first
    ``pairs`` of the training images (all but the last 8, in name order: how many pairs a run
    learns from) and the 8 held-out images, which stay last and are only validated on; with
    ``seen`` the held-out images are also linked under names that sort first, so the run trains on
    them too: the score of a model on images it learnt, the ceiling of what the budget fits."""
    ordered = sorted(images)
    train, held_out = ordered[:-N_EVAL], ordered[-N_EVAL:]
    if pairs is not None and not 1 <= pairs <= len(train):
        raise SystemExit(f"--pairs must be 1 to {len(train)}, got {pairs}")
    links = [(f.name, f) for f in train[:pairs] + held_out]
    if seen:
        links = [(f"0_seen_{f.name}", f) for f in held_out] + links
    return links


def training_dir(d: Path, city: bool, pairs: int | None = None, seen: bool = False) -> Path:
    """An aligned directory (satellite | map images) of the maps256 pairs (:func:`training_images`),
    and with ``city`` the Houston pair (its map re-drawn in beige) named to sort first, so the last
    8 stay the held-out maps256 images. A run mixes no aligned images with georeferenced pairs,
    hence the image."""
    from PIL import Image

    out = d / "train"
    out.mkdir()
    for name, f in training_images(list((DATA / "maps256").glob("*.png")), pairs, seen):
        (out / name).symlink_to(f)
    if city:
        g = DATA / "google_sat2maps"
        with rasterio.open(g / "000002_Houston_sat.tif") as src:
            sat = src.read()
        side_by_side = np.concatenate([sat, redraw_in_beige(g / "000002_Houston_map.tif")], axis=2)
        Image.fromarray(np.moveaxis(side_by_side, 0, -1)).save(out / "0_houston.png")
    return out


def predicted_classes(pred: Predictor, scene: Scene) -> list[np.ndarray]:
    """Each of ``scene``'s images translated by ``pred`` and read through the beige palette (the
    style every model here learns): class indexes, (H, W) each."""
    stats_in, stats_out = pred.meta.input_stats, pred.meta.output_stats
    out = []
    for sat in scene.sat:
        fake = stats_out.denormalize(pred(stats_in.normalize(sat).astype(np.float32)[None])[0])
        out.append(BEIGE.classify(np.clip(np.rint(fake), 0, 255)))
    return out


def score(pred: Predictor, scene: Scene) -> dict[str, Any]:
    """Per-class IoU of ``pred`` on ``scene`` (prediction through the beige palette, reference
    through the scene's own), road IoU, mIoU and mIoU over the classes with >= 1% of the pixels."""
    acc = ClassAccumulator(BEIGE)
    valid = np.ones(scene.sat.shape[2:], bool)
    for i, fake in enumerate(predicted_classes(pred, scene)):
        acc.add_indices(fake, scene.ref_palette.classify(scene.ref[i]), valid)
    iou = acc.iou()
    seen = acc.confusion.sum(axis=1)
    common = [c for c, n in zip(acc.names, seen, strict=True) if n >= COMMON_SHARE * seen.sum()]
    return {"road_IoU": iou["roads"], "network_IoU": network_iou(acc.confusion, acc.names), "mIoU": acc.miou(),
            "mIoU_common": float(np.nanmean([iou[c] for c in common])), "common": common,
            "accuracy": acc.accuracy(), "IoU": iou}


def network_iou(confusion: np.ndarray, names: list[str]) -> float:
    """IoU of the road network, roads and highways as one class: a highway drawn as a road (or the
    reverse) is still a road where the reference has one. Charlotte's few roads lie beside its
    highway, so road IoU alone reads a drawn highway as a miss and a false road."""
    s = np.isin(names, NETWORK)
    tp = confusion[np.ix_(s, s)].sum()
    return float(tp / max(1, confusion[s].sum() + confusion[:, s].sum() - tp))


def parse_variant(text: str, base: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name, _, fields = text.partition("=")
    changes = {}
    for item in filter(None, fields.split(",")):
        k, v = item.split("=", 1)
        changes[k] = ast.literal_eval(v) if v[:1].isdigit() or v[:1] in "-[(" or v in ("True", "False") else v
    return name, base | changes


def train(name: str, recipe: dict[str, Any], specs: list[PairSpec], seed: int, minutes: float, d: str) -> Any:
    """One run: ``minutes`` of training, or with a ``steps`` field in ``recipe`` that many steps."""
    budget = None if "steps" in recipe else minutes * 60
    cfg = TrainConfig(pairs=tuple(specs), out=str(Path(d) / f"{name}-{seed}"), val_pairs=N_EVAL,
                      time_budget=budget, seed=seed, device="cpu", val_every=10**9, checkpoint_every=10**9,
                      **recipe)
    return fit(cfg, progress=False)


def step_rates(variants: list[tuple[str, dict[str, Any]]], specs: list[PairSpec], d: str) -> None:
    """Print each variant's steps per second from fixed step counts, and its ratio to the first
    (``--step-rate``): the difference of a 450- and a 50-step run, so start-up cancels."""
    import time

    spent: dict[tuple[str, int], float] = {}
    for n in (50, 450):
        for name, recipe in variants:
            t0 = time.perf_counter()
            train(f"rate-{name}-{n}", recipe | {"steps": n}, specs, 0, 1.0, d)
            spent[name, n] = time.perf_counter() - t0
    rates = {name: 400 / (spent[name, 450] - spent[name, 50]) for name, _ in variants}
    first = rates[variants[0][0]]
    for name, rate in rates.items():
        print(f"step rate {name:16s}: {rate:.3f} steps/s, {rate / first:.3f} x {variants[0][0]}", flush=True)


def calibrate(variants: list[tuple[str, dict[str, Any]]], specs: list[PairSpec], seconds: float,
              d: str) -> dict[str, float]:
    """Steps per second of each variant, trained ``seconds`` from seed 0 (``--calibrate``)."""
    rates = {}
    for name, recipe in variants:
        if "steps" in recipe:
            continue
        res = train(f"calibrate-{name}", recipe, specs, 0, seconds / 60, d)
        rates[name] = res.step / seconds
        print(f"calibration {name:16s}: {res.step} steps in {seconds:g} s", flush=True)
    return rates


@dataclass(frozen=True)
class _Kept:
    """A kept run, as much of fit()'s result as scoring reads."""

    run_dir: str
    step: int


def keep(run: Path, to: Path, steps: int, minutes: float) -> None:
    """Copy what scoring needs of ``run`` to ``to`` (``--keep``), for ``--rescore`` later."""
    import shutil

    to.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "checkpoint.pt", "config.json", "metrics.csv"):
        shutil.copy2(run / name, to / name)
    (to / "kept.json").write_text(json.dumps({"steps": steps, "minutes": minutes}))


def shifted_reference(scene: Scene, k: int) -> dict[str, float]:
    """Per-class IoU of ``scene``'s reference maps against themselves moved ``k`` pixels up, down,
    left and right (pooled; a ``k``-pixel border left out): what a perfect map scores when drawn
    ``k`` pixels off, so how exactly a class must be placed to reach a given IoU. Thin classes
    (roads a few pixels wide) lose most."""
    acc = ClassAccumulator(scene.ref_palette)
    inner = (slice(k, -k or None),) * 2
    for ref in scene.ref:
        c = scene.ref_palette.classify(ref)
        for shift in ((k, 0), (-k, 0), (0, k), (0, -k)):
            moved = np.roll(c, shift, axis=(0, 1))
            acc.add_indices(moved[inner][None], c[inner][None], np.ones((1, *c[inner].shape), bool))
    return acc.iou()


def rescore(a: argparse.Namespace, runs: list[Path], to_score: list[Scene]) -> None:
    """Score runs kept by ``--keep`` (folders ``NAME-SEED-MINUTES``) again, without training."""
    for run in runs:
        cfg, kept = (json.loads((run / f).read_text()) for f in ("config.json", "kept.json"))
        recipe = {k: cfg[k] for k in (*CPU_RECIPE, "ema_decay", "colour_jitter", "scale_jitter", "blur_noise")}
        _score_run(a, run.name.rsplit("-", 2)[0], recipe, _Kept(str(run), kept["steps"]), cfg["seed"],
                   kept["minutes"], to_score)


def report(row: dict[str, Any], log: Path) -> None:
    iou = "  ".join(f"{k} {v:.3f}" for k, v in row["IoU"].items())
    print(f"{row['variant']:16s} seed {row['seed']} {row['minutes']:g} min {row['steps']} steps  {row['scene']:9s} "
          f"road {row['road_IoU']:.3f}  network {row['network_IoU']:.3f}  mIoU {row['mIoU']:.3f}  "
          f"mIoU(>=1%: {'/'.join(row['common'])}) "
          f"{row['mIoU_common']:.3f}  acc {row['accuracy']:.3f}\n{'':18s}IoU: {iou}", flush=True)
    with log.open("a") as f:
        f.write(json.dumps(row) + "\n")


def scenes(city: bool) -> list[Scene]:
    specs = aligned_specs(DATA / "maps256", "AB")
    sat, ref = read_pairs(specs[-N_EVAL:])
    out = [Scene("maps256", sat, ref, BEIGE)]
    if city:
        g = DATA / "google_sat2maps"
        sat, ref = read_pairs([PairSpec(str(g / "000008_Charlotte_sat.tif"), str(g / "000008_Charlotte_map.tif"))])
        out.append(Scene("charlotte", sat, ref, GREY))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, nargs="+", default=[20.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=KEY=VALUE,...")
    ap.add_argument("--paper", action="store_true", help="variants start from the paper's defaults")
    ap.add_argument("--city", action="store_true", help="train with Houston too; score Charlotte as well")
    ap.add_argument("--pairs", type=int, default=None,
                    help="train on the first N of the 32 training images only (default: all 32)")
    ap.add_argument("--seen", action="store_true",
                    help="also train on the 8 held-out images: the score of a model on images it learnt")
    ap.add_argument("--shifted", type=int, nargs="+", default=None, metavar="K",
                    help="print the IoU of the held-out reference maps against themselves moved K pixels; no runs")
    ap.add_argument("--tta", action="store_true", help="also score each model with test-time augmentation")
    ap.add_argument("--calibrate", type=float, default=None, metavar="SECONDS",
                    help="train each variant this long first; run each budget as its fixed step count")
    ap.add_argument("--step-rate", action="store_true",
                    help="print each variant's steps/s from fixed step counts (and the ratio to the first); no runs")
    ap.add_argument("--keep", type=Path, default=None, help="copy each run's model and checkpoint into this folder")
    ap.add_argument("--rescore", type=Path, nargs="+", default=None, metavar="RUN",
                    help="score runs kept with --keep (no training); --city and --tta as for a training")
    ap.add_argument("--log", type=Path, default=REPO / "bench" / "learning.jsonl")
    a = ap.parse_args()
    base = {} if a.paper else dict(CPU_RECIPE)
    variants = [parse_variant(v, base) for v in a.variant] or [("recipe", base)]
    flags = sorted(f for f in ("avx2", "avx512_bf16", "amx_bf16") if f in Path("/proc/cpuinfo").read_text())
    print(f"{os.cpu_count()} cpu ({' '.join(flags)}), torch {torch.__version__} ({torch.get_num_threads()} threads)")
    to_score = scenes(a.city)
    if a.shifted:
        for k in a.shifted:
            iou = shifted_reference(to_score[0], k)
            print(f"reference moved {k} px: " + "  ".join(f"{c} {v:.3f}" for c, v in iou.items()))
        return
    if a.rescore:
        rescore(a, a.rescore, to_score)
        return
    with tempfile.TemporaryDirectory() as d:
        specs = aligned_specs(training_dir(Path(d), a.city, a.pairs, a.seen), "AB")
        if a.step_rate:
            step_rates(variants, specs, d)
            return
        rates = calibrate(variants, specs, a.calibrate, d) if a.calibrate else {}
        for minutes in a.minutes:
            for seed in a.seeds:
                for name, recipe in variants:
                    fixed = {"steps": max(1, round(rates[name] * minutes * 60))} if name in rates else {}
                    res = train(name, recipe | fixed, specs, seed, minutes, d)
                    if a.keep:
                        keep(Path(res.run_dir), a.keep / f"{name}-{seed}-{minutes:g}", res.step, minutes)
                    _score_run(a, name, recipe, res, seed, minutes, to_score)


def raw_generator(run_dir: str | Path) -> dict[str, torch.Tensor]:
    """The generator's weights as trained, from the run's checkpoint: its model file holds the
    average where the run kept one (``ema_decay``), and the rounds report the raw G."""
    return torch.load(Path(run_dir) / "checkpoint.pt", weights_only=True)["G"]


def _score_run(a: argparse.Namespace, name: str, recipe: dict[str, Any], res: Any, seed: int, minutes: float,
               to_score: list[Scene]) -> None:
    """Score the run's published generator and, if it averaged, its raw one too."""
    pred = Predictor(res.run_dir, "cpu")
    models = [(name, None)]
    if recipe.get("ema_decay"):
        models = [(f"{name}:ema", None), (f"{name}:raw", raw_generator(res.run_dir))]
    for label, state in models:
        if state is not None:
            pred.G.load_state_dict(state)
        for tta in (False, True) if a.tta else (False,):
            pred.tta = tta
            for scene in to_score:
                row = {"variant": label + ("+tta" if tta else ""), "seed": seed, "minutes": minutes,
                       "steps": res.step, "scene": scene.name, "city": a.city, "recipe": recipe,
                       **({"pairs": a.pairs} if a.pairs else {}), **({"seen": True} if a.seen else {}),
                       **score(pred, scene)}
                report(row, a.log)


if __name__ == "__main__":
    main()
