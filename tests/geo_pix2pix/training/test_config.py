"""The learning-rate schedule and the config's JSON round trip."""

from __future__ import annotations

import pytest

from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.training.config import TrainConfig


def test_constant_then_linear_decay_to_zero() -> None:
    cfg = TrainConfig(pairs=(PairSpec("a.tif", "b.tif"),), out="run", steps=100, lr=2e-4, decay_start=0.5)
    assert cfg.lr_at(0) == cfg.lr_at(49) == 2e-4
    assert cfg.lr_at(75) == pytest.approx(1e-4)
    assert cfg.lr_at(100) == 0.0
    assert cfg.lr_at_fraction(0.9) == pytest.approx(0.4e-4)
    assert cfg.with_(decay_start=1.0).lr_at(99) == 2e-4  # no decay


def test_warmup_rises_linearly_then_the_schedule_goes_on() -> None:
    cfg = TrainConfig(pairs=(PairSpec("a.tif", "b.tif"),), out="run", steps=100, lr=1e-3, warmup=0.1)
    assert cfg.lr_at(0) == pytest.approx(1e-6)  # never exactly zero: step 0 still moves
    assert cfg.lr_at(5) == pytest.approx(0.5e-3)
    assert cfg.lr_at(10) == cfg.lr_at(49) == 1e-3
    assert cfg.lr_at(75) == pytest.approx(0.5e-3)


def test_config_round_trips_through_json() -> None:
    import json

    cfg = TrainConfig(pairs=(PairSpec("a.tif", "b.tif", (1, 2, 3), (1,), "nearest"),
                             PairSpec("c.png", "c.png", aligned="BA")), out="run", time_budget=60.0, val_pairs=1)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
