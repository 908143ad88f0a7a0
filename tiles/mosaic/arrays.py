"""The mosaicker for arrays in memory: the same tiles, blending and output values as for a raster.

:func:`mosaic_array` runs an in-memory ``(bands, height, width)`` array through a predict function
exactly as :func:`~.mosaic.mosaic_raster` runs a raster: the same padded frame and tile grid
(:func:`~.blend.plan_mosaic`), the same reflection at the edges, the same normalisation, batches
and raised-cosine blending (:func:`~.mosaic.blend_tile_row`), the same conversion to output values.
So an array read from a raster gives, pixel for pixel, what translate writes for that raster, and
an array of any size works (a 250x250 or a 1x300 array is reflected up to a whole tile).

Validity follows the raster rules too: a pixel is valid where the given mask says so and, for
floating-point input, where every band is finite. The result is a numpy masked array (rasterio's
``read(masked=True)`` convention): invalid input pixels are masked in every output band. Their
values are the output's nodata value where it has one (class codes, measured values), else what
the network made of them, as translate writes them. ``predict`` gets each batch's validity, as
translate's does, and fills the invalid pixels before its generator reads them.
"""

from __future__ import annotations

import numpy as np

from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import BandError
from geo_pix2pix.tiles.mosaic.blend import RowBlender, plan_mosaic
from geo_pix2pix.tiles.mosaic.mosaicker import Predict, blend_tile_row

__all__ = ["mosaic_array", "array_validity"]


def array_validity(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``(height, width)`` validity of a ``(bands, height, width)`` array: ``mask`` (True =
    valid; all valid if ``None``) and, for floating-point data, finite in every band."""
    valid = np.ones(data.shape[1:], bool) if mask is None else np.asarray(mask, bool).copy()
    if valid.shape != data.shape[1:]:
        raise BandError(f"the mask is {'x'.join(map(str, valid.shape))} but the array's rows x columns are "
                        f"{'x'.join(map(str, data.shape[1:]))}; give one validity value per pixel")
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data).all(axis=0)
    return valid


def mosaic_array(data: np.ndarray, predict: Predict, in_stats: BandStats | ClassTable,
                 out_stats: BandStats | ClassTable, tile: int,
                 overlap: int, batch_size: int = 8, mask: np.ndarray | None = None) -> np.ma.MaskedArray:
    """Predict ``data`` (``(bands, height, width)`` raw input values) tile by tile.

    Args:
        predict: normalised ``(n, bands, tile, tile)`` float32 and their ``(n, 1, tile, tile)``
            validity (None: all valid) -> ``(n, out_bands, tile, tile)``.
        in_stats / out_stats: normalisation of the input values and of the predictions.
        tile / overlap: tiling (checked by :func:`~.blend.plan_mosaic`).
        mask: ``(height, width)`` validity, True where the input is valid.

    Returns:
        ``(out_bands, height, width)`` in ``out_stats.dtype``, masked where the input is invalid.
    """
    _, height, width = data.shape
    plan = plan_mosaic(height, width, tile, overlap)
    blender = RowBlender(plan, out_stats.bands)
    out = np.empty((out_stats.out_bands, height, width), np.dtype(out_stats.dtype))
    valid = array_validity(data, mask)
    whole = bool(valid.all())  # nothing to fill: the network gets no mask, as for a raster without one
    for k in range(len(plan.row_starts)):
        tiles = plan.tile_row(k, lambda lo, hi: data[:, lo:hi])
        tile_valid = None if whole else plan.tile_row(k, lambda lo, hi: valid[None, lo:hi])
        blend_tile_row(tiles, predict, in_stats, batch_size, blender, tile_valid)
        for row, col, values in blender.finished():
            out[:, row:row + values.shape[1], col:col + values.shape[2]] = out_stats.denormalize(values)
    invalid = ~valid
    if out_stats.nodata is not None:  # as translate writes it: the nodata value where invalid
        out[:, invalid] = out_stats.nodata
    return np.ma.MaskedArray(out, mask=np.broadcast_to(invalid, out.shape).copy())
