"""Several imagery/map pairs in one run: sampling in proportion to area, alignment per pair."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import BandError, GeopixError
from geo_pix2pix.tiles.pairs.dataset import N_AUGMENT, PairWindowDataset
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.training.batches import StepBatchSampler
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.data import merge_stats, prepare_training
from tests.conftest import smooth_image, write_raster


def _pairs(tmp_path):
    a = smooth_image(192, 192, 3, seed=1)
    b = smooth_image(384, 192, 3, seed=2)  # twice the area
    pa = (write_raster(tmp_path / "a_sat.tif", a), write_raster(tmp_path / "a_map.tif", (255 - a).astype(np.uint8)))
    # Pair B: another place and CRS; its map is half the imagery value.
    tr = Affine(0.5, 0, 300_000.0, 0, -0.5, 5_000_000.0)
    pb = (write_raster(tmp_path / "b_sat.tif", b, crs="EPSG:32631", transform=tr),
          write_raster(tmp_path / "b_map.tif", (b // 2).astype(np.uint8), crs="EPSG:32631", transform=tr))
    return [PairSpec(str(i), str(m)) for i, m in (pa, pb)]


def test_windows_are_drawn_in_proportion_to_area_and_stay_aligned(tmp_path) -> None:
    cfg = TrainConfig(pairs=tuple(_pairs(tmp_path)), out=str(tmp_path / "run"), tile=64, val_fraction=0.0)
    data = prepare_training(cfg)
    assert data.train_weights == [9.0, 18.0]
    sampler = StepBatchSampler(data.train_counts, data.train_weights, 64, seed=0, start=0, end=200)
    keys = np.concatenate([sampler.batch_for(s) for s in range(200)])
    pair_of = data.index.pair[keys // N_AUGMENT]
    assert abs((pair_of == 1).mean() - 2 / 3) < 0.02
    assert sampler.batch_for(7) == StepBatchSampler(data.train_counts, data.train_weights, 64, 0, 0, 1).batch_for(7)
    ds = PairWindowDataset(data.specs, data.index, data.imagery_stats, data.map_stats)
    for key in keys[:40]:
        item, pair = ds[int(key)], int(data.index.pair[key // N_AUGMENT])
        img = (item["imagery"] + 1) * 127.5
        mp = (item["maps"] + 1) * 127.5
        expected = 255 - img if pair == 0 else np.floor(np.rint(img) / 2)
        np.testing.assert_allclose(mp, expected, atol=0.51)


def test_val_pairs_hold_out_whole_pairs(tmp_path) -> None:
    cfg = TrainConfig(pairs=tuple(_pairs(tmp_path)), out=str(tmp_path / "run"), tile=64, val_pairs=1)
    data = prepare_training(cfg)
    assert data.train_counts[1] == 0 and data.train_weights[1] == 0
    assert {p for p, _ in data.val} == {1} and len(data.val) == 6 * 3  # every 64-px window of 384x192
    with pytest.raises(GeopixError, match="leaves no pair to train on"):
        prepare_training(cfg.with_(val_pairs=2))


def test_stats_are_merged_and_band_counts_must_agree(tmp_path) -> None:
    u16 = [BandStats("uint16", (10.0,), (100.0,), "percentile"), BandStats("uint16", (5.0,), (90.0,), "percentile")]
    assert merge_stats(u16, "imagery") == BandStats("uint16", (5.0,), (100.0,), "percentile")
    with pytest.raises(BandError):
        merge_stats([BandStats("uint8", (0.0,), (255.0,)), BandStats("uint8", (0.0,) * 3, (255.0,) * 3)], "imagery")
    img = smooth_image(128, 128, 1)
    one = PairSpec(str(write_raster(tmp_path / "p.tif", img)), str(write_raster(tmp_path / "m.tif", img)))
    with pytest.raises(BandError):
        prepare_training(TrainConfig(pairs=(_pairs(tmp_path)[0], one), out="x", tile=64, val_fraction=0))
