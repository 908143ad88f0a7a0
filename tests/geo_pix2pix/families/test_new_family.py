"""A new model family is a new module plus a registry line: the tiny family of ``tiny_family.py``,
registered by this test and nowhere else, trains through the normal ``fit`` path (its own option,
its recipe, its own loss term logged) and its model translates with ``geopix translate``."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import rasterio

from geo_pix2pix.families.registry import FAMILIES
from tests.conftest import smooth_image, write_raster


@pytest.fixture
def tiny_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAMILIES, "tiny", "tests.geo_pix2pix.families.tiny_family:FAMILY")  # the registry line


def test_a_new_family_trains_and_translates(tmp_path, tiny_registered, geopix) -> None:
    import geo_pix2pix as geopix_api
    from geo_pix2pix.files.modelfile import read_meta
    from tests.geo_pix2pix.families.tiny_family import TinyGeneratorConfig

    img = smooth_image(160, 160, 3, seed=5)
    sat = write_raster(tmp_path / "sat.tif", img)
    mp = write_raster(tmp_path / "map.tif", np.where(img.mean(0, keepdims=True) > 128, 230, 40).astype(np.uint8)
                      .repeat(3, 0))
    cfg = geopix_api.TrainConfig(pairs=(geopix_api.PairSpec(str(sat), str(mp)),), out=str(tmp_path / "run"),
                                 family="tiny", steps=2, tile=64, batch_size=2, ngf=8, ndf=8, val_every=2,
                                 checkpoint_every=2, device="cpu", workers=0)
    cfg, taken = geopix_api.apply_recipe(cfg, "cpu")
    assert taken == {"lambda_tv": 0.2} and cfg.family_options == {"lambda_tv": 0.2}  # its recipe, its option
    seen: list[dict[str, float]] = []
    result = geopix_api.fit(cfg, on_step=lambda step, losses: seen.append(losses.as_row()))
    assert result.step == 2
    assert [list(r) for r in seen] == [["D_real", "D_fake", "G_GAN", "G_L1", "G_TV"]] * 2
    with open(result.run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["1", "2"] and all(float(r["G_TV"]) > 0 for r in rows)
    meta = read_meta(result.run_dir)
    assert meta.family == "tiny" and meta.generator == TinyGeneratorConfig(width=8)

    region = write_raster(tmp_path / "region.tif", smooth_image(100, 120, 3, seed=6))
    r = geopix("translate", region, tmp_path / "out.tif", "--model", result.run_dir)
    assert r.code == 0, r.err
    with rasterio.open(region) as src, rasterio.open(tmp_path / "out.tif") as out:
        assert (out.width, out.height, out.crs, out.transform) == (src.width, src.height, src.crs, src.transform)
        assert out.count == 3 and np.ptp(out.read()) > 0


def test_an_unregistered_family_is_refused_with_the_names_of_the_others() -> None:
    from geo_pix2pix.families.base import get_family
    from geo_pix2pix.tiles.errors import GeopixError

    with pytest.raises(GeopixError, match="unknown model family 'tiny'; choose pix2pix, pix2pixhd, spade, inpaint"):
        get_family("tiny")
