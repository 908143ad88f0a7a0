"""Resume keeps the run's length as the user last said it: --steps, --epochs, --time-budget."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import smooth_image, write_raster

TINY = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--batch-size", "2", "--val-fraction", "0",
        "--val-every", "100000", "--device", "cpu", "--no-amp", "--recipe", "paper"]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    img = smooth_image(128, 128, 3, seed=4)
    return write_raster(tmp_path / "sat.tif", img), write_raster(tmp_path / "map.tif", (255 - img).astype(np.uint8))


def _steps(run: Path) -> list[int]:
    with open(run / "metrics.csv") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def _config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def test_resume_with_steps_overrides_a_run_started_with_epochs(tmp_path, geopix, pair) -> None:
    sat, mp = pair
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, *TINY, "--epochs", "3", "--stop-at", "2")
    assert r.code == 0, r.err
    by_epochs = _config(run)["steps"]  # 3 passes over 4 non-overlapping 64-px tiles, 2 a batch: 6
    assert by_epochs == 6 and _steps(run) == [1, 2]
    r = geopix("-q", "train", "--resume", run, "--steps", "9")
    assert r.code == 0, r.err
    assert _steps(run) == list(range(1, 10))  # --steps wins over the stored epochs
    c = _config(run)
    assert c["steps"] == 9 and c["epochs"] is None


def test_resume_without_steps_keeps_the_epoch_length(tmp_path, geopix, pair) -> None:
    sat, mp = pair
    run = tmp_path / "run"
    assert geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, *TINY, "--epochs", "3",
                  "--stop-at", "2").code == 0
    r = geopix("-q", "train", "--resume", run)
    assert r.code == 0, r.err
    assert _steps(run) == list(range(1, 7))


def test_resume_of_a_time_budget_run(tmp_path, geopix, pair) -> None:
    sat, mp = pair
    run = tmp_path / "run"
    assert geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, *TINY, "--time-budget", "1h",
                  "--stop-at", "2").code == 0
    r = geopix("-q", "train", "--resume", run, "--stop-at", "4")  # still on the stored budget
    assert r.code == 0, r.err
    assert _steps(run) == [1, 2, 3, 4] and _config(run)["time_budget"] == 3600
    r = geopix("-q", "train", "--resume", run, "--steps", "6")  # a step count replaces the budget
    assert r.code == 0, r.err
    assert _steps(run) == list(range(1, 7))
    c = _config(run)
    assert c["time_budget"] is None and c["steps"] == 6


def test_resume_refuses_two_lengths(tmp_path, geopix, pair) -> None:
    sat, mp = pair
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "r", *TINY, "--steps", "3",
               "--epochs", "1")
    assert r.code == 2 and "one of --steps, --epochs and --time-budget" in r.err
