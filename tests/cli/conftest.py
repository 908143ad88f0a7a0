"""Fixtures and helpers of the command-line training tests."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.conftest import smooth_image, write_raster

SMALL = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--workers", "0", "--device", "cpu"]


@pytest.fixture
def tiny_pair(tmp_path):
    img = smooth_image(192, 192, 3, seed=11)
    mp = np.where(img.mean(0, keepdims=True) > 128, 230, 40).astype(np.uint8).repeat(3, 0)
    return write_raster(tmp_path / "sat.tif", img), write_raster(tmp_path / "map.tif", mp)


def metric_rows(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))
