"""The public Python API: arrays give translate's pixels, any size works, errors are geopix errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import rasterio

import geo_pix2pix as geopix
from geo_pix2pix.tiles.errors import (
    BandError,
    CreationOptionError,
    GeopixError,
    ModelFileError,
    NotARasterError,
    TileSizeError,
)
from tests.conftest import real, smooth_image, write_raster


@pytest.fixture(scope="module")
def model(tiny_model: Path) -> geopix.Model:
    return geopix.load_model(tiny_model, device="cpu", amp=False)


def test_array_prediction_equals_translate_on_a_real_raster(tmp_path, model) -> None:
    src_path = real("geotiff/rasterio/RGB.byte.tif")  # 791 x 718, nodata 0 around the scene
    out = tmp_path / "out.tif"
    done: list[tuple[int, int]] = []
    result = model.translate(src_path, out, progress=lambda d, t: done.append((d, t)))
    assert done[-1] == (result.tiles, result.tiles) and len(done) > 1
    with rasterio.open(src_path) as src:
        array, valid = src.read(model.input_bands), src.dataset_mask() > 0
    got = model.predict(array, mask=valid)
    with rasterio.open(out) as o:
        written = o.read(masked=True)
    assert got.dtype == written.dtype == np.uint8 and got.shape == written.shape
    np.testing.assert_array_equal(got.data, written.data)
    np.testing.assert_array_equal(got.mask, written.mask)
    assert got.mask.any() and not got.mask.all()


@pytest.mark.parametrize("shape", [(250, 250), (1, 300), (300, 1), (7, 5)])
def test_any_array_size_works(model, shape) -> None:
    array = smooth_image(*shape, 3, seed=3) if min(shape) > 1 else np.full((3, *shape), 90, np.uint8)
    got = model.predict(array)
    assert got.shape == (3, *shape) and got.dtype == np.uint8 and not got.mask.any()


def test_an_array_is_tiled_like_a_raster_and_floats_are_taken_in_the_input_units(model) -> None:
    array = smooth_image(130, 170, 3, seed=5)
    ints = model.predict(array, tile=64, overlap=16)
    floats = model.predict(array.astype(np.float64), tile=64, overlap=16)
    np.testing.assert_array_equal(ints, floats)
    nan = array.astype(np.float32)
    nan[1, 10:20, 30:40] = np.nan
    masked = model.predict(nan, tile=64, overlap=16)
    assert masked.mask[:, 10:20, 30:40].all() and masked.mask.sum() == 3 * 100


def test_user_errors_are_geopix_errors_with_the_clis_message(tmp_path, model) -> None:
    ok = smooth_image(64, 64, 3)
    with pytest.raises(BandError, match=r"reads 3 band\(s\) \(1,2,3\)"):
        model.predict(ok[:2])
    with pytest.raises(GeopixError, match="is uint16 but the model was trained on uint8"):
        model.predict(ok.astype(np.uint16))
    with pytest.raises(BandError, match="one validity value per pixel"):
        model.predict(ok, mask=np.ones((10, 10), bool))
    with pytest.raises(TileSizeError, match="multiples of 64 pixels"):
        model.predict(ok, tile=96)
    with pytest.raises(TileSizeError, match="must be smaller than the tile size"):
        model.predict(ok, tile=64, overlap=64)
    with pytest.raises(ModelFileError, match="no model at"):
        geopix.load_model(tmp_path / "nothing")
    region = write_raster(tmp_path / "r.tif", ok)
    with pytest.raises(CreationOptionError, match="no creation option COMPRES; valid ones: .*COMPRESS"):
        model.translate(region, tmp_path / "o.tif", creation_options={"COMPRES": "ZSTD"})
    with pytest.raises(CreationOptionError, match="COMPRESS takes one of .*ZSTD"):
        model.translate(region, tmp_path / "o.tif", creation_options={"COMPRESS": "ZIP"})
    with pytest.raises(NotARasterError, match="region /vsicurl/http://geopix.invalid/x.tif: "):
        model.translate("/vsicurl/http://geopix.invalid/x.tif", tmp_path / "o.tif")  # offline: GDAL's reason
    (tmp_path / "o.tif").write_bytes(b"keep")
    with pytest.raises(GeopixError, match="--overwrite"):
        model.translate(region, tmp_path / "o.tif")
    assert (tmp_path / "o.tif").read_bytes() == b"keep"


def test_known_creation_options_are_written(tmp_path, model) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(64, 64, 3))
    out = model.translate(region, tmp_path / "o.tif", creation_options={"compress": "lzw"}).path
    with rasterio.open(out) as o:
        assert o.compression.name == "lzw"


def test_content_unlike_the_training_input_is_refused_unless_forced(tmp_path, model, caplog) -> None:
    from geo_pix2pix.inference.translate import CONTENT_SHIFT_REFUSE, _content_shift, open_raster

    like = write_raster(tmp_path / "like.tif", smooth_image(96, 96, 3, seed=9))
    unlike = write_raster(tmp_path / "unlike.tif", np.full((3, 96, 96), 250, np.uint8))
    with open_raster(str(unlike), "region") as src:
        assert _content_shift(src, model.meta, (1, 2, 3)) > CONTENT_SHIFT_REFUSE
    with caplog.at_level(logging.WARNING, logger="geo_pix2pix"):
        model.translate(like, tmp_path / "a.tif")
        assert "standard deviations" not in caplog.text
        with pytest.raises(GeopixError, match="looks like a map, not imagery.*pass --force"):
            model.translate(unlike, tmp_path / "b.tif")
        assert not (tmp_path / "b.tif").exists()
        model.translate(unlike, tmp_path / "b.tif", force=True)
    assert "band means lie" in caplog.text and "standard deviations from the training imagery's" in caplog.text


def test_train_from_a_config_with_a_progress_callback(tmp_path) -> None:
    img = smooth_image(128, 128, 3, seed=8)
    sat = write_raster(tmp_path / "sat.tif", img)
    mp = write_raster(tmp_path / "map.tif", (255 - img).astype(np.uint8))
    cfg = geopix.TrainConfig(pairs=(geopix.PairSpec(str(sat), str(mp)),), out=str(tmp_path / "run"), tile=64,
                             ngf=8, ndf=8, steps=3, val_fraction=0.0, workers=0, device="cpu")
    seen: list[int] = []
    result = geopix.fit(cfg, on_step=lambda step, losses: seen.append(step))
    assert seen == [1, 2, 3] and result.step == 3
    m = geopix.load_model(result.run_dir)
    assert m.meta.step == 3 and m.predict(img).shape == img.shape
    with pytest.raises(GeopixError, match="not found"):
        geopix.fit(geopix.TrainConfig(pairs=(geopix.PairSpec(str(tmp_path / "no.tif"), str(mp)),),
                                        out=str(tmp_path / "run2"), device="cpu"))
