"""What geopix prints into a log file (stderr not a terminal): a few progress lines, not one a step."""

from __future__ import annotations

import numpy as np

from tests.conftest import smooth_image, write_raster


def test_training_progress_into_a_log_is_not_redrawn_every_step(tmp_path, geopix) -> None:
    img = smooth_image(128, 128, 3, seed=12)
    sat = write_raster(tmp_path / "sat.tif", img)
    mp = write_raster(tmp_path / "map.tif", (255 - img).astype(np.uint8))
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "run", "--tile-size", "64", "--ngf", "8",
               "--ndf", "8", "--steps", "12", "--val-fraction", "0", "--device", "cpu")
    assert r.code == 0, r.err
    draws = r.err.count("train:")
    assert 1 <= draws <= 3, r.err  # the first draw and the final one; the loss postfix adds no redraws
