"""Predictions at valid pixels do not depend on what the input's masked pixels hold (issue 30).

Each check writes the same region twice, with an internal mask over a collar and a hole, and two
different values under it (white, and noise), and asserts that the two outputs are identical at
every valid pixel (and carry the same mask). Tiny 3-step models (:mod:`tests.geo_pix2pix.export.conftest`):
their weights do not matter for the invariant. Where the same regions are predicted without their
mask, the outputs differ, so the check would see a leak.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

import geo_pix2pix as geopix
from tests.conftest import smooth_image, write_raster
from tests.geo_pix2pix.export.conftest import export_case  # noqa: F401  (the session's tiny models)

SMALL = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--batch-size", "2", "--val-fraction", "0",
         "--val-every", "100000", "--device", "cpu", "--no-amp", "--workers", "0"]


def _valid(height: int, width: int) -> np.ndarray:
    """A collar of 9 px on the left and 6 on top, and a hole: what a footprint and a cloud leave."""
    valid = np.ones((height, width), bool)
    valid[:, :9] = valid[:6] = False
    valid[30:44, 50:70] = False
    return valid


def _masked_region(path: Path, data: np.ndarray, valid: np.ndarray, under: np.ndarray | int) -> Path:
    """``data`` with ``under`` at the pixels ``valid`` leaves out, and an internal mask of ``valid``."""
    data = np.where(valid[None], data, under).astype(data.dtype)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        write_raster(path, data)
        with rasterio.open(path, "r+") as dst:
            dst.write_mask(valid.astype(np.uint8) * 255)
    return path


def _noise(shape: tuple[int, ...], dtype: str, seed: int = 1) -> np.ndarray:
    hi = np.iinfo(dtype).max if np.issubdtype(np.dtype(dtype), np.integer) else 1.0
    return np.random.default_rng(seed).integers(0, int(hi) + 1, shape).astype(dtype)


def _pair(tmp_path: Path, data: np.ndarray, white: int) -> tuple[Path, Path, np.ndarray]:
    valid = _valid(*data.shape[1:])
    a = _masked_region(tmp_path / "white.tif", data, valid, white)
    b = _masked_region(tmp_path / "noise.tif", data, valid, _noise(data.shape, data.dtype.name))
    return a, b, valid


def _same_at_valid(a: Path, b: Path, valid: np.ndarray) -> None:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        xa, ya = x.read(masked=True), y.read(masked=True)
    assert np.array_equal(np.ma.getmaskarray(xa), np.ma.getmaskarray(ya))
    assert not np.ma.getmaskarray(xa)[:, valid].any()
    assert np.array_equal(xa.data[:, valid], ya.data[:, valid])


def test_translate_on_the_command_line(tmp_path, geopix, export_case) -> None:  # noqa: F811
    case = export_case("unet_rgb")
    a, b, valid = _pair(tmp_path, smooth_image(80, 112, 3, seed=9), 255)
    for region in (a, b):
        r = geopix("-q", "translate", region, tmp_path / f"{region.stem}.out.tif", "--model", case.run, "--tile-size",
                   "64", "--device", "cpu", "--no-amp")
        assert r.code == 0, r.err
    _same_at_valid(tmp_path / "white.out.tif", tmp_path / "noise.out.tif", valid)


@pytest.mark.parametrize("name", ["unet_values", "hd_classes", "spade_codes"])
def test_every_family_and_kind(tmp_path, export_case, name) -> None:  # noqa: F811
    """pix2pix (a measured map), pix2pixhd (classes) and SPADE, whose input is a class layout: there
    masked pixels read "no class" whatever code they hold."""
    case = export_case(name)
    model = geopix.load_model(case.run, device="cpu", amp=False)
    with rasterio.open(case.region) as src:
        data = src.read()
    if name == "spade_codes":  # known classes under the mask (and the layout's nodata corner masked too)
        valid = _valid(*data.shape[1:]) & (data[0] != 0)
        a = _masked_region(tmp_path / "white.tif", data, valid, 10)
        b = _masked_region(tmp_path / "noise.tif", data, valid, np.where(_noise(data.shape, "uint8") > 127, 20, 30))
    else:
        a, b, valid = _pair(tmp_path, data, 255)
    for region in (a, b):
        model.translate(region, tmp_path / f"{region.stem}.out.tif", tile=64)
    _same_at_valid(tmp_path / "white.out.tif", tmp_path / "noise.out.tif", valid)


def test_model_predict_and_the_onnx_engine(tmp_path, export_case) -> None:  # noqa: F811
    from geo_pix2pix.export import ExportConfig, export_onnx

    case = export_case("unet_rgb")
    data = smooth_image(80, 112, 3, seed=9)
    valid = _valid(80, 112)
    white = np.where(valid[None], data, 255).astype(np.uint8)
    noise = np.where(valid[None], data, _noise(data.shape, "uint8")).astype(np.uint8)
    onnx_file = tmp_path / "model.onnx"
    export_onnx(ExportConfig(str(case.run), str(onnx_file)))
    for model in (geopix.load_model(case.run, device="cpu", amp=False), geopix.load_model(onnx_file, device="cpu")):
        a, b = model.predict(white, mask=valid, tile=64), model.predict(noise, mask=valid, tile=64)
        assert np.array_equal(a.data[:, valid], b.data[:, valid]) and np.array_equal(a.mask, b.mask)
        # the control: told nothing of the mask, the model reads the white collar and the noise
        bare_a, bare_b = model.predict(white, tile=64), model.predict(noise, tile=64)
        assert not np.array_equal(bare_a.data[:, valid], bare_b.data[:, valid])


@pytest.fixture(scope="module")
def inpaint_run(tmp_path_factory) -> Path:
    from geo_pix2pix.cli.main import main

    d = tmp_path_factory.mktemp("inpaint_masked")
    pan = write_raster(d / "pan.tif", smooth_image(96, 96, 1, seed=6, dtype="uint16") * 3 + 1, nodata=0)
    try:
        main(["-q", "train", "--task", "inpaint", "--imagery", str(pan), "--out", str(d / "run"), *SMALL,
              "--steps", "2"])
    except SystemExit as exc:
        assert not exc.code
    return d / "run"


def test_inpaint_paints_from_the_known_pixels_alone(tmp_path, geopix, inpaint_run) -> None:
    """The masked pixels are the holes: every output pixel, painted or kept, is the same."""
    data = smooth_image(80, 112, 1, seed=8, dtype="uint16") * 3 + 1
    a, b, valid = _pair(tmp_path, data, 65535)
    for region in (a, b):
        r = geopix("-q", "inpaint", region, tmp_path / f"{region.stem}.out.tif", "--model", inpaint_run,
                   "--tile-size", "64", "--device", "cpu", "--no-amp")
        assert r.code == 0, r.err
    with rasterio.open(tmp_path / "white.out.tif") as x, rasterio.open(tmp_path / "noise.out.tif") as y:
        xa, ya = x.read(), y.read()
        assert np.array_equal(xa, ya) and np.array_equal(x.dataset_mask(), y.dataset_mask())
    assert not np.array_equal(xa[:, ~valid], data[:, ~valid])  # the holes were painted
