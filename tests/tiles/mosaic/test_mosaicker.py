"""The mosaicker: identity reproduces the input, georeferencing and masks carried over, COG."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rio_cogeo.cogeo import cog_validate

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import OutputExistsError
from geo_pix2pix.tiles.mosaic.blend import RowBlender, blend_window, plan_mosaic
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, mosaic_raster
from tests.conftest import real, sha256, smooth_image, write_raster


def _u8(bands: int) -> BandStats:
    return BandStats("uint8", (0.0,) * bands, (255.0,) * bands)


def identity(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    return x.copy()


def test_raised_cosine_neighbours_sum_to_one() -> None:
    w = blend_window(64, 16)
    assert w.min() > 0  # never zero: every covered pixel keeps a weight
    np.testing.assert_allclose(w[-16:] + w[:16], 1.0, atol=1e-6)  # overlap of two neighbours
    assert (w[16:48] == 1).all()


@given(st.integers(1, 300), st.integers(1, 300), st.sampled_from([(32, 0), (32, 8), (64, 16), (64, 63)]),
       st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_blender_weights_normalise_to_one_everywhere(h: int, w: int, tiling: tuple[int, int], batch: int) -> None:
    tile, overlap = tiling
    plan = plan_mosaic(h, w, tile, overlap)
    img = np.random.default_rng(0).random((1, h, w)).astype(np.float32)
    cols = plan.source_cols()
    b = RowBlender(plan, 1)
    out = np.full((1, h, w), np.nan, np.float32)
    for r0 in plan.row_starts:
        strip = img[:, plan.source_rows(r0)][:, :, cols]
        tiles = np.stack([strip[:, :, c:c + tile] for c in plan.col_starts])
        for i in range(0, len(tiles), batch):  # tiles arrive in batches, as from the model
            b.add_tiles(tiles[i:i + batch])
            _take(b, out)  # the columns final so far
        b.end_row()
        _take(b, out)
    np.testing.assert_allclose(out, img, atol=1e-5)


def _take(blender: RowBlender, out: np.ndarray) -> None:
    for row, col, vals in blender.finished():
        block = out[:, row:row + vals.shape[1], col:col + vals.shape[2]]
        assert block.shape == vals.shape and np.isnan(block).all()  # each pixel emitted once
        block[...] = vals


def test_blender_refuses_a_row_with_too_many_or_too_few_tiles() -> None:
    plan = plan_mosaic(100, 100, 32, 8)
    n = len(plan.col_starts)
    b = RowBlender(plan, 1)
    b.add_tiles(np.zeros((n - 1, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="ended after"):
        b.end_row()
    with pytest.raises(ValueError, match="got more"):
        b.add_tiles(np.zeros((2, 1, 32, 32), np.float32))


@pytest.mark.parametrize(("h", "w", "bands", "tile", "overlap"),
                         [(300, 517, 3, 64, 16), (40, 30, 1, 64, 16), (128, 128, 4, 64, 0), (257, 129, 3, 32, 31)])
def test_identity_reproduces_the_input_exactly(tmp_path, h, w, bands, tile, overlap) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(h, w, bands, seed=h))
    cfg = MosaicConfig(bands=tuple(range(1, bands + 1)), in_stats=_u8(bands), out_stats=_u8(bands),
                       tile=tile, overlap=overlap, batch_size=3, tags={"GEOPIX_STEP": "1"})
    res = mosaic_raster(src, tmp_path / "out.tif", identity, cfg)
    with rasterio.open(src) as a, rasterio.open(res.path) as b:
        assert (b.crs, b.transform, b.width, b.height, b.count) == (a.crs, a.transform, a.width, a.height, bands)
        np.testing.assert_array_equal(b.read(), a.read())
        assert b.tags()["GEOPIX_STEP"] == "1"
    assert cog_validate(str(res.path))[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif", "out.tif"]  # no temporary files left


def test_nodata_footprint_of_rgb_byte_is_preserved(tmp_path) -> None:
    src = real("geotiff/rasterio/RGB.byte.tif")
    before = sha256(src)
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=128, overlap=32)
    res = mosaic_raster(src, tmp_path / "out.tif", identity, cfg)
    with rasterio.open(src) as a, rasterio.open(res.path) as b:
        assert res.masked
        np.testing.assert_array_equal(b.dataset_mask(), a.dataset_mask())
        valid = a.dataset_mask() > 0
        np.testing.assert_array_equal(b.read()[:, valid], a.read()[:, valid])
        assert b.overviews(1)  # large enough for an internal overview
    assert cog_validate(str(res.path))[0]
    assert sha256(src) == before


def test_existing_output_and_output_equal_to_input_are_refused(tmp_path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(64, 64, 3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=32, overlap=8)
    out = tmp_path / "out.tif"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        mosaic_raster(src, out, identity, cfg)
    assert out.read_bytes() == b"precious"
    with pytest.raises(OutputExistsError, match="same file as input"):
        mosaic_raster(src, src, identity, cfg, overwrite=True)
    mosaic_raster(src, out, identity, cfg, overwrite=True)
    with rasterio.open(out) as b:
        assert b.count == 3


def test_output_does_not_depend_on_how_long_predict_takes(tmp_path) -> None:
    """The reader and writer threads run around the model: slow and fast batches in any mix
    must still be blended in order, every tile once."""
    import time

    src = write_raster(tmp_path / "in.tif", smooth_image(150, 170, 3, seed=3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=32, overlap=8, batch_size=2)
    delays = iter(np.random.default_rng(0).choice([0.0, 0.0, 0.004], 1000))

    def jittery(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        time.sleep(next(delays))
        return x.copy()

    seen: list[int] = []
    res = mosaic_raster(src, tmp_path / "out.tif", jittery, cfg, progress=seen.append)
    with rasterio.open(src) as a, rasterio.open(res.path) as b:
        np.testing.assert_array_equal(b.read(), a.read())
    assert sum(seen) == res.tiles


def test_failure_mid_way_leaves_no_partial_output(tmp_path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(200, 200, 3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=32, overlap=8)
    calls = {"n": 0}

    def failing(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("boom")
        return x

    out = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="boom"):
        mosaic_raster(src, out, failing, cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]  # no OUT, no temporary files


def _pixels(path) -> list[np.ndarray]:  # noqa: ANN001
    """Full resolution, mask and every overview level as stored."""
    with rasterio.open(path) as ds:
        out, n = [ds.read(), ds.dataset_mask()], len(ds.overviews(1))
    for k in range(n):
        with rasterio.open(path, overview_level=k) as level:
            out.append(level.read())
    return out


@pytest.mark.parametrize(("h", "w", "chunk", "spill"), [(300, 1000, 100, True), (130, 517, 64, False),
                                                     (256, 1030, 300, True), (70, 2050, 4096, True)])
def test_pixels_do_not_depend_on_how_the_width_is_cut(tmp_path, monkeypatch, h, w, chunk, spill) -> None:
    """Chunks of columns (widths that are no multiple of them, nor of the tile stride or the COG
    block) and a carry kept in memory or written to a file give the pixels of the in-memory mosaic,
    and the same file contents as one chunk per tile row."""
    from geo_pix2pix.tiles.mosaic import blend, pipeline
    from geo_pix2pix.tiles.mosaic.arrays import mosaic_array
    from tests.tiles.mosaic.test_shard import wobbly

    data = smooth_image(h, w, 3, seed=w)
    src = write_raster(tmp_path / "in.tif", data)
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=64, overlap=20, batch_size=3,
                       creation_options={"BLOCKSIZE": "128"})
    whole = _pixels(mosaic_raster(src, tmp_path / "whole.tif", wobbly, cfg).path)
    monkeypatch.setattr(pipeline, "CHUNK_COLUMNS", chunk)
    monkeypatch.setattr(blend, "CARRY_IN_MEMORY", 0 if spill else 1 << 40)
    cut = _pixels(mosaic_raster(src, tmp_path / "cut.tif", wobbly, cfg).path)
    assert len(cut) == len(whole) > 2
    for a, b in zip(cut, whole, strict=True):
        assert a.tobytes() == b.tobytes()
    assert cut[0].tobytes() == mosaic_array(data, wobbly, _u8(3), _u8(3), 64, 20, 3).data.tobytes()


def test_memory_does_not_follow_the_width(tmp_path, monkeypatch) -> None:
    """16 times the columns cost the rows of one tile row's band in output values, not tile rows
    of float32 (before issue 29 a tile row of tiles, two of blended float32 rows and the blender's
    buffers: about 15 KB per column at tile 256). The blender's carry is held to 1 MB here (its
    cap, CARRY_IN_MEMORY, is 32 MB: the rest goes to a file)."""
    import tracemalloc

    from geo_pix2pix.tiles.mosaic import blend

    monkeypatch.setattr(blend, "CARRY_IN_MEMORY", 1 << 20)

    def peak(width: int) -> int:
        src = write_raster(tmp_path / f"in{width}.tif", np.zeros((3, 300, width), np.uint8))
        cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=64, overlap=16, batch_size=8)
        tracemalloc.start()
        try:
            mosaic_raster(src, tmp_path / f"out{width}.tif", identity, cfg)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    from geo_pix2pix.tiles.mosaic.pipeline import CHUNK_COLUMNS, MAX_PENDING_WRITES

    narrow, wide = peak(2048), peak(32768)
    per_column = (wide - narrow) / (32768 - 2048)
    # the last band (56 rows) below up to 63 left over, their copy, half a level-0 strip: (119 + 63 + 32) x 3
    # bytes; plus the blocks handed to the I/O thread and not yet written, which depend on the threads'
    # timing: the wide raster may hold up to MAX_PENDING_WRITES + 2 of them (float32, a tile's rows, a
    # chunk wide) where the narrow one holds one chunk's. Their worst case is a constant, not per column.
    in_flight = (MAX_PENDING_WRITES + 2) * 3 * 64 * CHUNK_COLUMNS * 4
    assert per_column < 700 + in_flight / (32768 - 2048), f"{per_column:.0f} bytes per column"


@pytest.mark.parametrize("fail", [False, True])
def test_no_thread_outlives_a_translation(tmp_path, fail) -> None:
    """The pipeline's I/O thread is joined before mosaic_raster returns or raises: nothing of it
    runs on at interpreter exit (a native thread still running then aborts the process)."""
    import threading

    src = write_raster(tmp_path / "in.tif", smooth_image(200, 300, 3, seed=4))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=64, overlap=16, batch_size=2)
    calls = {"n": 0}

    def predict(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        calls["n"] += 1
        if fail and calls["n"] == 5:
            raise RuntimeError("boom")
        return x.copy()

    before = set(threading.enumerate())
    if fail:
        with pytest.raises(RuntimeError, match="boom"):
            mosaic_raster(src, tmp_path / "out.tif", predict, cfg)
    else:
        mosaic_raster(src, tmp_path / "out.tif", predict, cfg)
    assert set(threading.enumerate()) == before
    assert calls["n"] >= 5
