"""Side-by-side (pix2pix aligned) images trained as classes or values, through `geopix train`.

The map half is read through the pair reader's public interface (``map_info``, ``map_codes``),
which both readers implement; before, training read a private attribute only the raster reader
had and stopped with an internal AttributeError.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from geo_pix2pix.files.modelfile import read_meta
from tests.cli.conftest import SMALL
from tests.conftest import smooth_image


@pytest.fixture
def aligned_codes(tmp_path):
    """Three side-by-side images: imagery | a map whose first band holds class codes 1, 2, 3."""
    d = tmp_path / "aligned"
    d.mkdir()
    for i in range(3):
        img = smooth_image(64, 64, 3, seed=40 + i)
        codes = np.where(img[0] < 90, 1, np.where(img[0] < 170, 2, 3)).astype(np.uint8)
        right = np.stack([codes, codes * 40, codes * 80])
        Image.fromarray(np.concatenate([img, right], axis=2).transpose(1, 2, 0)).save(d / f"{i}.png")
    return d


def test_categorical_side_by_side_learns_the_codes_of_the_first_map_band(tmp_path, geopix, aligned_codes) -> None:
    run = tmp_path / "run"
    r = geopix("-q", "train", "--aligned-dir", aligned_codes, "--map-kind", "categorical", "--map-bands", "1",
               "--steps", "2", "--out", run, *SMALL)
    assert r.code == 0, r.err
    meta = read_meta(run / "model.safetensors")
    assert meta.map_kind == "categorical"
    assert meta.output_stats.codes == (1, 2, 3)
    assert meta.output_stats.colors[0][:3] != (0, 0, 0)  # a PNG has no colour table: default colours


def test_categorical_side_by_side_with_several_named_map_bands_is_refused(tmp_path, geopix, aligned_codes) -> None:
    r = geopix("-q", "train", "--aligned-dir", aligned_codes, "--map-kind", "categorical", "--map-bands", "1,2",
               "--steps", "2", "--out", tmp_path / "run", *SMALL)
    assert r.code == 1
    assert "a categorical map is one band of class codes" in r.err and "internal error" not in r.err


def test_continuous_side_by_side_learns_values_without_nodata(tmp_path, geopix, aligned_codes) -> None:
    run = tmp_path / "run"
    r = geopix("-q", "train", "--aligned-dir", aligned_codes, "--map-kind", "continuous", "--steps", "2",
               "--out", run, *SMALL)
    assert r.code == 0, r.err
    meta = read_meta(run / "model.safetensors")
    assert meta.map_kind == "continuous"
    out = meta.output_stats
    assert out.dtype == "float32" and out.units is None
    assert math.isnan(out.nodata)  # the PNG declares no nodata: NaN marks invalid output pixels
