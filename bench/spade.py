"""SPADE (GauGAN, issue 19) on real data: map -> imagery against Pix2Pix, a real vector layout,
and the cost of a tile.

``maps256``: the 32/8 split of ``../shared/data/maps256`` (the last 8 images held out whole), map ->
satellite. ``pix2pix``: the Pix2Pix CPU recipe with ``--direction map2sat`` (the rendered map as
RGB input); ``spade``: the SPADE CPU recipe with the layout read through the beige palette
(``--classes-from-palette``) and ``--style-encoder``. Both for the same budget on this machine,
either wall-clock minutes or (``--calibrate S``) fixed step counts from S quiet seconds each, as in
``bench/map_kinds.py``. Scored on the 8 held-out images: L1 and SSIM against the real photo; per
class (the held-out map classified by the palette) the distance between the mean colour painted
and the real photo's mean colour there (0-255 RGB units: does water look like water); diversity:
the mean over pixels of the standard deviation across 4 random styles (``seed`` 0-3; 0 for a
deterministic model); and a preview PNG (map | photo | pix2pix | spade in 2 styles) of the 8.

``spacenet``: the SpaceNet 4 Atlanta panchromatic image (900 x 900 uint16, 0.5 m) with its 43
building polygons as the layout (``--layout``): trained for the budget, the layout translated back
onto the image's grid with ``--like``, and a preview (layout | real | painted).

``cost``: seconds per 256 x 256 tile (batch 1, inference, bf16 autocast and float32) of the SPADE
generator (CPU recipe and paper) against the Pix2Pix U-Net (CPU recipe and paper), interleaved
rounds in one process, medians after two warm-up rounds; 6 layout classes (the beige palette).

    .venv/bin/python bench/spade.py maps256 [--minutes 20] [--seeds 0 1] [--calibrate 120] [--preview out.png]
    .venv/bin/python bench/spade.py spacenet [--minutes 10] [--preview out.png]
    .venv/bin/python bench/spade.py cost [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from geo_pix2pix.api import load_model
from geo_pix2pix.evaluation.metrics import MetricAccumulator
from geo_pix2pix.evaluation.palette import load_palette
from geo_pix2pix.tiles.pairs.aligned import aligned_specs
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.loop import fit
from geo_pix2pix.training.recipes import apply_recipe

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PALETTE = REPO / "examples" / "palettes" / "google_maps_pix2pix.json"
N_EVAL = 8
STYLES = 4


def config(family: str, specs: list[PairSpec], out: Path, seconds: float | None, seed: int, steps: int = 1000,
           **changes: object) -> TrainConfig:
    cfg = TrainConfig(pairs=tuple(specs), out=str(out), family=family, direction="map2sat", time_budget=seconds,
                      steps=steps, seed=seed, device="cpu", val_every=10**9, checkpoint_every=10**9)
    return apply_recipe(cfg, "cpu")[0].with_(**changes)


VARIANTS = {
    "pix2pix": ("pix2pix", {}),
    "spade": ("spade", {"classes_from_palette": str(PALETTE), "family_options": {"style_encoder": True}}),
}


def _halves(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A side-by-side maps256 image -> (photo, map), each (3, 256, 256) uint8."""
    a = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)
    w = a.shape[2] // 2
    return a[:, :, :w], a[:, :, w:]


