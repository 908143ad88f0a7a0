"""Training data across one or more imagery/map pairs.

Each pair is aligned on its own (its own region, split and candidate windows); training windows
are drawn uniformly over the union of all pairs' candidates, so each pair contributes in
proportion to its valid training area. Validation windows come from every pair's held-out blocks,
or, with ``val_pairs = N``, the last N pairs are held out whole. All pairs must have the same band
counts and dtypes; their normalisation statistics are merged (uint8: fixed; otherwise the widest
per-band 2-98% range over the pairs), so one model file describes them all.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo_pix2pix.tiles.encoding.classes import ClassTable, infer_map_kind, load_class_table
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import BandError, GeopixError, NoValidDataError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.pair import PairSpec, open_pair
from geo_pix2pix.tiles.pairs.prepare import PreparedPair, TilerConfig, prepare_pair
from geo_pix2pix.tiles.pairs.sampling import WindowIndex
from geo_pix2pix.tiles.pairs.split import SplitConfig
from geo_pix2pix.training.config import TrainConfig

__all__ = ["TrainingData", "prepare_training", "merge_stats", "pair_meta", "paletted_map_warning"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingData:
    """Everything the loop needs from the rasters."""

    pairs: tuple[PreparedPair, ...]
    index: WindowIndex
    val: tuple[tuple[int, PixelWindow], ...]
    imagery_stats: BandStats
    map_stats: BandStats | ClassTable
    map_kind: str = "rendered"

    @property
    def specs(self) -> list[PairSpec]:
        return [p.spec for p in self.pairs]

    @property
    def epoch_windows(self) -> int:
        return sum(p.epoch_windows for p in self.pairs)

    @property
    def train_counts(self) -> list[int]:
        """Candidate training windows per pair, in the order of ``index`` (held-out pairs: 0)."""
        return [len(p.train) for p in self.pairs]

    @property
    def train_weights(self) -> list[float]:
        """Sampling weight per pair: its valid training area in non-overlapping tiles."""
        return [float(p.epoch_windows) for p in self.pairs]


def merge_stats(stats: list[BandStats], what: str) -> BandStats:
    """One normalisation for several pairs: fixed uint8, or the widest per-band range."""
    first = stats[0]
    for s in stats[1:]:
        if s.dtype != first.dtype or s.bands != first.bands:
            raise BandError(f"all {what} rasters must share band count and dtype: "
                            f"{first.bands} x {first.dtype} vs {s.bands} x {s.dtype}")
    mean, std = _pooled([s.mean for s in stats], [s.std for s in stats])
    if all(s.method == "fixed" for s in stats):
        return dataclasses.replace(first, mean=mean, std=std)
    low = tuple(min(s.low[b] for s in stats) for b in range(first.bands))
    high = tuple(max(s.high[b] for s in stats) for b in range(first.bands))
    return BandStats(first.dtype, low, high, "percentile", mean, std)


def _pooled(means: list[tuple[float, ...]], stds: list[tuple[float, ...]]
            ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and standard deviation of the pairs' values taken together, each pair weighted alike
    (the law of total variance: the mean within-pair variance plus the variance of the means)."""
    if not all(means):
        return (), ()
    m, s = np.asarray(means, np.float64), np.asarray(stds, np.float64)
    pooled = m.mean(axis=0)
    var = (s ** 2 + (m - pooled) ** 2).mean(axis=0)
    return tuple(float(v) for v in pooled), tuple(float(v) for v in np.sqrt(var))


def paletted_map_warning(p: PreparedPair) -> str | None:
    """A warning if a map band learnt as values (``--map-kind`` continuous or rendered) carries a
    colour table: its values are probably class codes, which such a model would draw as numbers
    (codes between two classes' codes at class borders)."""
    if not p.paletted_map_bands:
        return None
    return (f"{p.spec.maps}: map band {p.paletted_map_bands[0]} has a colour table, so its values are probably class "
            "codes, but they are learnt as numbers here (codes between two classes' codes appear at class "
            "borders); leave out --map-kind (or give --map-kind categorical) to learn them as classes")


