"""Scoring an inpainting model on a raster with known pixels, against GDAL's FillNodata.

Holes of one kind and size class (:func:`~geo_pix2pix.tiles.holes.draw.eval_holes`: SLC-off stripes of
a width, clouds of a diameter; seeded) are drawn on the raster's valid pixels, written as a mask
raster beside a temporary output, and filled twice: by ``geopix inpaint`` (the command's own path:
:meth:`~geo_pix2pix.api.Model.inpaint`, every hole filled whatever its size, so the size limit
can be measured) and by GDAL's FillNodata (``rasterio.fill.fillnodata``: inverse-distance
weighting from the hole's edge, search distance 100 pixels, no smoothing), each band on its own.
Both are scored inside the holes only, against the raster's own pixels:

* MAE in the raster's units;
* PSNR and SSIM on values scaled to [0, 1] per band: uint8 by 255, other types by the band's 1-99%
  range over the valid pixels (clipped), so 16-bit and reflectance bands score on the range their
  pixels use; both by :func:`~geo_pix2pix.evaluation.metrics.hole_scores`, the rule training's
  validation of an inpainting model scores by.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo_pix2pix.evaluation.metrics import hole_scores
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.holes.draw import EVAL_HOLES, eval_holes

__all__ = ["HoleScore", "evaluate_inpainting", "score_fill", "fillnodata"]

#: GDAL FillNodata's search distance (its default): how far from a hole's edge it looks for values.
FILLNODATA_DISTANCE = 100


@dataclass(frozen=True)
class HoleScore:
    """Scores of one method on one size class, inside the holes."""

    kind: str
    size: int
    method: str
    pixels: int
    MAE: float
    PSNR: float
    SSIM: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scaled(data: np.ndarray, ref: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(C, h, w)`` values in [0, 1] per band: /255 for uint8, else the band's 1-99% range of
    ``ref``'s valid pixels."""
    if ref.dtype == np.uint8:
        return data.astype(np.float64) / 255.0
    out = np.empty(data.shape, np.float64)
    for b in range(data.shape[0]):
        lo, hi = np.percentile(ref[b][valid], [1, 99])
        out[b] = np.clip((data[b].astype(np.float64) - lo) / max(hi - lo, 1e-12), 0, 1)
    return out


def score_fill(filled: np.ndarray, truth: np.ndarray, holes: np.ndarray, valid: np.ndarray
               ) -> tuple[float, float, float]:
    """MAE (raster units), PSNR and SSIM of ``filled`` against ``truth`` inside ``holes`` (module docstring)."""
    m = holes & valid
    if not m.any():
        raise GeopixError("no hole pixels to score")
    mae = float(np.abs(filled[:, m].astype(np.float64) - truth[:, m].astype(np.float64)).mean())
    psnr, ssim = hole_scores(_scaled(truth, truth, valid), _scaled(filled, truth, valid), m)
    return mae, psnr, ssim


def fillnodata(data: np.ndarray, known: np.ndarray) -> np.ndarray:
    """GDAL FillNodata of every band where ``known`` is False (defaults: 100 px search, no smoothing)."""
    from rasterio.fill import fillnodata as gdal_fill

    out = np.empty_like(data)
    for b in range(data.shape[0]):
        band = data[b].astype(np.float32) if data.dtype not in (np.uint8, np.uint16, np.int16, np.float32) else data[b]
        out[b] = gdal_fill(band.copy(), mask=known.astype(np.uint8), max_search_distance=FILLNODATA_DISTANCE,
                           smoothing_iterations=0).astype(data.dtype)
    return out


def evaluate_inpainting(model: Any, raster: str | os.PathLike[str], kind: str = "clouds",
                        sizes: tuple[int, ...] | None = None, seed: int = 0, batch_size: int = 8,
                        keep: str | os.PathLike[str] | None = None,
                        progress: Callable[[int, int], None] | None = None) -> list[HoleScore]:
    """geopix and FillNodata on ``raster`` with holes of ``kind`` for each size class (module
    docstring); ``model``: a loaded :class:`~geo_pix2pix.api.Model`. ``keep``: a folder to keep
    each size's holes, geopix fill and FillNodata fill in (``{kind}{size}_holes.tif``, ``_geopix.tif``,
    ``_gdal.npy``) for previews; by default they are temporary.

    ``progress(tiles_done, tiles_total)`` counts the tiles of every size's inpaint pass (one whole
    pass of the raster per size class, which is most of the time), so a caller can show the work
    and its estimate from the start rather than minutes of silence."""
    import rasterio

    from geo_pix2pix.tiles.holes.plan import read_validity

    if kind not in EVAL_HOLES:
        raise GeopixError(f"unknown hole kind {kind!r}; choose {', '.join(EVAL_HOLES)}")
    bands = tuple(model.meta.input_bands)
    with rasterio.open(raster) as src:
        truth = src.read(list(bands))
        valid = read_validity(src, bands)
        profile = src.profile
    scores: list[HoleScore] = []
    classes = sizes or EVAL_HOLES[kind]
    with tempfile.TemporaryDirectory(prefix="geopix-eval-") as tmp:
        where = Path(keep) if keep else Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for i, size in enumerate(classes):
            holes = eval_holes(np.random.default_rng([seed, i]), valid.shape, kind, size) & valid
            mask_path = where / f"{kind}{size}_holes.tif"
            with rasterio.open(mask_path, "w", driver="GTiff", width=valid.shape[1], height=valid.shape[0], count=1,
                               dtype="uint8", crs=profile.get("crs"), transform=profile["transform"],
                               compress="deflate") as dst:
                dst.write(holes.astype(np.uint8)[None])
            out = where / f"{kind}{size}_geopix.tif"
            model.inpaint(raster, out, holes=mask_path, max_hole=1e9, batch_size=batch_size, overwrite=True,
                          progress=_share(progress, i, len(classes)))
            with rasterio.open(out) as f:
                ours = f.read()
            gdal = fillnodata(truth, valid & ~holes)
            if keep:
                np.save(where / f"{kind}{size}_gdal.npy", gdal)
            n = int((holes & valid).sum())
            for method, filled in (("gdal", gdal), ("geopix", ours)):
                scores.append(HoleScore(kind, size, method, n, *score_fill(filled, truth, holes, valid)))
    return scores


def _share(progress: Callable[[int, int], None] | None, i: int, n: int) -> Callable[[int, int], None] | None:
    """Pass ``i`` of ``n`` equal passes, reported as a part of the whole."""
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress(i * total + done, n * total)

    return report

