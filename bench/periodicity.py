"""Periodic patterns in translated maps: the autocorrelation of each raster's grey level at lags
along its rows and columns, so a pattern repeating every N pixels (a generator's artefact tied to its stride)
shows as a peak at lag N where a map of real features decays smoothly.

    .venv/bin/python bench/periodicity.py out/charlotte_map.tif other_map.tif [--lags 16 32 64 128]

Prints one row per raster: the normalised autocorrelation (1 at lag 0) at each lag, over the whole
raster (circular, through the FFT), averaged over rows and columns. ``--side-by-side OUT.png``
also writes the rasters' first three bands next to each other (same height, white gaps, scaled
by ``--scale``), the picture the docs show beside the figures.
"""

from __future__ import annotations

import argparse

import numpy as np
import rasterio


def autocorrelation(path: str, lags: list[int]) -> list[float]:
    """The grey level's circular autocorrelation at ``lags``, mean of the row and column directions."""
    with rasterio.open(path) as src:
        grey = src.read().astype(np.float64).mean(axis=0)
    x = grey - grey.mean()
    spectrum = np.fft.fft2(x)
    ac = np.real(np.fft.ifft2(spectrum * np.conj(spectrum)))
    ac /= ac[0, 0]
    return [float((ac[0, lag] + ac[lag, 0]) / 2) for lag in lags]


def side_by_side(paths: list[str], out: str, scale: float) -> None:
    """The rasters' first three bands (or one band as grey), left to right, 8-pixel white gaps."""
    from PIL import Image

    panels = []
    for path in paths:
        with rasterio.open(path) as src:
            bands = src.read(list(range(1, min(3, src.count) + 1)))
        panels.append(np.repeat(bands, 3, axis=0) if len(bands) == 1 else bands)
    height = min(p.shape[1] for p in panels)
    gap = np.full((3, height, 8), 255, np.uint8)
    row = np.concatenate([x for p in panels for x in (p[:, :height].astype(np.uint8), gap)][:-1], axis=2)
    img = Image.fromarray(np.transpose(row, (1, 2, 0)))
    img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS).save(out, optimize=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rasters", nargs="+")
    p.add_argument("--lags", type=int, nargs="+", default=[16, 32, 48, 64, 96, 128])
    p.add_argument("--side-by-side", metavar="OUT.png", default=None)
    p.add_argument("--scale", type=float, default=1.0)
    a = p.parse_args(argv)
    if a.side_by_side:
        side_by_side(a.rasters, a.side_by_side, a.scale)
    print("lag:    " + " ".join(f"{lag:6d}" for lag in a.lags))
    for path in a.rasters:
        print(" ".join(f"{v:6.2f}" for v in autocorrelation(path, a.lags)), "  ", path)


if __name__ == "__main__":
    main()