def prepare_training(cfg: TrainConfig) -> TrainingData:
    """Align and index every pair of ``cfg``; the last ``val_pairs`` pairs are held out whole."""
    n = len(cfg.pairs)
    if cfg.val_pairs >= n:
        raise GeopixError(f"--val-pairs {cfg.val_pairs} leaves no pair to train on ({n} pair(s) given)")
    aligned = any(s.aligned for s in cfg.pairs)
    if aligned and not all(s.aligned for s in cfg.pairs):
        raise GeopixError("an aligned directory cannot be mixed with georeferenced pairs in one run")
    kind = resolve_map_kind(cfg)
    specs = tuple(dataclasses.replace(s, map_kind=kind) for s in cfg.pairs)
    no_blocks = bool(cfg.val_pairs) or aligned  # side-by-side images validate on whole held-out images
    tiler = TilerConfig(tile=cfg.tile, min_valid=cfg.min_valid,
                        split=SplitConfig(val_fraction=0.0 if no_blocks else cfg.val_fraction, seed=cfg.seed),
                        val_aoi=None if no_blocks else cfg.val_aoi)
    prepared = tuple(prepare_pair(spec, tiler, i, holdout=i >= n - cfg.val_pairs)
                     for i, spec in enumerate(specs))
    for p in prepared:
        if kind != "categorical" and (warning := paletted_map_warning(p)):
            log.warning(warning)
    train_parts = [p.train for p in prepared if len(p.train)]
    if not train_parts:
        raise NoValidDataError("no training windows in any pair")
    for p in prepared[1:]:
        if (len(p.spec.imagery_bands or ()), len(p.spec.map_bands or ())) != (
                len(prepared[0].spec.imagery_bands or ()), len(prepared[0].spec.map_bands or ())):
            raise BandError(f"pair {p.spec.imagery} has a different band count from {prepared[0].spec.imagery}; "
                            "choose bands with --imagery-bands/--map-bands")
    return TrainingData(
        pairs=prepared,
        index=WindowIndex.concat(train_parts),
        val=tuple((i, w) for i, p in enumerate(prepared) for w in p.val),
        imagery_stats=merge_stats([p.imagery_stats for p in prepared], "imagery"),
        map_stats=map_codec(cfg, kind, prepared),
        map_kind=kind,
    )


def map_codec(cfg: TrainConfig, kind: str, prepared: tuple[PreparedPair, ...]) -> BandStats | ClassTable:
    """How map values are encoded for the networks: a class table for a categorical map; for a
    continuous one the widened range (:meth:`~geo_pix2pix.tiles.encoding.normalize.BandStats.widened`), written
    as float32 in the map's units with its nodata when the map is the target; the plain statistics
    for a rendered map."""
    if cfg.classes_from_palette:
        from geo_pix2pix.evaluation.palette import load_palette

        if prepared[0].map_stats.bands != 3:
            raise BandError(f"--classes-from-palette reads RGB maps; the map has {prepared[0].map_stats.bands} band(s)")
        return load_palette(cfg.classes_from_palette).class_table()
    if kind == "categorical":
        return class_table(cfg, prepared)
    stats = merge_stats([p.map_stats for p in prepared], "map")
    if kind != "continuous":
        return stats
    with open_pair(prepared[0].spec) as pair:
        info = pair.map_info()
    units, nodata = info.units, info.nodata
    if cfg.direction == "sat2map":  # the output: float32, the map's nodata (NaN if none)
        return stats.widened("float32", nodata, units)
    return stats.widened(stats.dtype, None, units)  # an input: read in its own dtype, never clipped early