def score(run: Path, specs: list[PairSpec], palette, preview: list[list[np.ndarray]] | None) -> dict[str, float]:
    model = load_model(run, device="cpu")
    styled = bool(getattr(model.meta.generator, "style_dim", 0))
    acc = MetricAccumulator()
    colour_err: dict[str, list[float]] = {}
    spreads = []
    for i, spec in enumerate(specs):
        photo, mp = _halves(spec.imagery)
        fake = np.asarray(model.predict(mp, tile=256, overlap=0))
        acc.add(fake[None] / 127.5 - 1, photo[None] / 127.5 - 1, np.ones((1, 1, *photo.shape[1:]), bool))
        cls = palette.classify(mp)
        for k, name in enumerate(palette.classes):
            sel = cls == k
            if sel.sum() >= 50:  # a class on a handful of pixels has no mean colour worth comparing
                d = fake[:, sel].astype(float).mean(1) - photo[:, sel].astype(float).mean(1)
                colour_err.setdefault(name, []).append(float(np.sqrt((d ** 2).sum())))
        draws = [fake]
        if styled:
            draws = [np.asarray(model.predict(mp, tile=256, overlap=0, seed=s)) for s in range(STYLES)]
            spreads.append(float(np.stack(draws).astype(float).std(axis=0).mean()))
        if preview is not None:
            if len(preview) <= i:
                preview.append([mp, photo])
            preview[i] += draws[:2] if styled else [fake]
    m = acc.result()
    row = {"L1": m.L1, "SSIM": m.SSIM, "diversity": float(np.mean(spreads)) if spreads else 0.0}
    row.update({f"colour {k}": float(np.mean(v)) for k, v in colour_err.items()})
    return row


def maps256(a: argparse.Namespace, d: Path) -> None:
    specs = aligned_specs(SHARED / "maps256", "AB")
    held = specs[-N_EVAL:]
    palette = load_palette(PALETTE)
    budgets: dict[str, int] = {}
    if a.calibrate:
        for v, (family, changes) in VARIANTS.items():
            res = fit(config(family, specs, d / f"cal-{v}", a.calibrate, 0, val_pairs=N_EVAL, **changes),
                      progress=False)
            budgets[v] = max(1, round(res.step / a.calibrate * a.minutes * 60))
            print(f"calibration {v}: {res.step} steps in {a.calibrate:g} s -> {budgets[v]} steps", flush=True)
    preview: list[list[np.ndarray]] | None = [] if a.preview else None
    for seed in a.seeds:
        for v, (family, changes) in VARIANTS.items():
            cfg = config(family, specs, d / f"{v}{seed}", None if budgets else a.minutes * 60, seed,
                         steps=budgets.get(v, 1000), val_pairs=N_EVAL, **changes)
            res = fit(cfg, progress=False)
            row = score(res.run_dir, held, palette, preview if seed == a.seeds[0] else None)
            print(f"{v:8s} seed {seed}: steps {res.step}  " + "  ".join(f"{k} {x:.3f}" for k, x in row.items()),
                  flush=True)
    if preview:
        Image.fromarray(np.concatenate([np.concatenate(r, axis=2) for r in preview], axis=1).transpose(1, 2, 0)
                        ).save(a.preview)
        print(f"preview: {a.preview} (rows: held-out images; map | photo | pix2pix | spade style 0 | style 1)")


