"""Stress of the streaming writers: many small rasters, random timing, references that do not stream.

Each round draws a raster (dtype, bands, odd or even sides, a mask of some kind), a tiling (tile,
overlap, batch), a COG ``BLOCKSIZE`` and output values, then writes it through every writer that
streams, with random delays injected into the reader, the predictor and the writer:

* translate (:func:`~geo_pix2pix.tiles.mosaic.mosaicker.mosaic_raster`), whose full resolution
  must equal :func:`~geo_pix2pix.tiles.mosaic.arrays.mosaic_array` (the in-memory mosaic,
  ``Model.predict``'s path) of the same input byte for byte, with the input's mask;
* its shards' merge (:func:`~geo_pix2pix.tiles.mosaic.merge.merge_parts`), whose pixels and
  levels must equal the unsharded output's;
* inpaint's fill (:func:`~geo_pix2pix.tiles.mosaic.fill.fill_raster`), whose pixels must be the
  input's, with the filled ones taken from ``mosaic_array`` of the holed input (every tile that
  holds a pixel to fill is run, so its blend is the in-memory mosaic's).

Every overview level of each output must equal GDAL's overviews of the same full-resolution
pixels: the output copied by GDAL to a plain GeoTIFF, then to a COG with the same options.

Delays: the reader (``TileReader``), the predict function and the sink's ``write`` each sleep a
random 0 to ``max_delay`` seconds, so any thread may run ahead of or behind the others. Inside
GDAL, the block cache is held to a few bytes (every block written is flushed at the next block any
thread touches) and, where GDAL was started with ``GDAL_DEBUG_BLOCK_CACHE=ON``, GDAL sleeps a random
time between taking a block out of its cache and writing it: the window in which a block one
thread flushes can be read back stale by another. :func:`main` runs the rounds in this process
and sets that variable for a fresh one (``python -m tests.tiles.mosaic.stream_stress``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.holes.plan import FILLED, KEPT, plan_holes
from geo_pix2pix.tiles.mosaic import cog, mosaicker, overviews
from geo_pix2pix.tiles.mosaic.arrays import mosaic_array
from geo_pix2pix.tiles.mosaic.fill import fill_raster
from geo_pix2pix.tiles.mosaic.merge import merge_parts
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, mosaic_raster
from geo_pix2pix.tiles.mosaic.shard import Shard
from tests.tiles.mosaic.stress_cases import HIGH, Case, draw_case, model, source, streams_overviews

__all__ = ["run_round", "run_rounds", "run_fresh", "streams_overviews", "main"]

#: GDAL's debug sleeps (seconds, drawn per round up to this): after a block leaves the cache and
#: before it is written, and after the cache lock is dropped.
GDAL_SLEEPS = {"GDAL_RB_INTERNALIZE_SLEEP_AFTER_DETACH_BEFORE_WRITE": 0.004,
               "GDAL_RB_INTERNALIZE_SLEEP_AFTER_DROP_LOCK": 0.001}


class Delays:
    """Random sleeps of 0 to ``max_delay`` seconds, counted by who took them."""

    def __init__(self, seed: int, max_delay: float) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.max_delay = max_delay
        self.calls: dict[str, int] = {}

    def __call__(self, who: str) -> None:
        with self._lock:
            self.calls[who] = self.calls.get(who, 0) + 1
            s = self._rng.random() * self.max_delay if self._rng.random() < 0.7 else 0.0
        if s:
            time.sleep(s)


def _wrap(owner: Any, name: str, delays: Delays, who: str) -> Callable[[], None]:
    original = getattr(owner, name)

    def slow(*args: Any, **kwargs: Any) -> Any:
        delays(who)
        out = original(*args, **kwargs)
        delays(who)
        return out

    setattr(owner, name, slow)
    return lambda: setattr(owner, name, original)


def _piecewise(owner: Any, name: str, delays: Delays) -> Callable[[], None]:
    """The reader's window reads cut into reads of one row, one after the other, so that it is in
    GDAL, taking blocks into the cache (and others out), for as long as the writer works."""
    original = getattr(owner, name)

    def slow(self: Any, r0: int, r1: int, *cols: int) -> np.ndarray:
        delays("reader")
        return np.concatenate([original(self, r, r + 1, *cols) for r in range(r0, r1)], axis=1)

    setattr(owner, name, slow)
    return lambda: setattr(owner, name, original)


@contextlib.contextmanager
def injected(delays: Delays) -> Iterator[None]:
    """Delays in the reader (every tile read, and between pieces of each window it reads) and the
    writer (every sink write) of every streaming writer; the predictor's are in :func:`_predict`.
    The GDAL cache held to a few bytes."""
    tiles = "tiles" if hasattr(mosaicker.TileReader, "tiles") else "row_tiles"  # today's, or before issue 29
    read = "_read" if hasattr(mosaicker.TileReader, "_read") else "_read_rows"
    undo = [_wrap(mosaicker.TileReader, tiles, delays, "reader"),
            _piecewise(mosaicker.TileReader, read, delays),
            _wrap(cog.RowSink, "write", delays, "writer"),
            _wrap(overviews.OverviewPyramid, "add", delays, "overviews")]
    cache = getattr(cog, "GDAL_CACHE_BYTES", None)
    try:
        if cache is not None:
            cog.GDAL_CACHE_BYTES = 1  # every block leaves the cache at the next one
        yield
    finally:
        if cache is not None:
            cog.GDAL_CACHE_BYTES = cache
        for u in undo:
            u()


def _predict(delays: Delays, out_bands: int) -> Callable[..., np.ndarray]:
    def predict(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        delays("predict")
        return model(x, out_bands)
    return predict


def _fill_predict(delays: Delays, bands: int) -> Callable[..., np.ndarray]:
    """The fill's predict: ``(tiles, unknown)``, the model side zeroes the unknown pixels and adds
    the mask channel (as an inpainting model does); an older one-argument fill passed that input whole."""
    def predict(x: np.ndarray, unknown: np.ndarray | None = None) -> np.ndarray:
        delays("predict")
        if unknown is None:
            return model(x, bands)
        return model(np.concatenate([np.where(unknown, np.float32(0), x), unknown.astype(np.float32)], 1), bands)
    return predict


def _levels(path: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Every overview level as stored, the full resolution and its dataset mask."""
    with rasterio.open(path) as ds:
        full, mask, n = ds.read(), ds.dataset_mask(), len(ds.overviews(1))
    levels = []
    for k in range(n):
        with rasterio.open(path, overview_level=k) as level:
            levels.append(level.read())
    return levels, full, mask


