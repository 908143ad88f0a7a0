"""``geopix translate --shard I/N`` and ``geopix merge``: the merged COG equals one translate's
pixels; parts that do not belong together are refused with the part named; one failed shard is
re-run alone to finish the job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from tests.conftest import smooth_image, write_raster


def _read(path: Path) -> tuple[bytes, list[bytes], dict]:
    with rasterio.open(path) as src:
        levels = [src.read(out_shape=(src.count, src.height // f, src.width // f)).tobytes() for f in src.overviews(1)]
        return src.read().tobytes(), levels, {k: v for k, v in src.tags().items() if k != "GEOPIX_SHARD"}


def test_shards_merged_equal_one_translate(geopix, tiny_model: Path, tmp_path: Path) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(333, 290, 3, seed=4))  # 333: no multiple of the stride
    whole = tmp_path / "whole.tif"
    assert geopix("-q", "translate", region, whole, "--model", tiny_model, "--tile-size", "64").code == 0
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        r = geopix("-q", "translate", region, parts / f"part-{i}.tif", "--model", tiny_model, "--tile-size", "64",
                   "--shard", f"{i}/3")
        assert r.code == 0, r.err
        assert f"shard {i}/3 part" in r.out
    merged = tmp_path / "merged.tif"
    r = geopix("-q", "merge", merged, parts)
    assert r.code == 0, r.err
    assert "merged from 3 parts" in r.out
    assert _read(merged) == _read(whole)
    with rasterio.open(merged) as m, rasterio.open(region) as s:
        assert (m.crs, m.transform, m.shape) == (s.crs, s.transform, s.shape)


def test_a_failed_shard_is_rerun_alone_and_foreign_parts_are_named(geopix, tiny_model: Path, tmp_path: Path) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(260, 200, 3, seed=2))
    parts = tmp_path / "parts"
    parts.mkdir()
    args = ["-q", "translate", region, "--model", tiny_model, "--tile-size", "64"]
    for i in (0, 2):
        assert geopix(*args[:3], parts / f"p{i}.tif", *args[3:], "--shard", f"{i}/3").code == 0
    out = tmp_path / "out.tif"
    r = geopix("merge", out, parts)
    assert r.code == 1 and "1 of 3 parts missing: shard(s) 1/3" in r.err and "Traceback" not in r.err
    assert not out.exists()
    # a part made with other options (another tile size) is foreign to this job
    odd = geopix(*args[:3], tmp_path / "odd.tif", *args[3:4], tiny_model, "--tile-size", "128", "--shard", "1/3")
    assert odd.code == 0
    r = geopix("merge", out, parts / "p0.tif", tmp_path / "odd.tif", parts / "p2.tif")
    assert r.code == 1 and "odd.tif" in r.err
    # re-running the missing shard is enough
    assert geopix(*args[:3], parts / "p1.tif", *args[3:], "--shard", "1/3").code == 0
    assert geopix("-q", "merge", out, parts).code == 0
    whole = tmp_path / "whole.tif"
    assert geopix(*args[:3], whole, *args[3:]).code == 0
    assert _read(out) == _read(whole)


def test_shard_refusals_are_one_line(geopix, tiny_model: Path, tmp_path: Path) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(100, 100, 3, seed=2))
    for bad, says in (("3/3", "counted from 0"), ("x", "expected I/N"), ("0/9", "use at most")):
        r = geopix("translate", region, tmp_path / "p.tif", "--model", tiny_model, "--tile-size", "64",
                   "--shard", bad)
        assert r.code != 0 and says in r.err and "Traceback" not in r.err, r.err
    r = geopix("merge", tmp_path / "m.tif", tmp_path / "nothing-here")
    assert r.code != 0 and "does not exist" in r.err
    r = geopix("merge", tmp_path / "m.tif", region)
    assert r.code != 0 and "is not a shard part" in r.err
    r = geopix("translate", region, tmp_path / "p.tif", "--model", tiny_model, "--shard", "0/2",
               "--probabilities", tmp_path / "prob.tif")
    assert r.code != 0 and "--probabilities" in r.err
    assert not (tmp_path / "p.tif").exists()
    assert np.array_equal(rasterio.open(region).read(), smooth_image(100, 100, 3, seed=2))  # input untouched