def spacenet(a: argparse.Namespace, d: Path) -> None:
    from geo_pix2pix.inference.vector_layouts import VectorRegion, layout_pairs
    from geo_pix2pix.tiles.encoding.layout import Grid, LayoutSpec

    pan = SHARED / "geotiff" / "solaris" / "sample_geotiff.tif"
    spec = LayoutSpec((f"buildings={SHARED / 'vector' / 'solaris' / 'geotiff_labels.geojson'}",))
    pairs, table = layout_pairs([str(pan)], spec, d / "layouts")
    cfg = config("spade", [PairSpec(*pairs[0])], d / "run", a.minutes * 60, 0, class_table=table,
                 map_kind="categorical")
    res = fit(cfg, progress=False)
    model = load_model(res.run_dir, device="cpu")
    out = d / "painted.tif"
    model.translate(VectorRegion(spec, Grid.like(pan)), out)
    import rasterio

    with rasterio.open(pan) as s, rasterio.open(out) as o, rasterio.open(pairs[0][1]) as lay:
        real, fake, codes = s.read(1).astype(float), o.read(1).astype(float), lay.read(1)
        same_grid = (s.transform, s.crs, s.shape) == (o.transform, o.crs, o.shape)
        dtype = o.dtypes[0]
    valid = real > 0
    lo, hi = np.percentile(real[valid], (2, 98))
    err = {n: float(np.abs(fake[(codes == c) & valid].mean() - real[(codes == c) & valid].mean()))
           for c, n in zip(model.meta.input_stats.codes, model.meta.input_stats.names, strict=True)}
    print(f"spacenet: steps {res.step}; output {dtype} on the image's grid: {same_grid}; L1 "
          f"{np.abs(fake - real)[valid].mean():.1f} DN against {np.abs(real - real[valid].mean())[valid].mean():.1f} "
          f"for a constant (the image mean; image 2-98% range {lo:.0f}-{hi:.0f} DN); |mean painted - "
          f"mean real| per class: " + ", ".join(f"{k} {v:.1f} DN" for k, v in err.items()), flush=True)
    if a.preview:
        def grey(x: np.ndarray) -> np.ndarray:
            return (np.clip((x - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)

        strip = Image.fromarray(np.concatenate([(codes * 255).astype(np.uint8), grey(real), grey(fake)], axis=1))
        strip.resize((strip.width // 2, strip.height // 2), Image.LANCZOS).save(a.preview)  # half size
        print(f"preview: {a.preview} (layout | real | painted)")


def cost(a: argparse.Namespace) -> None:
    from geo_pix2pix.families.spade import CPU as SPADE_CPU
    from geo_pix2pix.models.registry import GeneratorConfig, build_generator
    from geo_pix2pix.models.spade import SPADEGenerator

    nets = {"spade (CPU recipe: ngf 16, hidden 32, n_up 4)":
            SPADEGenerator(6, 3, SPADE_CPU["ngf"], SPADE_CPU["n_up"], SPADE_CPU["spade_hidden"], 0),
            "spade (paper: ngf 64, hidden 128, n_up 5)": SPADEGenerator(6, 3, 64, 5, 128, 0),
            "pix2pix U-Net (CPU recipe: ngf 32)": build_generator(GeneratorConfig(in_channels=3, ngf=32, tile=256)),
            "pix2pix U-Net (paper: ngf 64)": build_generator(GeneratorConfig(in_channels=3, ngf=64, tile=256))}
    for net in nets.values():
        net.eval()
    x6 = torch.randn(1, 6, 256, 256).sign()
    x3 = torch.rand(1, 3, 256, 256) * 2 - 1
    for amp in (True, False):
        times: dict[str, list[float]] = {k: [] for k in nets}
        for _ in range(a.rounds):
            for name, net in nets.items():
                x = x6 if name.startswith("spade") else x3
                with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=amp):
                    t = time.perf_counter()
                    net(x)
                    times[name].append(time.perf_counter() - t)
        base = statistics.median(times["pix2pix U-Net (paper: ngf 64)"][2:])  # the first rounds warm up
        for name, ts in times.items():
            med = statistics.median(ts[2:])
            print(f"{'bf16' if amp else 'fp32'} {name:45s}: {med * 1000:7.1f} ms / 256 tile  "
                  f"({med / base:.2f}x the paper U-Net)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=("maps256", "spacenet", "cost"))
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--calibrate", type=float, default=None, metavar="SECONDS")
    ap.add_argument("--preview", default=None)
    ap.add_argument("--rounds", type=int, default=20)
    a = ap.parse_args()
    flags = " ".join(f for f in ("avx2", "avx512_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text())
    print(f"{os.cpu_count()} cpu ({flags}), torch {torch.__version__}, {torch.get_num_threads()} threads; {a.case}",
          flush=True)
    if a.case == "cost":
        cost(a)
        return
    with tempfile.TemporaryDirectory() as d:
        {"maps256": maps256, "spacenet": spacenet}[a.case](a, Path(d))


if __name__ == "__main__":
    main()