def _gdal_levels(out: Path, options: dict[str, str], work: Path) -> list[np.ndarray]:
    """GDAL's overviews of ``out``'s full-resolution pixels (and mask), with ``options``."""
    flat, ref = work / f"{out.stem}.flat.tif", work / f"{out.stem}.gdal.tif"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        rasterio.shutil.copy(str(out), str(flat), driver="GTiff")
        rasterio.shutil.copy(str(flat), str(ref), driver="COG", **options)
    return _levels(ref)[0]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if np.issubdtype(a.dtype, np.floating):  # GDAL averages floats in another order: the last bit
        return bool(np.allclose(a, b, rtol=1e-6, atol=0, equal_nan=True))
    return bool(np.array_equal(a, b))


def _compare_levels(what: str, ours: list[np.ndarray], gdal: list[np.ndarray]) -> list[str]:
    if len(ours) != len(gdal):
        return [f"{what}: {len(ours)} overview levels, GDAL makes {len(gdal)}"]
    bad = []
    for k, (a, b) in enumerate(zip(ours, gdal, strict=True)):
        if not _same(a, b):
            diff = np.argwhere(~np.isclose(a, b, rtol=1e-6, atol=0, equal_nan=True)) if a.shape == b.shape else None
            where = "" if diff is None or not len(diff) else f", rows {diff[:, 1].min()}..{diff[:, 1].max()}"
            bad.append(f"{what}: overview level {k} {a.shape} differs from GDAL's in "
                       f"{0 if diff is None else len(diff)} values{where}")
    return bad


def _stats(case: Case) -> tuple[BandStats, BandStats]:
    in_stats = BandStats(case.in_dtype, (0.0,) * case.in_bands, (HIGH[case.in_dtype],) * case.in_bands)
    out_stats = BandStats(case.out_dtype, (0.0,) * case.out_bands, (HIGH[case.out_dtype],) * case.out_bands,
                          nodata=case.out_nodata)
    return in_stats, out_stats


