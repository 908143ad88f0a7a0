"""Merging the parts of a sharded translation into one Cloud Optimized GeoTIFF.

Each part (``translate --shard I/N``, :func:`~.mosaic.mosaic_raster` with a shard) holds the
rows its shard owns and, in its ``GEOPIX_SHARD`` tag, what they belong to: the job (model and
options), the source grid, the tiling, the shard's index, count and rows. Before writing
anything the merge checks that the parts belong together: one job, every index ``0..N-1``
exactly once, each part holding exactly the rows its index owns on that grid. Then it streams
the rows, top to bottom, through the same COG sink as an unsharded translation
(:func:`~.cog.cog_stream`: same strips, same overviews, same COG copy), so the merged raster's
pixels are those of a one-process run, byte for byte; its bands say what the parts' say
(:meth:`~.metadata.BandMetadata.read`). One thread does it all: reading the parts and writing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.windows import Window

from geo_pix2pix.tiles.atomic import check_output, remove_stale_partials
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.mosaic.blend import plan_mosaic
from geo_pix2pix.tiles.mosaic.cog import StreamSpec, cog_stream
from geo_pix2pix.tiles.mosaic.metadata import BandMetadata
from geo_pix2pix.tiles.mosaic.mosaicker import SHARD_TAG
from geo_pix2pix.tiles.mosaic.shard import Shard, shard_rows
from geo_pix2pix.tiles.mosaic.strips import STREAM_ROWS
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["MergeResult", "Part", "merge_parts", "read_parts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeResult:
    """What was written."""

    path: Path
    parts: int
    width: int
    height: int
    masked: bool


@dataclass(frozen=True)
class Part:
    """One shard's part: its file and its record."""

    path: Path
    record: dict[str, Any]

    @property
    def index(self) -> int:
        return int(self.record["index"])

    @property
    def rows(self) -> tuple[int, int]:
        r0, r1 = self.record["rows"]
        return int(r0), int(r1)


def _expand(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """The part files: the paths given, a folder standing for the GeoTIFFs in it."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in (".tif", ".tiff")
                           and not f.name.startswith("."))
            if not found:
                raise GeopixError(f"folder {p} holds no GeoTIFF parts")
            files.extend(found)
        elif not p.exists():
            raise GeopixError(f"part {p} does not exist")
        else:
            files.append(p)
    if not files:
        raise GeopixError("no parts given: name the part files or the folder that holds them")
    return files


def read_parts(paths: list[str | os.PathLike[str]]) -> list[Part]:
    """The parts, in shard order, checked to belong together (see the module docstring).

    Raises:
        GeopixError: naming the part that is not one, is foreign, doubled or missing.
    """
    parts = []
    for f in _expand(paths):
        with open_raster(f, "part") as src:
            tag = src.tags().get(SHARD_TAG)
            shape = (src.height, src.width, tuple(src.transform)[:6])
        if tag is None:
            raise GeopixError(f"{f} is not a shard part (no {SHARD_TAG} tag); parts are written by "
                              "geopix translate --shard I/N")
        try:
            record = json.loads(tag)
        except ValueError:
            raise GeopixError(f"{f}: its {SHARD_TAG} tag is damaged") from None
        parts.append((Part(f, record), shape))
    first = parts[0][0]

    def same_job(p: Part) -> bool:
        keys = ("job", "count", "width", "height", "transform", "crs", "tile", "overlap", "masked", "options")
        return all(p.record.get(k) == first.record.get(k) for k in keys)

    for p, _ in parts[1:]:
        if not same_job(p):
            raise GeopixError(f"part {p.path} belongs to another translation than {first.path} (another model, "
                              "options or source grid); merge the parts of one job")
    count = int(first.record["count"])
    by_index: dict[int, Part] = {}
    for p, _ in parts:
        if p.index in by_index:
            raise GeopixError(f"parts {by_index[p.index].path} and {p.path} are both shard {p.index}/{count}")
        by_index[p.index] = p
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        shown = ", ".join(f"{i}/{count}" for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise GeopixError(f"{len(missing)} of {count} parts missing: shard(s) {shown}; run "
                          "geopix translate --shard I/N for each, then merge again")
    rec = first.record
    plan = plan_mosaic(int(rec["height"]), int(rec["width"]), int(rec["tile"]), int(rec["overlap"]))
    transform = Affine(*rec["transform"])
    for p, (h, w, t) in parts:
        r0, r1 = shard_rows(plan, Shard(p.index, count)).rows
        where = tuple(transform @ Affine.translation(0, r0))[:6]
        if p.rows != (r0, r1) or (h, w) != (r1 - r0, plan.width) or not np.allclose(t, where, rtol=0, atol=1e-9):
            raise GeopixError(f"part {p.path} does not hold the rows of shard {p.index}/{count} "
                              f"({r0}..{r1} of {plan.height}); it was altered or made for another grid")
    return [by_index[i] for i in range(count)]


def merge_parts(out: str | os.PathLike[str], paths: list[str | os.PathLike[str]], overwrite: bool = False,
                progress: Callable[[int, int], None] | None = None) -> MergeResult:
    """Merge the parts of one sharded translation (files, or folders of them) into the COG ``out``.

    ``progress(rows_done, rows_total)``: called after each strip of rows.

    Raises:
        GeopixError: if the parts do not belong together (:func:`read_parts`), or ``out`` exists
            without ``overwrite`` or is one of them.
    """
    parts = read_parts(paths)
    out = check_output(out, [p.path for p in parts], overwrite)
    for stale in remove_stale_partials(out):
        log.warning("removed a stale temporary file from an interrupted run: %s", stale)
    rec = parts[0].record
    with open_raster(parts[0].path, "part") as src:
        spec = StreamSpec(int(rec["width"]), int(rec["height"]), src.count, src.dtypes[0], src.crs,
                          Affine(*rec["transform"]))
        meta = BandMetadata.read(src, drop=(SHARD_TAG,))
    masked = bool(rec["masked"])
    with_mask = masked and meta.nodata is None
    with cog_stream(out, spec, dict(rec["options"]), masked, meta) as sink:
        handles: dict[int, Any] = {}
        if progress is not None:
            progress(0, spec.height)  # the checks have passed: a reporter may start now
        try:
            for a in range(0, spec.height, STREAM_ROWS):  # the strips the one-process writer writes
                b = min(a + STREAM_ROWS, spec.height)
                data, mask = [], []
                for p in parts:
                    r0, r1 = p.rows
                    lo, hi = max(a, r0), min(b, r1)
                    if hi <= lo:
                        continue
                    src = handles.get(p.index) or handles.setdefault(p.index, open_raster(p.path, "part"))
                    window = Window(0, lo - r0, spec.width, hi - lo)
                    data.append(src.read(window=window))
                    if with_mask:
                        mask.append(src.dataset_mask(window=window) > 0)
                    if hi == r1:
                        handles.pop(p.index).close()
                sink.write(np.concatenate(data, axis=1), a, np.concatenate(mask, axis=0) if with_mask else None)
                if progress is not None:
                    progress(b, spec.height)
        finally:
            for h in handles.values():
                h.close()
    return MergeResult(out, len(parts), spec.width, spec.height, masked)
