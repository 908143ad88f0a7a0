"""The streaming pipeline every raster writer runs: tiles read ahead, predicted, blended, written.

A raster goes through it tile row by tile row, and each tile row in *chunks*: runs of whole
batches spanning about :data:`CHUNK_COLUMNS` columns. What runs where:

* The **I/O thread** (one ``ThreadPoolExecutor`` worker, ``geopix-io``) makes every GDAL call of
  the pipeline, in the order they were submitted: it reads the source pixels of the next chunk
  (:class:`TileReader`), and writes blocks of finished values (:meth:`Output.block`, then whole
  strips through :meth:`Output.strip` into the sink, its stream file and its overview levels).
* The **main thread** waits for a chunk's tiles, submits the read of the next one (the read-ahead),
  normalises and predicts the chunk batch by batch (:class:`TileJob`), blends the predictions
  (:class:`~.blend.RowBlender`) and submits the blocks that are final to the I/O thread. It makes
  no GDAL call between the pipeline's start and its end.

Why one thread for all GDAL calls: GDAL's block cache is global, and a thread that needs room in
it writes out other datasets' dirty blocks, whichever thread wrote them. A reader thread could so
take a half-written strip of an overview level out of the cache while the writer thread read the
same strip back from the file for its next rows, and one of the two writes was lost (zeros in an
overview, issue 29). With a single thread making GDAL calls, one call ends before the next
begins, whoever made it; and every block is written whole, once (:mod:`.strips`), so none is
ever read back.

Hand-offs, and what keeps them safe:

* the datasets (source handles, the sink's stream and levels) are opened by the caller before the
  pipeline starts and closed after it has returned or raised; submitting a task to the executor
  orders everything before it, and the executor is shut down (its thread joined, queued tasks
  cancelled) before :func:`run_pipeline` returns or raises, so no thread outlives it;
* arrays handed to the I/O thread (blocks of values) are new arrays the main thread never touches
  again; arrays handed back (tiles) are new arrays the I/O thread never touches again;
* the queue is bounded: one chunk read ahead, at most :data:`MAX_PENDING_WRITES` writes waiting
  (past that the main thread waits), so a slow disk cannot pile rows up in memory;
* an error in the I/O thread surfaces in the main thread at the next wait on that task.

Memory follows the chunk, not the raster's width, except for the rows the next tile row overlaps
(:class:`~.blend.RowBlender`) and the strip being assembled (:class:`~.strips.StripBuffer`).

Two pipelines in one process (translations run in threads of one program) share GDAL's cache,
and GDAL may then write one's blocks from the other's thread, even while the first closes the
file: run several translations as several processes (as ``--shard`` and ``torchrun`` do).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np
from rasterio.windows import Window

from geo_pix2pix.tiles.mosaic.blend import MosaicPlan, RowBlender
from geo_pix2pix.tiles.mosaic.cog import RowSink
from geo_pix2pix.tiles.mosaic.strips import StripBuffer
from geo_pix2pix.tiles.raster import open_raster, reading, valid_mask

__all__ = ["CHUNK_COLUMNS", "MAX_PENDING_WRITES", "TileJob", "Output", "TileReader", "Step", "run_pipeline"]

#: Columns of a tile row read, predicted and blended at a time (whole batches, at least one).
CHUNK_COLUMNS = 4096
#: Blocks of finished values waiting for the I/O thread; past this the main thread waits.
MAX_PENDING_WRITES = 2


class TileJob(Protocol):
    """What a writer runs through the network: which tiles, in which batches, and how."""

    def batches(self, k: int) -> list[list[int]]:
        """The tile columns of tile row ``k`` to predict, in the batches the network takes them,
        left to right (columns left out get no prediction)."""
        ...

    def predict(self, k: int, cols: list[int], tiles: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        """Predictions ``(n, channels, tile, tile)`` of the raw tiles at ``cols`` of tile row ``k``;
        ``valid``: their ``(n, 1, tile, tile)`` validity, when the reader reads it (else None)."""
        ...


class Output(Protocol):
    """What a writer makes of blended values (called on the I/O thread)."""

    def block(self, row: int, col: int, values: np.ndarray) -> np.ndarray:
        """Output values of the block at ``(row, col)`` from its blended ``(channels, n, m)`` float32."""
        ...

    def strip(self, row: int, data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """A whole strip of output values, as written, and its mask (None: no mask written)."""
        ...


class TileReader:
    """Reads tiles of the padded frame from its own dataset handle (the I/O thread's) and, with
    ``masks``, their validity (:func:`~geo_pix2pix.tiles.raster.valid_mask`: GDAL's dataset mask and
    finite values), cut from the same windows and reflected alike."""

    def __init__(self, path: str, plan: MosaicPlan, bands: tuple[int, ...], masks: bool = False) -> None:
        self.src = open_raster(path)
        self.plan, self.bands, self.masks = plan, bands, masks

    def tiles(self, k: int, cols: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """``(len(cols), bands, tile, tile)`` raw (not yet normalised) tiles of tile row ``k``, and
        their ``(len(cols), 1, tile, tile)`` validity (None without ``masks``)."""
        if not self.masks:
            return self.plan.tiles(k, cols, self._read), None
        valid: dict[tuple[int, int, int, int], np.ndarray] = {}

        def read(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
            data = self._read(r0, r1, c0, c1)
            with reading(self.src.name, "region"):
                gdal_mask = self.src.dataset_mask(window=Window(c0, r0, c1 - c0, r1 - r0))
            valid[(r0, r1, c0, c1)] = valid_mask(data, gdal_mask)[None]
            return data

        tiles = self.plan.tiles(k, cols, read)
        return tiles, self.plan.tiles(k, cols, lambda r0, r1, c0, c1: valid[(r0, r1, c0, c1)])

    def row_tiles(self, k: int) -> np.ndarray:
        """Every tile of tile row ``k``."""
        return self.tiles(k, list(range(len(self.plan.col_starts))))[0]

    def _read(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        with reading(self.src.name, "region"):
            return cast(np.ndarray, self.src.read(self.bands, window=Window(c0, r0, c1 - c0, r1 - r0)))

    def close(self) -> None:
        self.src.close()


@dataclass(frozen=True)
class Step:
    """One chunk of tile row ``k``: the tiles read (``cols``), in ``batches``; the tile columns
    passed once it is blended (``end``; the row's last chunk passes them all)."""

    k: int
    cols: list[int]
    batches: list[list[int]]
    end: int
    last: bool


def steps(job: TileJob, plan: MosaicPlan, rows: Sequence[int]) -> Iterator[Step]:
    """The chunks of tile rows ``rows``: each tile row's batches, grouped while they span at most
    :data:`CHUNK_COLUMNS` columns (a row without a batch is one empty chunk)."""
    n = len(plan.col_starts)
    for k in rows:
        batches = [b for b in job.batches(k) if b]
        chunk: list[list[int]] = []
        for batch in batches:
            span = plan.col_starts[batch[-1]] + plan.tile - plan.col_starts[(chunk or [batch])[0][0]]
            if chunk and span > CHUNK_COLUMNS:
                yield Step(k, [c for b in chunk for c in b], chunk, chunk[-1][-1] + 1, False)
                chunk = []
            chunk.append(batch)
        yield Step(k, [c for b in chunk for c in b], chunk, n, True)


def _blend(blender: RowBlender, at: int, cols: list[int], preds: np.ndarray) -> int:
    """Blend ``preds`` of tile columns ``cols`` (increasing, from ``at`` on) into ``blender``,
    passing over the columns between them; the next column."""
    i = 0
    while i < len(cols):
        j = i + 1
        while j < len(cols) and cols[j] == cols[j - 1] + 1:
            j += 1
        blender.skip_tiles(cols[i] - at)
        blender.add_tiles(preds[i:j])
        at, i = cols[j - 1] + 1, j
    return at


def run_pipeline(reader: TileReader, job: TileJob, output: Output, sink: RowSink, blender: RowBlender,
                 rows: Sequence[int], progress: Callable[[int], None] | None = None) -> None:
    """Tile rows ``rows`` of ``reader``'s raster through ``job`` into ``sink`` (see the module
    docstring); rows above ``sink.row0`` (a shard's halo) are blended, not written."""
    plan = blender.plan
    strips = StripBuffer(sink.row0, plan.width, lambda row, data: _write_strip(sink, output, row, data))
    todo = iter(steps(job, plan, rows))
    io = ThreadPoolExecutor(1, "geopix-io")
    if progress is not None:
        progress(0)  # the checks have passed: a reporter may start now, with nothing done
    try:
        step = next(todo, None)
        pending = _read(io, reader, step)
        writes: deque[Future[None]] = deque()
        at = 0
        while step is not None:
            tiles, valid = pending.result() if pending is not None else (np.empty(0), None)
            following = next(todo, None)
            pending = _read(io, reader, following)  # read ahead while this chunk is predicted
            start, i = at, 0
            for batch in step.batches:
                part = None if valid is None else valid[i:i + len(batch)]
                at = _blend(blender, at, batch, job.predict(step.k, batch, tiles[i:i + len(batch)], part))
                i += len(batch)
            blender.skip_tiles(step.end - at)
            at = step.end
            if step.last:
                blender.end_row()
            blocks = _below(blender.finished(), sink.row0)
            if blocks:
                writes.append(io.submit(_write_blocks, strips, output, blocks))
            while writes and (writes[0].done() or len(writes) > MAX_PENDING_WRITES):
                writes.popleft().result()  # surface write errors (disk full...) early; bound the queue
            if progress is not None:
                progress(at - start)
            if step.last:
                at = 0
            step = following
        for w in writes:
            w.result()
        io.submit(strips.close).result()
    finally:
        io.shutdown(wait=True, cancel_futures=True)
        blender.close()


def _read(io: ThreadPoolExecutor, reader: TileReader, step: Step | None
          ) -> Future[tuple[np.ndarray, np.ndarray | None]] | None:
    return io.submit(reader.tiles, step.k, step.cols) if step is not None and step.cols else None


def _below(blocks: Iterator[tuple[int, int, np.ndarray]], row0: int) -> list[tuple[int, int, np.ndarray]]:
    """The blocks' rows from ``row0`` on (a shard does not write its halo)."""
    out = []
    for row, col, values in blocks:
        if row + values.shape[1] <= row0:
            continue
        if row < row0:
            values, row = values[:, row0 - row:], row0
        out.append((row, col, values))
    return out


def _write_blocks(strips: StripBuffer, output: Output, blocks: list[tuple[int, int, np.ndarray]]) -> None:
    for row, col, values in blocks:
        strips.add(row, output.block(row, col, values), col)


def _write_strip(sink: RowSink, output: Output, row: int, data: np.ndarray) -> None:
    values, mask = output.strip(row, data)
    sink.write(values, row, mask)
