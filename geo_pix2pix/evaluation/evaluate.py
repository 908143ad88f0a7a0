"""Scoring a model on imagery/map pairs: L1, PSNR, SSIM, pixel accuracy, and palette classes.

If a pair was one the model trained on, its validation windows are rebuilt with the training split
(same tile size, seed and fraction, stored in the model file), so the score is on held-out ground
only; otherwise, or with ``windows="all"``, every non-overlapping valid window counts. Those
windows are as large as the tiles ``geopix translate`` would use on the pair (:func:`default_tile`:
256 pixels for a model trained on 64, or a given ``tile``), so the score is that of the maps a
user gets: a model trained on small windows, scored on windows of its training size, would lose
the context at every window border that translate gives it. With a
palette, each pixel of prediction and reference is classified by its nearest palette colour and
per-class IoU and mIoU are reported (maps with 3 uint8 bands).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from geo_pix2pix.evaluation.metrics import ImageMetrics, MetricAccumulator, ValueAccumulator
from geo_pix2pix.evaluation.palette import ClassAccumulator, Palette
from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.inference.predict import Predictor
from geo_pix2pix.inference.tiling import check_tile, check_tile_memory, default_tile
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError, NoValidDataError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow, grid_windows
from geo_pix2pix.tiles.pairs.pair import PairSpec, open_pair
from geo_pix2pix.tiles.pairs.prepare import TilerConfig, prepare_pair
from geo_pix2pix.tiles.pairs.reader import PairReader
from geo_pix2pix.tiles.pairs.split import SplitConfig

__all__ = ["Evaluation", "evaluate", "evaluate_pairs"]


@dataclass(frozen=True)
class Evaluation:
    """Metrics, which windows they cover, and palette classes when asked for."""

    metrics: ImageMetrics
    windows: str
    count: int
    tiles: tuple[int, ...] = ()
    class_iou: dict[str, float] | None = None
    miou: float | None = None
    tta: bool = False
    categorical: bool = False
    confusion: tuple[tuple[int, ...], ...] | None = None
    values: dict[str, object] | None = None

    @property
    def baseline(self) -> tuple[str, float] | None:
        """The majority reference class and its share of the scored pixels: the accuracy of a map
        that says that class everywhere, which a class model's accuracy must beat to mean anything
        (a roads mask is mostly background). ``None`` without a confusion matrix."""
        if not self.confusion or self.class_iou is None:
            return None
        counts = [sum(row) for row in self.confusion]
        total = sum(counts)
        if not total:
            return None
        top = max(range(len(counts)), key=counts.__getitem__)
        return list(self.class_iou)[top], counts[top] / total

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {**self.metrics.to_dict(), "windows": self.windows, "count": self.count,
                                "tile_sizes": list(self.tiles), "tta": self.tta}
        if self.categorical:
            d = {"accuracy": self.metrics.pixel_accuracy, "windows": self.windows, "count": self.count,
                 "tile_sizes": list(self.tiles), "tta": self.tta}
        if self.class_iou is not None:
            d.update(class_iou=self.class_iou, mIoU=self.miou)
        if self.values is not None:
            d["values"] = self.values
        if self.baseline is not None:
            d["majority_baseline"] = {"class": self.baseline[0], "accuracy": self.baseline[1]}
        if self.confusion is not None:
            d["confusion"] = {"rows": "reference class", "columns": "predicted class",
                              "classes": list(self.class_iou or ()), "counts": [list(r) for r in self.confusion]}
        return d


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _val_windows(spec: PairSpec, pred: Predictor, min_valid: float, tile: int | None
                 ) -> list[PixelWindow] | None:
    """Held-out windows of ``spec`` if the model trained on it or held it out, else ``None``.

    A held-out pair is scored whole, on translate-sized windows; a training pair only on its
    validation blocks, which are windows of the training tile.
    """
    meta = pred.meta
    mine = [p for p in meta.pairs if _same(p["imagery"], spec.imagery) and _same(p["maps"], spec.maps)]
    if not mine:
        return None
    if mine[0].get("held_out"):
        return _all_windows(spec, meta.tile_size, tile)
    split = meta.extra.get("split", {})
    if spec.aligned or split.get("val_pairs"):
        return []  # a training image/pair: validation was on held-out pairs only
    prep = prepare_pair(spec, TilerConfig(tile=meta.tile_size, min_valid=split.get("min_valid", min_valid),
                                          split=SplitConfig(val_fraction=split.get("val_fraction", 0.2),
                                                            seed=split.get("seed", 0)),
                                          val_aoi=split.get("val_aoi")))
    return list(prep.val)


def _all_windows(spec: PairSpec, trained: int, tile: int | None) -> list[PixelWindow]:
    """Non-overlapping windows over the whole pair, of ``tile`` or translate's default size."""
    with open_pair(spec) as pair:
        size = tile or default_tile(trained, pair.region.height, pair.region.width)
        pair.require_tile(size)
        return list(grid_windows(pair.region.height, pair.region.width, size, 0))


