"""Side-by-side PNG previews of rasters (input | prediction | reference).

Each raster is read at reduced resolution (at most ``size`` pixels a side), shown as RGB (first
three bands; one band as grey), stretched per raster like a quick-look, with masked pixels white.
Usage: ``python -m geo_pix2pix.evaluation.preview A.tif B.tif [C.tif ...] OUT.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from geo_pix2pix.tiles.atomic import atomic_path
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["quicklook", "write_preview"]


def quicklook(path: str, size: int = 512) -> np.ndarray:
    """``(h, w, 3)`` uint8 quick-look of a raster (2-98% stretch for non-uint8 data)."""
    with open_raster(path) as src:
        scale = max(1.0, max(src.height, src.width) / size)
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        bands = list(range(1, min(3, src.count) + 1))
        data = src.read(bands, out_shape=(len(bands), *shape)).astype(np.float64)
        mask = src.dataset_mask(out_shape=shape) > 0
    if src.dtypes[0] != "uint8":
        valid = data[:, mask & np.isfinite(data).all(0)]
        lo, hi = (np.percentile(valid, [2, 98], axis=1) if valid.size else (np.zeros(len(bands)), np.ones(len(bands))))
        lo, hi = np.asarray(lo)[:, None, None], np.asarray(hi)[:, None, None]
        data = (data - lo) / np.maximum(hi - lo, 1e-9) * 255
    rgb = np.clip(np.nan_to_num(data), 0, 255).astype(np.uint8)
    if rgb.shape[0] < 3:
        rgb = np.repeat(rgb[:1], 3, axis=0)
    rgb[:, ~mask] = 255
    return np.transpose(rgb, (1, 2, 0))


def write_preview(paths: list[str], out: str, size: int = 512, gap: int = 8) -> None:
    """Write the quick-looks of ``paths`` side by side (same height) into the PNG ``out``."""
    from PIL import Image

    looks = [quicklook(p, size) for p in paths]
    h = max(a.shape[0] for a in looks)
    looks = [np.asarray(Image.fromarray(a).resize((round(a.shape[1] * h / a.shape[0]), h))) for a in looks]
    canvas = np.full((h, sum(a.shape[1] for a in looks) + gap * (len(looks) - 1), 3), 255, np.uint8)
    x = 0
    for a in looks:
        canvas[:, x:x + a.shape[1]] = a
        x += a.shape[1] + gap
    with atomic_path(out) as tmp:
        Image.fromarray(canvas).save(tmp, format="PNG")


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) < 3:
        sys.exit("usage: python -m geo_pix2pix.evaluation.preview A.tif [B.tif ...] OUT.png")
    write_preview(sys.argv[1:-1], sys.argv[-1])
    print(f"wrote {Path(sys.argv[-1])}")