def _check_translate(case: Case, src: Path, data: np.ndarray, valid: np.ndarray, delays: Delays,
                     work: Path) -> list[str]:
    in_stats, out_stats = _stats(case)
    options = {"BLOCKSIZE": str(case.blocksize)}
    cfg = MosaicConfig(tuple(range(1, case.in_bands + 1)), in_stats, out_stats, case.tile, case.overlap,
                       case.batch, options)
    out = mosaic_raster(src, work / "out.tif", _predict(delays, case.out_bands), cfg).path
    want = mosaic_array(data, lambda x, valid=None: model(x, case.out_bands), in_stats, out_stats, case.tile,
                        case.overlap, case.batch, valid)
    ours, full, mask = _levels(out)
    bad = []
    if not np.array_equal(full, want.data):
        bad.append(f"translate: {int((full != want.data).sum())} full-resolution values differ from mosaic_array's")
    if case.out_nodata is None and case.mask != "none" and not np.array_equal(mask > 0, valid):
        bad.append("translate: the output's mask is not the input's validity")
    bad += _compare_levels("translate", ours, _gdal_levels(out, cog.cog_options(False, options), work))
    parts = []
    for i in range(case.shards):
        try:
            parts.append(mosaic_raster(src, work / f"part{i}.tif", _predict(delays, case.out_bands), cfg,
                                       shard=Shard(i, case.shards), job="stress").path)
        except GeopixError:
            return bad  # too few tile rows for this many shards: nothing to merge
    merged = merge_parts(work / "merged.tif", parts).path
    m_levels, m_full, m_mask = _levels(merged)
    if not (np.array_equal(m_full, full) and np.array_equal(m_mask, mask)):
        bad.append("merge: full resolution or mask differs from the unsharded output")
    if len(m_levels) != len(ours) or not all(np.array_equal(a, b) for a, b in zip(m_levels, ours, strict=True)):
        bad.append("merge: overview levels differ from the unsharded output's")
    return bad