def _select(specs: list[PairSpec], pred: Predictor, windows: str, min_valid: float, tile: int | None
            ) -> tuple[str, list[tuple[PairSpec, list[PixelWindow]]]]:
    """Which windows to score: held-out ones (``val``), every one (``all``), or ``auto``."""
    trained = pred.meta.tile_size
    if windows == "all":
        return "all", [(s, _all_windows(s, trained, tile)) for s in specs]
    val = [(s, _val_windows(s, pred, min_valid, tile)) for s in specs]
    chosen = [(s, w) for s, w in val if w]
    if chosen:
        return "val", chosen
    if windows == "val":
        raise NoValidDataError("none of these pairs has held-out validation windows of this model; "
                               "use --windows all")
    return "all", [(s, _all_windows(s, trained, tile)) for s in specs]


class _Scores:
    """What one evaluation adds its batches to: image metrics, errors in the map's units (one-band
    measured values), and classes (a categorical model's codes, or RGB maps read by a palette)."""

    def __init__(self, meta: ModelMeta, palette: Palette | None) -> None:
        out = meta.output_stats
        self.table = out if isinstance(out, ClassTable) else None
        self.denormalize = out.denormalize
        self.images = MetricAccumulator()
        self.values = (ValueAccumulator(min(out.low), max(out.high))
                       if isinstance(out, BandStats) and out.method == "robust" and out.bands == 1 else None)
        names = palette if palette is not None else self.table.names if self.table is not None else None
        self.classes = ClassAccumulator(names) if names is not None else None
        self.count = 0

    def add(self, fake: np.ndarray, real: np.ndarray, valid: np.ndarray, raws: list[np.ndarray]) -> None:
        """A batch: network outputs, targets (normalised, or class indexes), validity, raw map values."""
        self.count += len(fake)
        if self.table is not None and self.classes is not None:  # codes: the arg-max class against the reference's
            self.classes.add_indices(fake.argmax(1), real, valid)
            return
        self.images.add(fake, real, valid)
        if self.values is not None:  # measured values: errors in the map's units
            self.values.add(self.denormalize(fake[:, 0]), np.stack(raws), valid[:, 0])
        if self.classes is not None:  # RGB maps read as classes by the palette
            rgb = self.denormalize
            self.classes.add(np.stack([rgb(f) for f in fake]), np.stack([rgb(r) for r in real]), valid)

    def result(self, mode: str, sizes: tuple[int, ...], tta: bool) -> Evaluation:
        c = self.classes
        if self.table is not None and c is not None:
            nan = float("nan")
            return Evaluation(ImageMetrics(nan, nan, nan, c.accuracy(), self.count), mode, self.count, sizes,
                              c.iou(), c.miou(), tta, True, tuple(tuple(int(v) for v in row) for row in c.confusion))
        values = self.values.result() if self.values is not None else None
        return Evaluation(self.images.result(), mode, self.count, sizes, c.iou() if c else None,
                          c.miou() if c else None, tta, values=values)


