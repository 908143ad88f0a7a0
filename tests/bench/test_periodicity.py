"""bench/periodicity.py finds a pattern repeating every N pixels as a peak at lag N, and none in a
smooth image (the measure of the periodic blobs one-pair models drew on another city, issue 33)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.bench import bench_script
from tests.conftest import smooth_image, write_raster


def test_a_pattern_every_64_pixels_peaks_at_lag_64_and_a_smooth_image_does_not(tmp_path: Path) -> None:
    smooth = smooth_image(256, 256, 3, seed=3).astype(np.float64)
    yy, xx = np.mgrid[0:256, 0:256]
    blobs = 200.0 * np.exp(-(((yy % 64) - 32) ** 2 + ((xx % 64) - 32) ** 2) / 50.0)
    patterned = np.clip(0.3 * smooth + blobs[None], 0, 255).astype(np.uint8)
    a = write_raster(tmp_path / "smooth.tif", smooth.astype(np.uint8))
    b = write_raster(tmp_path / "blobs.tif", patterned)
    lags = [32, 64, 96, 128]
    plain, periodic = (bench_script("periodicity").autocorrelation(str(p), lags) for p in (a, b))
    assert periodic[1] > 0.8 and periodic[3] > 0.8  # every 64 pixels: 64 and 128
    assert periodic[0] < 0.2 and periodic[2] < 0.2  # half-way between the blobs
    assert plain[1] < 0.5 and plain[1] < periodic[1] - 0.4


def test_it_prints_a_row_per_raster(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_raster(tmp_path / "a.tif", smooth_image(128, 128, 3, seed=1))
    bench_script("periodicity").main([str(path), "--lags", "16", "64"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["lag:", "16", "64"] and out[1].endswith(str(path)) and len(out) == 2


def test_side_by_side_puts_the_rasters_left_to_right(tmp_path: Path) -> None:
    from PIL import Image

    a = write_raster(tmp_path / "a.tif", np.zeros((3, 64, 64), np.uint8))
    b = write_raster(tmp_path / "b.tif", np.full((1, 64, 32), 200, np.uint8))
    out = tmp_path / "pair.png"
    bench_script("periodicity").main([str(a), str(b), "--side-by-side", str(out), "--lags", "16"])
    img = np.asarray(Image.open(out))
    assert img.shape == (64, 64 + 8 + 32, 3)
    assert img[:, :64].max() == 0 and img[:, 64:72].min() == 255 and (img[:, 72:] == 200).all()
