"""Map kinds, class tables and class probabilities blended across tile overlaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geo_pix2pix.tiles.encoding.classes import ClassTable, codec_from_dict, infer_map_kind, nearest_colour_classes
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.mosaic.arrays import mosaic_array
from geo_pix2pix.tiles.pairs.pair import PairSpec, open_pair
from tests.conftest import smooth_image, write_raster


@pytest.mark.parametrize("dtype, bands, colors, distinct, kind", [
    ("uint8", 1, True, 200, "categorical"),      # a colour table: codes
    ("uint8", 1, False, 12, "categorical"),      # a 12-class raster without a palette
    ("uint16", 1, False, 3000, "continuous"),    # a 16-bit DEM
    ("uint16", 1, False, 5, "categorical"),
    ("float32", 1, False, None, "continuous"),
    ("uint8", 3, False, None, "rendered"),
    ("uint8", 4, False, None, "rendered"),
    ("uint16", 3, False, None, "continuous"),    # 16-bit multispectral values
])
def test_map_kind_inference(dtype, bands, colors, distinct, kind) -> None:
    assert infer_map_kind(dtype, bands, colors, distinct) == kind


def test_class_table_encodes_codes_one_hot_and_back() -> None:
    t = ClassTable.build([30, 10, 20], {10: "water"}, {10: (0, 0, 255)}, nodata=0)
    assert t.codes == (10, 20, 30) and t.names[0] == "water" and t.nodata == 0 and t.dtype == "uint8"
    codes = np.array([[[10, 20, 30, 99]]], np.uint8)
    onehot = t.normalize(codes)
    assert onehot.shape == (3, 1, 4) and set(np.unique(onehot)) == {-1.0, 1.0}
    assert (onehot[:, 0, 3] == -1).all()  # an unknown code is no class
    np.testing.assert_array_equal(t.denormalize(onehot[:, :, :3]), codes[:, :, :3])
    assert t.unknown_codes(codes) == [99]
    assert codec_from_dict(t.to_dict()) == t
    assert isinstance(codec_from_dict(BandStats("uint8", (0.0,), (255.0,)).to_dict()), BandStats)
    assert t.colormap()[0] == (0, 0, 0, 0) and t.colormap()[10] == (0, 0, 255, 255)


def test_layouts_are_one_hot_for_batches_and_through_a_palette() -> None:
    # a batch of tiles, as translate feeds a class layout to a SPADE model
    t = ClassTable.build([0, 1, 2])
    batch = np.array([[[[0, 1], [2, 7]]], [[[2, 2], [1, 0]]]], np.uint8)  # (2, 1, 2, 2)
    x = t.normalize(batch)
    assert x.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(x[0, :, 0, 1], [-1, 1, -1])
    np.testing.assert_array_equal(x[1, :, 0, 0], [-1, -1, 1])
    assert (x[0, :, 1, 1] == -1).all()  # code 7: no class, all -1 (read as nodata)
    np.testing.assert_array_equal(x[1], t.normalize(batch[1]))
    # a rendered map through a palette: each pixel one-hot at its nearest colour's class
    from geo_pix2pix.evaluation.palette import load_palette

    pal = load_palette(Path(__file__).resolve().parents[3] / "examples" / "palettes" / "google_maps_pix2pix.json")
    table = pal.class_table()
    rgb = np.asarray(table.rgb_colors, np.float32).T[:, None, :].round().astype(np.uint8)  # (3, 1, colours)
    onehot = table.normalize(rgb)
    np.testing.assert_array_equal(np.argmax(onehot[:, 0], axis=0), table.rgb_classes)
    assert (onehot == 1).sum(axis=0).max() == 1


def test_class_table_nodata_and_wide_codes() -> None:
    assert ClassTable.build([0, 1, 2]).nodata == 255  # the map has no nodata: the first free code
    assert ClassTable.build(list(range(256))).dtype == "uint16"
    assert ClassTable.build([1, 300]).dtype == "uint16"
    with pytest.raises(GeopixError, match="nodata code 5 is also a class"):
        ClassTable((5,), ("a",), ((0, 0, 0, 255),), "uint8", 5)


def test_probabilities_not_codes_are_blended_across_overlaps() -> None:
    """Two neighbouring tiles disagree: one says class 10 (p 0.9), the other class 30 (p 0.6). An
    average of codes would write 20 in the overlap; blended probabilities give 10 or 30 there."""
    t = ClassTable.build([10, 20, 30])
    u8 = BandStats("uint8", (0.0,), (255.0,))
    data = np.zeros((1, 32, 96), np.uint8)
    data[:, :, 48:] = 255  # the right tile's input is bright

    def predict(tiles: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        out = np.empty((len(tiles), 3, *tiles.shape[2:]), np.float32)
        for i, x in enumerate(tiles):
            bright = x.mean() > 0
            p = np.array([0.2, 0.2, 0.6] if bright else [0.9, 0.05, 0.05], np.float32)
            out[i] = (p * 2 - 1)[:, None, None]
        return out

    got = mosaic_array(data, predict, u8, t, tile=64, overlap=32)
    assert got.shape == (1, 32, 96) and got.dtype == np.uint8
    values = set(np.unique(got.data).tolist())
    assert values == {10, 30}  # never the average code 20
    assert got[0, 0, 0] == 10 and got[0, 0, -1] == 30


def test_resampling_follows_the_map_kind(tmp_path) -> None:
    from affine import Affine

    img = write_raster(tmp_path / "img.tif", smooth_image(64, 64, 3))
    # a map on a coarser grid, so it is warped onto the imagery's
    mp = write_raster(tmp_path / "map.tif", (np.arange(32 * 32, dtype=np.uint16) * 50).reshape(1, 32, 32),
                      transform=Affine(20.0, 0, 500_000.0, 0, -20.0, 4_200_000.0))
    for kind, resampling in (("categorical", "nearest"), ("continuous", "bilinear"), ("rendered", "bilinear")):
        with open_pair(PairSpec(str(img), str(mp), map_kind=kind)) as pair:
            assert pair.resampling == resampling
    with open_pair(PairSpec(str(img), str(mp), map_kind="continuous")) as pair:
        from geo_pix2pix.tiles.mosaic.grid import PixelWindow

        s = pair.read(PixelWindow(0, 0, 64, 64))
        assert (s.maps % 50 != 0).mean() > 0.5  # interpolated between the coarse values: no stair steps
    with open_pair(PairSpec(str(img), str(mp), map_kind="categorical")) as pair:
        assert (pair.read(PixelWindow(0, 0, 64, 64)).maps % 50 == 0).all()  # codes stay codes


def test_nearest_colour_is_the_exact_nearest_on_integer_rgb_ties_to_the_first() -> None:
    rng = np.random.default_rng(5)
    colors = rng.integers(0, 256, (9, 3)).astype(np.float32)
    owner = np.array([0, 0, 1, 2, 3, 3, 4, 5, 6])
    rgb = rng.integers(0, 256, (3, 40, 50)).astype(np.uint8)
    rgb[:, 0, 0] = (colors[0] + colors[1]) / 2 if ((colors[0] + colors[1]) % 2 == 0).all() else colors[1]
    d2 = ((rgb.reshape(3, -1).T[:, None].astype(np.float64) - colors[None].astype(np.float64)) ** 2).sum(-1)
    expected = owner[d2.argmin(1)].reshape(40, 50)  # argmin: the first of equally near colours
    assert (nearest_colour_classes(rgb, colors, owner) == expected).all()
    batch = np.stack([rgb, rgb[:, ::-1]])  # (N, C, H, W) as well as (C, H, W)
    assert (nearest_colour_classes(batch, colors, owner) == np.stack([expected, expected[::-1]])).all()
    tie = np.array([[[0.0]], [[0.0]], [[0.0]]], np.float32)  # equally near both colours
    assert nearest_colour_classes(tie, np.array([[1, 0, 0], [0, 1, 0]], np.float32), np.array([7, 3])) == 7


def test_a_binary_mask_without_colours_stays_black_and_white() -> None:
    """A 0/255 road mask has no colour table; its classes keep its greyscale display's black and
    white (a hue for the background would cover the imagery in QGIS); given colours win."""
    assert ClassTable.build([0, 255]).colormap()[0][:3] == (0, 0, 0)
    assert ClassTable.build([0, 255]).colormap()[255][:3] == (255, 255, 255)
    assert ClassTable.build([0, 1]).colormap()[1][:3] == (255, 255, 255)
    assert ClassTable.build([0, 255], colors={255: (255, 0, 0)}).colormap()[255][:3] == (255, 0, 0)
    three = ClassTable.build([0, 1, 2]).colormap()
    assert len({three[c][:3] for c in (0, 1, 2)}) == 3 and three[1][:3] != (255, 255, 255)
