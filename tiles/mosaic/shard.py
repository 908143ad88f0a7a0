"""Shards of a translation: which tile rows a worker runs and which raster rows it writes.

Pure geometry over a :class:`~.blend.MosaicPlan`. The tile rows ``0..K-1`` are cut into ``N``
contiguous bands, ``k0(i) = floor(i * K / N)``. Shard ``i`` *owns* the frame rows from
``row_starts[k0(i)]`` (0 for the first shard) to ``row_starts[k0(i + 1)]`` (the frame's end for
the last): exactly the rows the one-process mosaicker emits after tile rows ``k0(i)..k0(i+1)-1``
(:class:`~.blend.RowBlender` emits the rows above the next tile row's start).

Those rows also receive the lower part of the tiles above them: the *halo*. The shard therefore
starts at the first tile row whose tiles reach below its first owned row and blends it in
without writing its own rows. Every owned row then receives the same tiles, added in the same
order onto the same zeros, as in one process, so the shards' rows are bit for bit the unsharded
raster's; a merge only has to put them one under the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.mosaic.blend import MosaicPlan

__all__ = ["Shard", "ShardRows", "parse_shard", "shard_rows"]


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"I/N"`` (0 <= I < N) -> :class:`Shard`; anything else is a one-line error."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise GeopixError(f"--shard {text}: expected I/N, shard I (counted from 0) of N, e.g. 0/4")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise GeopixError(f"--shard {text}: I must be 0..N-1 (shards are counted from 0; "
                          f"a SLURM array runs --array=0-{max(n, 1) - 1})")
    return Shard(i, n)


@dataclass(frozen=True)
class ShardRows:
    """What shard ``index`` of ``count`` does.

    Attributes:
        first_tile_row: the first tile row it runs (the halo above its own rows starts here).
        tile_rows: ``(k0, k1)``, the tile rows it owns; it runs ``first_tile_row..k1-1``.
        rows: ``(r0, r1)``, the raster rows it writes.
    """

    index: int
    count: int
    first_tile_row: int
    tile_rows: tuple[int, int]
    rows: tuple[int, int]


def shard_rows(plan: MosaicPlan, shard: Shard) -> ShardRows:
    """The tile rows shard ``shard`` runs and the raster rows it writes (see the module docstring).

    Raises:
        GeopixError: if the raster has too few tile rows for ``shard.count`` shards to each
            write at least one row.
    """
    starts, n_rows, i, n = plan.row_starts, len(plan.row_starts), shard.index, shard.count
    frame = _frame_bounds(plan, n)
    rows = _raster_bounds(plan, n)
    # pairwise (strict=False: one fewer); a shard without rows: too many for this raster
    if any(b <= a for a, b in zip(rows, rows[1:], strict=False)):
        most = max((m for m in range(1, n_rows + 1) if _every_shard_has_rows(plan, m)), default=1)
        raise GeopixError(f"--shard {shard}: this raster has {n_rows} row(s) of tiles ({plan.height} pixel rows, "
                          f"tile {plan.tile}, overlap {plan.overlap}); use at most {most} shards")
    k0, k1 = i * n_rows // n, (i + 1) * n_rows // n
    first = next(k for k in range(n_rows) if starts[k] + plan.tile > frame[i]) if i else 0
    return ShardRows(i, n, first, (k0, k1), (rows[i], rows[i + 1]))


def _every_shard_has_rows(plan: MosaicPlan, n: int) -> bool:
    bounds = _raster_bounds(plan, n)
    return all(b > a for a, b in zip(bounds, bounds[1:], strict=False))  # pairwise: one fewer


def _frame_bounds(plan: MosaicPlan, n: int) -> list[int]:
    """The ``n + 1`` frame rows where the ``n`` shards' own rows begin and the last ends."""
    starts, n_rows = plan.row_starts, len(plan.row_starts)
    return [0] + [starts[j * n_rows // n] for j in range(1, n)] + [plan.frame_height]


def _raster_bounds(plan: MosaicPlan, n: int) -> list[int]:
    """:func:`_frame_bounds` cropped to raster rows (the padding rows are nobody's to write)."""
    return [min(max(f - plan.pad_top, 0), plan.height) for f in _frame_bounds(plan, n)]
