"""The recipe line names only what the run trains with (issue 30: show only the terms that run)."""

from __future__ import annotations

from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.recipes import values_in_use

RECIPE = {"tile": 64, "lr": 1e-3, "colour_jitter": 1.0, "blur_noise": 0.2, "scale_jitter": 1.25}


def test_map2sat_runs_leave_out_the_photometric_jitter_they_never_apply() -> None:
    """map2sat's imagery is the target, which augmentation never jitters: the recipe line leaves
    colour jitter, blur and noise out there and keeps them for sat2map; the zoom applies to both
    sides, so it stays."""
    sat2map = values_in_use(TrainConfig(pairs=(), direction="sat2map"), RECIPE)
    map2sat = values_in_use(TrainConfig(pairs=(), direction="map2sat"), RECIPE)
    assert sat2map == RECIPE
    assert set(sat2map) - set(map2sat) == {"colour_jitter", "blur_noise"}
    assert map2sat["scale_jitter"] == 1.25