def _reference_fill(case: Case, data: np.ndarray, band_valid: np.ndarray, state: np.ndarray, stats: BandStats,
                    nodata: Any, given: bool) -> np.ndarray:
    """The fill in memory: the input with unknown pixels as an extra band through mosaic_array
    (whose denormalisation is the fill's, value by value), then composed as fill.py does: the input,
    the filled pixels painted (a pixel missing in some bands keeps the bands it has; a painted value
    equal to the nodata value moved one step), nodata where nothing is known."""
    c = case.in_bands
    unknown = (state != KEPT).astype(np.float32)
    ext = np.concatenate([data.astype(np.float32), unknown[None]])
    ext_stats = BandStats("float32", (*stats.low, 0.0), (*stats.high, 1.0))

    def predict(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        u = x[:, c:] > 0
        return model(np.concatenate([np.where(u, np.float32(0), x[:, :c]), u.astype(np.float32)], 1), c)

    blend = mosaic_array(ext, predict, ext_stats, stats, case.tile, case.overlap, case.batch).data
    fill = state == FILLED
    painted = blend[:, fill]
    if not given:
        painted = np.where(band_valid[:, fill], data[:, fill], painted)
    if nodata is not None and nodata == nodata:
        hit = painted == np.asarray(nodata).astype(data.dtype)
        if np.issubdtype(data.dtype, np.integer):
            step = 1 if nodata < np.iinfo(data.dtype).max else -1
            painted = np.where(hit, (painted.astype(np.int64) + step).astype(data.dtype), painted)
        else:
            painted = np.where(hit, np.nextafter(painted, np.asarray(np.inf, data.dtype)), painted)
    out = data.copy()
    out[:, fill] = painted
    if nodata is not None:
        out[:, state > FILLED] = np.asarray(nodata).astype(data.dtype)
    return out


def _check_fill(case: Case, src: Path, data: np.ndarray, valid: np.ndarray, delays: Delays, work: Path
                ) -> list[str]:
    rng = np.random.default_rng(case.seed + 1)
    holes = None
    if case.mask == "none":  # holes given, as --holes does
        holes = np.zeros(valid.shape, bool)
        for _ in range(rng.integers(1, 4)):
            r, c = rng.integers(0, valid.shape[0]), rng.integers(0, valid.shape[1])
            holes[r:r + rng.integers(1, 12), c:c + rng.integers(1, 12)] = True
    plan = plan_holes(valid, holes, float(rng.choice([1.0, 3.0, 1e9])))
    stats = BandStats(case.in_dtype, (0.0,) * case.in_bands, (HIGH[case.in_dtype],) * case.in_bands)
    options = {"BLOCKSIZE": str(case.blocksize)}
    cfg = MosaicConfig(tuple(range(1, case.in_bands + 1)), stats, stats, case.tile, case.overlap, case.batch,
                       options)
    res = fill_raster(src, work / "filled.tif", work / "record.tif", _fill_predict(delays, case.in_bands), cfg,
                      plan)
    with rasterio.open(src) as s:
        nodata = s.nodata
    band_valid = np.isfinite(data) if case.mask == "nan" else np.broadcast_to(valid, data.shape)
    want = _reference_fill(case, data, band_valid, plan.state, stats, nodata, plan.given)
    ours, full, mask = _levels(res.path)
    bad = []
    if not np.array_equal(full, want, equal_nan=np.issubdtype(full.dtype, np.floating)):
        bad.append(f"fill: {int((full != want).sum())} full-resolution values differ from the in-memory fill")
    if nodata is None and (plan.state > FILLED).any() and not np.array_equal(mask > 0, plan.state <= FILLED):
        bad.append("fill: the output's mask is not the known pixels")
    bad += _compare_levels("fill", ours, _gdal_levels(res.path, cog.cog_options(False, options), work))
    rec, rec_full, _ = _levels(res.record)
    if not np.array_equal(rec_full[0], plan.state):
        bad.append("fill: the record's states differ from the plan's")
    bad += _compare_levels("fill record", rec, _gdal_levels(res.record, cog.cog_options(True, options), work))
    return bad


def run_round(seed: int, delays: Delays, writers: tuple[str, ...] = ("translate", "fill")) -> list[str]:
    """One random case through the writers (delays injected by :func:`injected`); the differences
    found (none: all right)."""
    case = draw_case(seed)
    with tempfile.TemporaryDirectory(prefix="geopix-stress-") as d:
        work = Path(d)
        src, data, valid = source(case, work / "in.tif")
        bad = []
        if "translate" in writers:
            bad += _check_translate(case, src, data, valid, delays, work)
        if "fill" in writers:
            bad += _check_fill(case, src, data, valid, delays, work)
    return [f"{case}: {b}" for b in bad]


def run_rounds(rounds: int, seed: int = 0, max_delay: float = 0.002, writers: tuple[str, ...] = ("translate", "fill"),
               parallel: int = 1, log: Callable[[str], None] | None = None) -> list[str]:
    """``rounds`` rounds from ``seed`` on, in this process, ``parallel`` at a time (each its own
    pipeline threads, all sharing GDAL's block cache); every difference found."""
    from concurrent.futures import ThreadPoolExecutor

    delays = Delays(seed, max_delay)
    r = random.Random(seed)
    gdal = {k: f"{r.random() * v:.6f}" for k, v in GDAL_SLEEPS.items()}
    bad: list[str] = []
    with rasterio.Env(**gdal), injected(delays), ThreadPoolExecutor(parallel, "stress-round") as pool:
        for found in pool.map(lambda i: run_round(seed + i, delays, writers), range(rounds)):
            bad += found
            if log is not None:
                for line in found:
                    log(line)
    missing = {"reader", "predict", "writer"} - set(delays.calls)
    if missing:
        bad.append(f"no delay was injected into the {', '.join(sorted(missing))}: the stress tested nothing there")
    return bad


def run_fresh(rounds: int, seed: int = 0, max_delay: float = 0.002, parallel: int = 1, writers: str = "translate,fill",
              code: Path | None = None, log: Path | None = None) -> int:
    """The rounds in a fresh process started with GDAL's block cache debugging on (GDAL reads it
    once, when it starts), with today's code or the package at ``code`` (an extracted earlier
    revision, first on ``PYTHONPATH``); its output to ``log`` (else inherited). The exit status."""
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "GDAL_DEBUG_BLOCK_CACHE": "ON",
           "PYTHONPATH": os.pathsep.join(str(p) for p in (code, root) if p is not None)}
    args = [sys.executable, "-m", "tests.tiles.mosaic.stream_stress", "--rounds", str(rounds), "--seed", str(seed),
            "--max-delay", str(max_delay), "--parallel", str(parallel), "--writers", writers]
    with tempfile.TemporaryDirectory() as away, contextlib.ExitStack() as stack:  # not the repository: its
        out = stack.enter_context(open(log, "w")) if log else None  # geo_pix2pix would come first
        return subprocess.run(args, env=env, cwd=away, stdout=out, stderr=subprocess.STDOUT if out else None).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-delay", type=float, default=0.002, help="seconds, per injected delay")
    ap.add_argument("--writers", default="translate,fill", help="of translate (with its merge), fill")
    ap.add_argument("--parallel", type=int, default=1, help="rounds at a time, in threads of this process")
    a = ap.parse_args(argv)
    start = time.perf_counter()
    bad = run_rounds(a.rounds, a.seed, a.max_delay, tuple(a.writers.split(",")), a.parallel,
                     lambda s: print(s, flush=True))
    failed = len({b.split(":")[0] for b in bad})
    streamed = sum(streams_overviews(a.seed + i) for i in range(a.rounds))
    print(f"{a.rounds} rounds from seed {a.seed} ({streamed} streaming overview levels): {failed} with differences "
          f"({time.perf_counter() - start:.0f} s; GDAL block cache debugging "
          f"{os.environ.get('GDAL_DEBUG_BLOCK_CACHE', 'OFF')})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
