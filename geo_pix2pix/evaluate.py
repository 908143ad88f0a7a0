"""Scoring a model on an imagery/map pair: L1, PSNR, SSIM and pixel accuracy.

If the pair was one the model trained on, the validation windows are rebuilt with the training
split (same tile size, seed and fraction, stored in the model file), so the score is on held-out
ground only; otherwise, or with ``windows="all"``, every non-overlapping valid window counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from geo_pix2pix.metrics import ImageMetrics, MetricAccumulator
from geo_pix2pix.predict import Predictor
from geo_pix2pix.tiles.errors import NoValidDataError
from geo_pix2pix.tiles.grid import grid_windows
from geo_pix2pix.tiles.pair import PairSpec, RasterPair
from geo_pix2pix.tiles.prepare import TilerConfig, prepare_pair
from geo_pix2pix.tiles.split import SplitConfig

__all__ = ["Evaluation", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    """Metrics and which windows they cover."""

    metrics: ImageMetrics
    windows: str
    count: int


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def evaluate(model: str | os.PathLike[str], imagery: str, maps: str, windows: str = "auto",
             device: str = "auto", batch_size: int = 8, min_valid: float = 0.95) -> Evaluation:
    """Evaluate ``model`` on ``imagery``/``maps``; ``windows`` is ``auto``, ``val`` or ``all``."""
    pred = Predictor(model, device)
    meta = pred.meta
    sat2map = meta.direction == "sat2map"
    spec = PairSpec(imagery, maps,
                    meta.input_bands if sat2map else meta.output_bands,
                    meta.output_bands if sat2map else meta.input_bands)
    tile = meta.tile_size
    trained_here = any(_same(p["imagery"], imagery) and _same(p["maps"], maps) for p in meta.pairs)
    asked = windows
    if windows == "auto":
        windows = "val" if trained_here else "all"
    if windows == "val":
        split = meta.extra.get("split", {})
        prep = prepare_pair(spec, TilerConfig(tile=tile, min_valid=split.get("min_valid", min_valid),
                                              split=SplitConfig(val_fraction=split.get("val_fraction", 0.2),
                                                                seed=split.get("seed", 0)),
                                              val_aoi=split.get("val_aoi")))
        wins = list(prep.val)
        if not wins and asked == "auto":
            windows = "all"  # trained without a held-out split: score every window
        elif not wins:
            raise NoValidDataError(f"{imagery} has no held-out validation windows; use --windows all")
    acc = MetricAccumulator()
    with RasterPair(spec) as pair:
        pair.require_tile(tile)
        if windows == "all":
            wins = list(grid_windows(pair.region.height, pair.region.width, tile, 0))
        a_stats, b_stats = meta.input_stats, meta.output_stats
        count = 0
        for i in range(0, len(wins), batch_size):
            xs, ys, vs = [], [], []
            for w in wins[i:i + batch_size]:
                s = pair.read(w)
                if s.valid.mean() < min_valid:
                    continue
                a, b = (s.imagery, s.maps) if sat2map else (s.maps, s.imagery)
                xs.append(a_stats.normalize(a))
                ys.append(b_stats.normalize(b))
                vs.append(s.valid[None])
            if not xs:
                continue
            fake = pred(np.stack(xs))
            acc.add(fake, np.stack(ys), np.stack(vs))
            count += len(xs)
    if count == 0:
        raise NoValidDataError(f"no {tile}-pixel window of {imagery} has {min_valid:.0%} valid pixels")
    return Evaluation(acc.result(), windows, count)
