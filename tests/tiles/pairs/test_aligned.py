"""The pix2pix aligned (side-by-side) format, in both orders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from geo_pix2pix.tiles.errors import InputNotFoundError, NotARasterError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.aligned import aligned_specs
from geo_pix2pix.tiles.pairs.pair import open_pair
from geo_pix2pix.tiles.pairs.reader import MapInfo, PairReader
from tests.conftest import real


@pytest.mark.parametrize("order", ["AB", "BA"])
def test_halves_are_read_in_the_given_order(tmp_path, order) -> None:
    left = np.full((64, 64, 3), 10, np.uint8)
    right = np.full((64, 64, 3), 200, np.uint8)
    Image.fromarray(np.concatenate([left, right], axis=1)).save(tmp_path / "a.png")
    (spec,) = aligned_specs(tmp_path, order)
    with open_pair(spec) as pair:
        assert pair.region == PixelWindow(0, 0, 64, 64)
        s = pair.read(PixelWindow(8, 8, 32, 32))
    img, mp = (10, 200) if order == "AB" else (200, 10)
    assert (s.imagery == img).all() and (s.maps == mp).all() and s.valid.all()
    assert s.imagery.shape == (3, 32, 32)


def test_the_map_half_describes_itself_like_a_raster_map(tmp_path) -> None:
    left = np.full((32, 32, 3), 10, np.uint8)
    right = np.zeros((32, 32, 3), np.uint8)
    right[:, 16:] = 7
    Image.fromarray(np.concatenate([left, right], axis=1)).save(tmp_path / "a.png")
    (spec,) = aligned_specs(tmp_path, "AB")
    with open_pair(spec) as pair:
        assert isinstance(pair, PairReader)  # every member the interface declares
        assert pair.map_info() == MapInfo("uint8", None, None, None)  # a PNG: no nodata, units or colours
        assert pair.map_codes().tolist() == [0, 7]


def test_real_maps256_satellite_left_map_right() -> None:
    specs = aligned_specs(real("maps256"), "AB")
    assert len(specs) == 40
    with open_pair(specs[0]) as pair:
        s = pair.read(PixelWindow(0, 0, 256, 256))
    raw = np.asarray(Image.open(specs[0].imagery).convert("RGB"))
    np.testing.assert_array_equal(s.imagery.transpose(1, 2, 0), raw[:, :256])
    np.testing.assert_array_equal(s.maps.transpose(1, 2, 0), raw[:, 256:])
    # Rendered maps are pale; satellite imagery is darker and more varied.
    assert s.maps.mean() > s.imagery.mean()


def test_bad_aligned_inputs(tmp_path) -> None:
    with pytest.raises(InputNotFoundError, match="no images"):
        aligned_specs(tmp_path)
    Image.fromarray(np.zeros((8, 9, 3), np.uint8)).save(tmp_path / "odd.png")
    (spec,) = aligned_specs(tmp_path)
    with pytest.raises(NotARasterError, match="odd width"):
        open_pair(spec)


def test_the_two_readers_import_their_interface_not_each_other() -> None:
    import ast
    from pathlib import Path

    import geo_pix2pix.tiles.pairs.aligned as aligned

    tree = ast.parse(Path(aligned.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "geo_pix2pix.tiles.pairs.reader" in imported
    assert "geo_pix2pix.tiles.pairs.pair" not in imported  # pair.py imports aligned.py: no cycle
