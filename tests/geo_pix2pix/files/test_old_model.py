"""Model files written before model families existed keep loading and translating unchanged.

The fixture was written by geopix at commit 31e4353 (see ``tests/fixtures/make_pix2pix_v1_model.py``):
a format-1 file with no ``family`` key. Its float32 translate of a Charlotte crop is stored beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from geo_pix2pix.files.modelfile import read_meta
from geo_pix2pix.inference.translate import TranslateConfig, translate
from tests.fixtures.make_pix2pix_v1_model import DATA, HERE, crop


def test_old_model_file_loads_as_pix2pix() -> None:
    meta = read_meta(HERE / "pix2pix_v1_model.safetensors")
    assert meta.family == "pix2pix"
    assert meta.generator.name == "unet" and meta.tile_size == 32 and meta.step == 40


def test_old_model_file_translates_to_the_same_pixels(tmp_path: Path) -> None:
    region = crop(DATA / "charlotte_sat.tif", tmp_path / "region.tif")
    out = tmp_path / "out.tif"
    translate(region, out, TranslateConfig(model=str(HERE / "pix2pix_v1_model.safetensors"), device="cpu", amp=False))
    expected = np.load(HERE / "pix2pix_v1_expected.npy")
    with rasterio.open(out) as src, rasterio.open(region) as ref:
        got = src.read()
        assert (src.crs, src.transform, src.shape) == (ref.crs, ref.transform, ref.shape)
    assert expected.std() > 3  # the fixture draws structure, not a flat colour
    # float32 on another CPU (AVX2 vs AVX-512 kernels) may round a pixel the other way
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