def resolve_map_kind(cfg: TrainConfig, announce: bool = True) -> str:
    """``cfg.map_kind``, or the kind inferred from the first pair's map (announced, since it decides
    the loss, the output and the resampling; ``--map-kind`` overrides it; ``announce=False``: a
    look ahead of training, which announces it)."""
    from geo_pix2pix.runtime.progress import NOTICE

    spec = cfg.pairs[0]
    if cfg.task == "inpaint":  # the "map" is the imagery itself, read as a picture, never as classes
        return "rendered"
    if cfg.classes_from_palette:
        if cfg.map_kind not in ("auto", "categorical") or cfg.class_table:
            raise GeopixError("--classes-from-palette reads the map as classes: it cannot be combined with "
                              f"--map-kind {cfg.map_kind} or --class-table")
        return "categorical"
    if cfg.map_kind != "auto":
        kind = cfg.map_kind
    elif spec.aligned:
        kind = "rendered"  # side-by-side pictures
    else:
        with open_pair(spec) as pair:
            info, bands = pair.map_info(), pair.map_bands
            colors, dtype = info.colors is not None, info.dtype
            distinct = len(pair.map_codes()) if len(bands) == 1 and np.issubdtype(np.dtype(dtype), np.integer) else None
        kind = infer_map_kind(dtype, len(bands), colors, distinct)
        why = ("it has a colour table" if colors else f"one {dtype} band with {distinct} distinct values"
               if kind == "categorical" else f"{len(bands)} {dtype} band(s)")
        log.log(NOTICE if announce else logging.DEBUG, "map kind: %s (%s; --map-kind to override)", kind, why)
    if kind == "categorical" and not cfg.classes_from_palette and len(spec.map_bands or (1,)) != 1:
        raise GeopixError("a categorical map is one band of class codes; choose it with --map-bands N, or use "
                          "--map-kind rendered for a picture of a map")
    if cfg.class_table and kind != "categorical":
        raise GeopixError(f"--class-table describes class codes, but the map is {kind} (--map-kind categorical?)")
    return kind


def class_table(cfg: TrainConfig, prepared: tuple[PreparedPair, ...]) -> ClassTable:
    """The classes of a categorical map: the codes found in every pair's valid pixels (and those a
    class table file lists), named and coloured by the file or the first map's colour table."""
    found: set[int] = set()
    colors: dict[int, tuple[int, ...]] = {}
    nodata = None
    for i, p in enumerate(prepared):
        with open_pair(p.spec) as pair:
            values = pair.map_codes()
            fractional = values[values != np.round(values)]
            if fractional.size:  # float rasters often hold integer codes; anything else is no class
                raise GeopixError(f"map {p.spec.maps} holds values such as {fractional[0]:g} that are not integer "
                                  "class codes (--map-kind continuous?)")
            found.update(int(c) for c in values)
            if i == 0:
                info = pair.map_info()
                nodata, colors = info.nodata, info.colors or {}
    names: dict[int, str] = {}
    codes = sorted(found)
    if cfg.class_table:
        listed, names, file_colors = load_class_table(cfg.class_table)
        unknown = sorted(found - set(listed))
        if unknown:
            raise GeopixError(f"the map holds codes {', '.join(map(str, unknown))} that class table "
                              f"{cfg.class_table} does not list; add them (or mark them nodata in the map)")
        codes, colors = listed, {**colors, **file_colors}
    if not codes:
        raise NoValidDataError("the categorical map has no valid pixels")
    table = ClassTable.build(codes, names, colors, nodata)
    log.info("classes: %s", ", ".join(f"{c} {n}" for c, n in zip(table.codes, table.names, strict=True)))
    return table


def pair_meta(p: PreparedPair) -> dict[str, Any]:
    """What the model file records about a training pair."""
    crs_name = None
    if p.crs:
        from rasterio.crs import CRS

        c = CRS.from_wkt(p.crs)
        crs_name = c.to_string() if c.to_epsg() else (c.to_dict().get("proj") or "custom")
    from geo_pix2pix.tiles.raster import default_bands, open_raster

    counts = {}
    if not p.spec.aligned:  # bands a region may have without naming them (translate --bands)
        for side, path in (("imagery_count", p.spec.imagery), ("map_count", p.spec.maps)):
            with open_raster(path) as src:
                counts[side] = len(default_bands(src))
    return {"imagery": os.path.abspath(p.spec.imagery), "maps": os.path.abspath(p.spec.maps), "crs": p.crs, **counts,
            "crs_name": crs_name, "pixel_size": list(p.pixel_size),
            "imagery_bands": list(p.spec.imagery_bands or ()), "map_bands": list(p.spec.map_bands or ()),
            "held_out": p.split.method == "holdout", "aligned": p.spec.aligned}