def _batch(pair: PairReader, wins: list[PixelWindow], meta: ModelMeta, scores: _Scores, min_valid: float
           ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Inputs, targets, validity, raw map values and the input's own validity (what the predictor
    fills, as translate's does) of the windows with enough valid pixels."""
    xs, ys, vs, raws, ins = [], [], [], [], []
    for w in wins:
        s = pair.read(w)
        if s.valid.mean() < min_valid:
            continue
        sat2map = meta.direction == "sat2map"
        a, b = (s.imagery, s.maps) if sat2map else (s.maps, s.imagery)
        ins.append((s.imagery_valid if sat2map else s.maps_valid)[None])
        xs.append(meta.input_stats.normalize(a))
        ys.append(scores.table.class_indices(b) if scores.table is not None else meta.output_stats.normalize(b))
        vs.append(s.valid[None])
        if scores.values is not None:
            raws.append(b[0].astype(np.float64))
    return xs, ys, vs, raws, ins


def evaluate_pairs(model: str | os.PathLike[str], specs: list[PairSpec], windows: str = "auto",
                   device: str = "auto", batch_size: int = 8, min_valid: float = 0.95,
                   palette: Palette | None = None, amp: bool = True, tile: int | None = None,
                   tta: bool = False) -> Evaluation:
    """Evaluate ``model`` on every pair of ``specs``; ``windows`` is ``auto``, ``val`` or ``all``.

    ``tile``: side of the windows scored on whole pairs (default: what translate would use).
    ``tta``: score the 8-transform average translate makes with ``--tta``.
    """
    pred = Predictor(model, device, amp, tta)
    meta = pred.meta
    if tile is not None:
        check_tile(pred, tile)
        check_tile_memory(pred, tile, batch_size)
    out = meta.output_stats
    if palette is not None and (isinstance(out, ClassTable) or out.bands != 3 or out.dtype != "uint8"):
        raise GeopixError("--palette needs a model whose output is a 3-band uint8 (RGB) map" + (
            "; this model writes class codes, scored per class without one" if isinstance(out, ClassTable) else ""))
    scores = _Scores(meta, palette)
    sat2map = meta.direction == "sat2map"
    specs = [PairSpec(s.imagery, s.maps, meta.input_bands if sat2map else meta.output_bands,
                      meta.output_bands if sat2map else meta.input_bands, s.resampling, s.aligned, meta.map_kind)
             for s in specs]
    mode, selected = _select(specs, pred, windows, min_valid, tile)
    sizes = tuple(sorted({w.height for _, wins in selected for w in wins}))
    for spec, wins in selected:
        with open_pair(spec) as pair:
            for i in range(0, len(wins), batch_size):
                xs, ys, vs, raws, ins = _batch(pair, wins[i:i + batch_size], meta, scores, min_valid)
                if xs:
                    scores.add(pred(np.stack(xs), valid=np.stack(ins)), np.stack(ys), np.stack(vs), raws)
    if scores.count == 0:
        size = "/".join(map(str, sizes)) or str(meta.tile_size)
        raise NoValidDataError(f"no {size}-pixel window with {min_valid:.0%} valid pixels to evaluate")
    return scores.result(mode, sizes, tta)


def evaluate(model: str | os.PathLike[str], imagery: str, maps: str, windows: str = "auto",
             device: str = "auto", batch_size: int = 8, min_valid: float = 0.95,
             palette: Palette | None = None, amp: bool = True, tile: int | None = None,
             tta: bool = False) -> Evaluation:
    """Evaluate ``model`` on one imagery/map pair."""
    return evaluate_pairs(model, [PairSpec(imagery, maps)], windows, device, batch_size, min_valid, palette, amp,
                          tile, tta)
