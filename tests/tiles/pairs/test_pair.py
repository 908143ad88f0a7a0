"""Aligned reading of imagery/map pairs: reprojection, masks, statistics, errors."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject
from skimage.registration import phase_cross_correlation

from geo_pix2pix.tiles.errors import BandError, GeoreferencingError, InputNotFoundError, NoOverlapError, NotARasterError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow, grid_windows
from geo_pix2pix.tiles.pairs.pair import PairSpec, RasterPair
from geo_pix2pix.tiles.pairs.prepare import TilerConfig, prepare_pair
from geo_pix2pix.tiles.pairs.reader import PairReader
from tests.conftest import real, smooth_image, write_raster


def _reprojected(tmp_path, src_path, dst_crs: str, scale: float, name: str, resampling=Resampling.nearest):
    """Reproject ``src_path`` into ``dst_crs`` at ``scale`` x its resolution (another grid)."""
    with rasterio.open(src_path) as src:
        transform, w, h = calculate_default_transform(
            src.crs, dst_crs, src.width, src.height, *src.bounds,
            resolution=None)
        transform = transform @ Affine.scale(scale)
        w, h = int(w / scale) + 2, int(h / scale) + 2
        out = np.zeros((src.count, h, w), src.dtypes[0])
        reproject(rasterio.band(src, list(range(1, src.count + 1))), out, dst_transform=transform,
                  dst_crs=dst_crs, resampling=resampling, dst_nodata=0)
    return write_raster(tmp_path / name, out, crs=dst_crs, transform=transform, nodata=0)


def test_map_in_another_crs_and_resolution_lines_up(tmp_path) -> None:
    img = smooth_image(300, 300, 3, seed=4)
    sat = write_raster(tmp_path / "sat.tif", img)
    # The map is the same picture in geographic coordinates at ~0.8x the pixel size.
    mp = _reprojected(tmp_path, sat, "EPSG:4326", 0.8, "map4326.tif", Resampling.bilinear)
    with RasterPair(PairSpec(str(sat), str(mp))) as pair:
        assert pair.resampling == "nearest"  # integer map -> nearest by default
        assert pair.region.height >= 290 and pair.region.width >= 290
        for win in list(grid_windows(pair.region.height, pair.region.width, 128, 0))[:4]:
            s = pair.read(win)
            assert s.valid.mean() > 0.9
            shift, _, _ = phase_cross_correlation(
                s.imagery[0].astype(float), s.maps[0].astype(float), upsample_factor=10)
            assert np.abs(shift).max() <= 1.0, f"chips misaligned by {shift} px"


def test_region_is_the_intersection_of_footprints(tmp_path) -> None:
    img = smooth_image(200, 200, 3)
    sat = write_raster(tmp_path / "sat.tif", img)
    # Map shifted 50 px right and 30 px down, same CRS and resolution.
    shifted = Affine(10.0, 0, 500_000.0 + 500, 0, -10.0, 4_200_000.0 - 300)
    mp = write_raster(tmp_path / "map.tif", img, transform=shifted)
    with RasterPair(PairSpec(str(sat), str(mp))) as pair:
        assert pair.region == PixelWindow(30, 50, 170, 150)
        s = pair.read(PixelWindow(0, 0, 100, 100))
        np.testing.assert_array_equal(s.maps, img[:, :100, :100])  # map origin = region origin
        np.testing.assert_array_equal(s.imagery, img[:, 30:130, 50:150])


def test_nodata_and_alpha_masks(tmp_path) -> None:
    img = smooth_image(256, 256, 3)
    img[:, :, :128] = 0
    img[img == 0] = 0
    sat = write_raster(tmp_path / "sat.tif", img, nodata=0)
    rgba = np.concatenate([smooth_image(256, 256, 3, seed=2), np.full((1, 256, 256), 255, np.uint8)])
    rgba[3, 200:, :] = 0  # transparent bottom rows
    mp = write_raster(tmp_path / "map.tif", rgba, photometric="RGB", alpha="YES")
    with RasterPair(PairSpec(str(sat), str(mp))) as pair:
        assert pair.map_bands == (1, 2, 3)  # alpha is a mask, not data
        s = pair.read(PixelWindow(0, 0, 256, 256))
        assert not s.valid[:, :128].any()
        assert not s.valid[200:].any()
        assert s.valid[:200, 128:].all()
    prepared = prepare_pair(PairSpec(str(sat), str(mp)), TilerConfig(tile=64, min_valid=0.95, split=_nosplit()))
    t = prepared.train
    assert (t.cols >= 128).all() and (t.rows + 64 <= 200).all()


def test_uint16_statistics_come_from_the_whole_raster(tmp_path) -> None:
    img = smooth_image(256, 256, 1, dtype="uint16")
    img[:, :, 128:] += 3000  # right half much brighter
    sat = write_raster(tmp_path / "pan.tif", img)
    mp = write_raster(tmp_path / "map.tif", smooth_image(256, 256, 1))
    prepared = prepare_pair(PairSpec(str(sat), str(mp)), TilerConfig(tile=64, split=_nosplit()))
    st = prepared.imagery_stats
    assert st.method == "percentile" and st.dtype == "uint16"
    lo, hi = np.percentile(img, [2, 98])
    assert abs(st.low[0] - lo) < 0.02 * (hi - lo) and abs(st.high[0] - hi) < 0.02 * (hi - lo)
    assert prepared.map_stats.method == "fixed"
    # Same statistics for a dark and a bright window: no per-tile stretching.
    dark = st.normalize(img[:, :64, :64])
    bright = st.normalize(img[:, :64, 192:])
    assert bright.mean() - dark.mean() > 0.8


def _nosplit():
    from geo_pix2pix.tiles.pairs.split import SplitConfig

    return SplitConfig(val_fraction=0.0)


def test_errors_are_clear(tmp_path, pair_paths) -> None:
    sat, mp = pair_paths
    with pytest.raises(InputNotFoundError, match="not found"):
        RasterPair(PairSpec(str(tmp_path / "nope.tif"), str(mp)))
    (tmp_path / "notes.txt").write_text("not a raster")
    with pytest.raises(NotARasterError, match="not a raster"):
        RasterPair(PairSpec(str(tmp_path / "notes.txt"), str(mp)))
    nocrs = write_raster(tmp_path / "nocrs.tif", smooth_image(64, 64), crs=None)
    with pytest.raises(GeoreferencingError, match="has no CRS"):
        RasterPair(PairSpec(str(nocrs), str(mp)))
    far = write_raster(tmp_path / "far.tif", smooth_image(64, 64),
                       transform=Affine(10.0, 0, 900_000.0, 0, -10.0, 100_000.0))
    with pytest.raises(NoOverlapError, match=r"do not overlap: imagery \(.*\) and map \(.*\) in EPSG:32618"):
        RasterPair(PairSpec(str(sat), str(far)))
    with pytest.raises(BandError, match="band 5 is out of range"):
        RasterPair(PairSpec(str(sat), str(mp), imagery_bands=(1, 5)))
    with (RasterPair(PairSpec(str(sat), str(mp))) as pair,
          pytest.raises(NoOverlapError, match="smaller than one 512-pixel tile")):
        pair.require_tile(512)


def test_real_google_pair_shares_one_grid() -> None:
    spec = PairSpec(str(real("google_sat2maps/000002_Houston_sat.tif")),
                    str(real("google_sat2maps/000002_Houston_map.tif")))
    p = prepare_pair(spec, TilerConfig(tile=128))
    assert p.region == PixelWindow(0, 0, 512, 512)
    assert p.split.method == "strip" and len(p.val) == 4
    assert p.pixel_size == pytest.approx((1.194329, 1.194329), rel=1e-4)
    assert len(p.train) > 0


def test_real_rgb_byte_rotated_footprint_with_nodata() -> None:
    path = str(real("geotiff/rasterio/RGB.byte.tif"))
    p = prepare_pair(PairSpec(path, path), TilerConfig(tile=128, min_valid=0.95))
    with RasterPair(p.spec) as pair:
        for i in range(0, len(p.train), max(1, len(p.train) // 20)):
            _, win = p.train.window(i)
            assert pair.read(win).valid.mean() >= 0.9  # coarse estimate close to the exact mask
        assert pair.read(PixelWindow(0, 0, 64, 64)).valid.mean() < 0.5  # a nodata corner


def test_real_spacenet_pan_with_rasterized_buildings(tmp_path) -> None:
    import geopandas as gpd
    from rasterio.features import rasterize

    pan = real("geotiff/solaris/sample_geotiff.tif")
    labels = gpd.read_file(real("vector/solaris/geotiff_labels.geojson"))
    with rasterio.open(pan) as src:
        # Buildings rasterised on a 1 m grid (coarser than the 0.5 m imagery).
        tr = src.transform @ Affine.scale(2)
        shape = (src.height // 2, src.width // 2)
        crs = src.crs
        exact = rasterize(((g, 255) for g in labels.to_crs(crs).geometry), out_shape=(src.height, src.width),
                          transform=src.transform, dtype="uint8")
    coarse = rasterize(((g, 255) for g in labels.to_crs(crs).geometry), out_shape=shape, transform=tr, dtype="uint8")
    mp = write_raster(tmp_path / "buildings.tif", coarse, crs=crs, transform=tr)
    with RasterPair(PairSpec(str(pan), str(mp))) as pair:
        assert pair.imagery.dtypes[0] == "uint16"
        s = pair.read(PixelWindow(0, 0, pair.region.height, pair.region.width))
        r, c = pair.region.row, pair.region.col
        ref = exact[r:r + pair.region.height, c:c + pair.region.width]
        disagree = (s.maps[0] > 0) != (ref > 0)
        assert disagree.mean() < 0.02  # only building edges differ (1 m vs 0.5 m cells)
        imgst, mapst = pair.compute_stats()
        assert imgst.method == "percentile"


def test_map_info_is_the_map_files_own_not_the_warped_views(tmp_path) -> None:
    """Nodata, units and colour table come from the map file, also when the pair reads it warped
    onto the imagery grid (here: a map of 20 m pixels under 10 m imagery)."""
    sat = write_raster(tmp_path / "sat.tif", smooth_image(64, 64, 3, seed=2))
    codes = np.where(smooth_image(32, 32, 1, seed=3)[0] < 128, 1, 2).astype(np.uint8)
    mp = tmp_path / "classes.tif"
    with rasterio.open(mp, "w", driver="GTiff", width=32, height=32, count=1, dtype="uint8", crs="EPSG:32618",
                       transform=Affine(20.0, 0, 500_000.0, 0, -20.0, 4_200_000.0), nodata=0) as dst:
        dst.write(codes[None])
        dst.write_colormap(1, {1: (0, 90, 255, 255), 2: (40, 160, 40, 255)})
        dst.units = ("class",)
    with RasterPair(PairSpec(str(sat), str(mp))) as pair:
        assert isinstance(pair, PairReader)
        assert pair.maps is not pair.imagery and pair.maps.width == 64  # the warped view
        info = pair.map_info()
        assert (info.dtype, info.nodata, info.units) == ("uint8", 0.0, "class")
        assert info.colors is not None and info.colors[1] == (0, 90, 255, 255)
        assert sorted(pair.map_codes()) == [1, 2]
