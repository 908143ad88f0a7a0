"""Periodic patterns in translated maps: the autocorrelation of each raster's grey level at lags
along its rows and columns, so a pattern repeating every N pixels (a generator's artefact tied to its stride)
shows as a peak at lag N where a map of real features decays smoothly.

    .venv/bin/python bench/periodicity.py out/charlotte_map.tif other_map.tif [--lags 16 32 64 128]

Prints one row per raster: the normalised autocorrelation (1 at lag 0) at each lag, over the whole
raster (circular, through the FFT), averaged over rows and columns.
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rasters", nargs="+")
    p.add_argument("--lags", type=int, nargs="+", default=[16, 32, 48, 64, 96, 128])
    a = p.parse_args(argv)
    print("lag:    " + " ".join(f"{lag:6d}" for lag in a.lags))
    for path in a.rasters:
        print(" ".join(f"{v:6.2f}" for v in autocorrelation(path, a.lags)), "  ", path)


if __name__ == "__main__":
    main()
