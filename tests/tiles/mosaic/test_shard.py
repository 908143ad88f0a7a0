"""Sharded mosaics: the parts of N shards, merged, equal the one-process COG byte for byte in
their pixels (full resolution, overviews and mask), and the merge refuses parts that do not
belong together."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError, OutputExistsError
from geo_pix2pix.tiles.mosaic.blend import plan_mosaic
from geo_pix2pix.tiles.mosaic.merge import merge_parts
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, mosaic_raster
from geo_pix2pix.tiles.mosaic.shard import Shard, parse_shard, shard_rows
from tests.conftest import smooth_image, write_raster


def _u8(bands: int) -> BandStats:
    return BandStats("uint8", (0.0,) * bands, (255.0,) * bands)


def wobbly(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """A deterministic, position-dependent, non-linear 'network': each tile's output depends on
    where a pixel sits in the tile, so blending (and any halo mistake) shows in the result."""
    t = x.shape[-1]
    ramp = np.linspace(-0.3, 0.3, t, dtype=np.float32)
    return np.tanh(1.3 * x[:, ::-1] + ramp[None, None, :, None] - 0.5 * ramp[None, None, None, :]).copy()


def _cfg(tile: int = 64, overlap: int = 16, **kw) -> MosaicConfig:
    return MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=tile, overlap=overlap,
                        batch_size=3, **kw)


def _pixels(path: Path) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Full resolution, every overview level and the mask, as read back."""
    with rasterio.open(path) as src:
        full = src.read()
        levels = [src.read(out_shape=(src.count, src.height // f, src.width // f)) for f in src.overviews(1)]
        return full, levels, src.dataset_mask()


def _sharded(src: Path, tmp: Path, n: int, cfg: MosaicConfig, predict=wobbly) -> Path:
    parts = tmp / f"parts{n}"
    parts.mkdir()
    for i in range(n):
        mosaic_raster(src, parts / f"p{i}.tif", predict, cfg, shard=Shard(i, n), job="job-a")
    out = tmp / f"merged{n}.tif"
    merge_parts(out, [parts])
    return out


@pytest.mark.parametrize("height", [512, 301])  # 301: not a multiple of the stride, odd (GDAL's overviews)
def test_merged_shards_equal_the_unsharded_cog(tmp_path: Path, height: int) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(height, 700, 3, seed=5))
    cfg = _cfg()
    whole = tmp_path / "whole.tif"
    mosaic_raster(src, whole, wobbly, cfg)
    ref_full, ref_levels, _ = _pixels(whole)
    assert ref_levels  # overviews exist, so they are compared too
    with rasterio.open(whole) as a:
        ref_profile = (a.crs, a.transform, a.count, a.dtypes, a.colorinterp, a.tags().get("GEOPIX_SHARD"))
    for n in (1, 2, 3):
        merged = _sharded(src, tmp_path, n, cfg)
        full, levels, _ = _pixels(merged)
        assert full.tobytes() == ref_full.tobytes(), f"{n} shards"
        assert [lv.tobytes() for lv in levels] == [lv.tobytes() for lv in ref_levels], f"{n} shards"
        with rasterio.open(merged) as m:
            assert (m.crs, m.transform, m.count, m.dtypes, m.colorinterp, m.tags().get("GEOPIX_SHARD")) == ref_profile
            assert m.profile.get("blockxsize") == 512 or m.width < 512


def test_a_masked_input_merges_with_its_mask(tmp_path: Path) -> None:
    img = smooth_image(400, 300, 3, seed=7)
    img[:, 150:230, 40:260] = 0  # nodata hole across a shard boundary
    src = write_raster(tmp_path / "in.tif", img, nodata=0)
    cfg = _cfg()
    whole = tmp_path / "whole.tif"
    mosaic_raster(src, whole, wobbly, cfg)
    ref_full, ref_levels, ref_mask = _pixels(whole)
    assert (ref_mask == 0).any()
    full, levels, mask = _pixels(_sharded(src, tmp_path, 3, cfg))
    assert full.tobytes() == ref_full.tobytes() and mask.tobytes() == ref_mask.tobytes()
    assert [lv.tobytes() for lv in levels] == [lv.tobytes() for lv in ref_levels]


def test_a_part_is_georeferenced_where_its_rows_lie(tmp_path: Path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(300, 200, 3, seed=3))
    cfg = _cfg()
    part = tmp_path / "p1.tif"
    mosaic_raster(src, part, wobbly, cfg, shard=Shard(1, 2), job="j")
    rows = shard_rows(plan_mosaic(300, 200, 64, 16), Shard(1, 2)).rows
    with rasterio.open(src) as s, rasterio.open(part) as p:
        assert p.height == rows[1] - rows[0] and p.width == s.width and p.crs == s.crs
        assert p.transform == s.transform @ rasterio.Affine.translation(0, rows[0])
        assert p.xy(0, 0) == s.xy(rows[0], 0)


@given(st.integers(1, 400), st.sampled_from([(32, 0), (32, 8), (64, 16), (64, 40)]), st.integers(1, 6))
@settings(max_examples=80, deadline=None)
def test_shards_own_every_row_once_and_start_early_enough(height: int, tiling: tuple[int, int], n: int) -> None:
    tile, overlap = tiling
    plan = plan_mosaic(height, 50, tile, overlap)
    try:
        shards = [shard_rows(plan, Shard(i, n)) for i in range(n)]
    except GeopixError as exc:
        assert "at most" in str(exc) and n > 1
        return
    assert shards[0].rows[0] == 0 and shards[-1].rows[1] == height
    for a, b in zip(shards, shards[1:], strict=False):  # pairwise: one fewer
        assert a.rows[1] == b.rows[0] and a.tile_rows[1] == b.tile_rows[0]
    for s in shards:
        assert s.rows[1] > s.rows[0]
        first_frame_row = s.rows[0] + plan.pad_top if s.index else 0
        # no tile row before the first one run reaches the shard's first row (the halo is complete)
        assert all(plan.row_starts[k] + tile <= first_frame_row for k in range(s.first_tile_row))


def test_parse_shard_refuses_what_is_not_i_of_n() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    for bad in ("4/4", "1", "a/b", "-1/3", "0/0"):
        with pytest.raises(GeopixError, match="--shard"):
            parse_shard(bad)


def test_too_many_shards_for_a_small_raster_is_refused(tmp_path: Path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(100, 100, 3))
    with pytest.raises(GeopixError, match="use at most"):
        mosaic_raster(src, tmp_path / "p.tif", wobbly, _cfg(), shard=Shard(0, 8))


def test_merge_refuses_missing_doubled_foreign_and_altered_parts(tmp_path: Path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(300, 200, 3, seed=1))
    cfg = _cfg()
    d = tmp_path / "parts"
    d.mkdir()
    for i in range(3):
        mosaic_raster(src, d / f"p{i}.tif", wobbly, cfg, shard=Shard(i, 3), job="job-a")
    out = tmp_path / "out.tif"
    with pytest.raises(GeopixError, match=r"1 of 3 parts missing: shard\(s\) 1/3"):
        merge_parts(out, [d / "p0.tif", d / "p2.tif"])
    with pytest.raises(GeopixError, match="both shard 0/3"):
        shutil.copy(d / "p0.tif", tmp_path / "copy.tif")
        merge_parts(out, [d, tmp_path / "copy.tif"])
    other = tmp_path / "other.tif"
    mosaic_raster(src, other, wobbly, cfg, shard=Shard(1, 3), job="job-b")  # another model or options
    with pytest.raises(GeopixError, match="other.tif belongs to another translation"):
        merge_parts(out, [d / "p0.tif", other, d / "p2.tif"])
    plain = tmp_path / "plain.tif"
    mosaic_raster(src, plain, wobbly, cfg)
    with pytest.raises(GeopixError, match="plain.tif is not a shard part"):
        merge_parts(out, [plain])
    with rasterio.open(d / "p1.tif", "r+") as p:  # a part whose rows were cut
        tags = p.tags()["GEOPIX_SHARD"]
    short = tmp_path / "short.tif"
    with rasterio.open(d / "p1.tif") as p:
        prof = {**p.profile, "height": p.height - 1}
        data = p.read()[:, :-1]
    with rasterio.open(short, "w", **prof) as q:
        q.write(data)
        q.update_tags(GEOPIX_SHARD=tags)
    with pytest.raises(GeopixError, match="short.tif does not hold the rows of shard 1/3"):
        merge_parts(out, [d / "p0.tif", short, d / "p2.tif"])
    assert not out.exists() and not list(tmp_path.glob(".out.tif*"))  # nothing written, nothing left
    merge_parts(out, [d])
    with pytest.raises(OutputExistsError):
        merge_parts(out, [d])
    merge_parts(out, [d], overwrite=True)
