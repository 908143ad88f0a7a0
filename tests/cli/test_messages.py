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


def test_ctrl_c_reads_the_same_in_every_command(tmp_path, geopix, tiny_model, monkeypatch) -> None:
    """Ctrl-C in translate (a KeyboardInterrupt, which click turns into Abort) and in training (a
    checkpoint, then TrainingInterrupted) end with one wording, owned by the entry point."""
    import geo_pix2pix.api
    from geo_pix2pix.training.loop import _interrupted

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    region = write_raster(tmp_path / "r.tif", smooth_image(64, 64, 3))
    monkeypatch.setattr(geo_pix2pix.api.Model, "translate", ctrl_c)
    r = geopix("-q", "translate", region, tmp_path / "o.tif", "--model", tiny_model, "--device", "cpu")
    assert (r.code, r.err.strip()) == (130, "geopix: interrupted by Ctrl-C")
    assert str(_interrupted(2, 7, tmp_path)).startswith("interrupted by Ctrl-C at step 7 (after the step)")
    term = _interrupted(15, 7, tmp_path)
    assert term.exit_code == 143 and str(term).startswith("interrupted by SIGTERM at step 7")
