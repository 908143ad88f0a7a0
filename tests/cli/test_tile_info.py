"""`geopix tile` and `geopix info` through the real entry point."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from tests.conftest import real, sha256, smooth_image, write_raster


def test_tile_writes_georeferenced_chips_and_index(tmp_path, geopix) -> None:
    sat = real("google_sat2maps/000002_Houston_sat.tif")
    mp = real("google_sat2maps/000002_Houston_map.tif")
    before = sha256(sat), sha256(mp)
    out = tmp_path / "chips"
    r = geopix("tile", "--imagery", sat, "--maps", mp, "--out", out, "--tile-size", "128")
    assert r.code == 0, r.err
    assert "8 training and 4 validation" in r.out
    idx = gpd.read_file(out / "index.gpkg")
    assert idx.crs.to_epsg() == 3857
    assert set(idx["split"]) == {"train", "val"}
    train, val = idx[idx.split == "train"], idx[idx.split == "val"]
    # No validation chip overlaps (or touches) a training chip.
    assert not train.geometry.union_all().buffer(-1e-6).intersects(val.geometry.union_all())
    with rasterio.open(sat) as src:
        full = src.read()
        for _, row in idx.iterrows():
            with rasterio.open(out / row["imagery"]) as chip, rasterio.open(out / row["map"]) as mchip:
                assert chip.crs == src.crs and chip.transform == mchip.transform
                # The chip's transform puts it exactly where its pixels came from.
                c, r_ = ~src.transform @ (chip.transform.c, chip.transform.f)
                c, r_ = int(round(c)), int(round(r_))
                np.testing.assert_array_equal(chip.read(), full[:, r_:r_ + 128, c:c + 128])
                assert (c, r_) == (row["col"], row["row"])
    assert (sha256(sat), sha256(mp)) == before  # inputs untouched


def test_tile_refuses_existing_output_and_replaces_with_overwrite(tmp_path, geopix, pair_paths) -> None:
    sat, mp = pair_paths
    out = tmp_path / "chips"
    assert geopix("tile", "--imagery", sat, "--maps", mp, "--out", out, "--tile-size", "64").code == 0
    r = geopix("tile", "--imagery", sat, "--maps", mp, "--out", out, "--tile-size", "64")
    assert r.code == 1 and "--overwrite" in r.err
    r = geopix("tile", "--imagery", sat, "--maps", mp, "--out", out, "--tile-size", "64", "--overwrite")
    assert r.code == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".chips")]  # no temp dir left


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--imagery", "{tmp}/missing.tif", "--maps", "{map}"], 1, "imagery not found"),
        (["--imagery", "{txt}", "--maps", "{map}"], 1, "is not a raster GDAL can read"),
        (["--imagery", "{nocrs}", "--maps", "{map}"], 1, "has no CRS"),
        (["--imagery", "{sat}", "--maps", "{far}"], 1, "do not overlap"),
        (["--imagery", "{sat}", "--maps", "{map}", "--imagery-bands", "1,4"], 1, "band 4 is out of range"),
        (["--imagery", "{sat}", "--maps", "{map}", "--overlap", "64"], 1, "overlap (64) must be smaller"),
        (["--imagery", "{sat}", "--maps", "{map}", "--tile-size", "512"], 1, "smaller than one 512-pixel tile"),
        (["--imagery", "{sat}", "--maps", "{map}", "--imagery-bands", "x"], 2, "not a comma-separated"),
    ],
)
def test_tile_bad_input_gives_one_line_errors(tmp_path, geopix, pair_paths, args, code, message) -> None:
    from affine import Affine

    sat, mp = pair_paths
    txt = tmp_path / "notes.tif"
    txt.write_text("hello")
    nocrs = write_raster(tmp_path / "nocrs.tif", smooth_image(64, 64), crs=None)
    far = write_raster(tmp_path / "far.tif", smooth_image(64, 64),
                       transform=Affine(10.0, 0, 0.0, 0, -10.0, 0.0))
    subst = {"tmp": tmp_path, "map": mp, "sat": sat, "txt": txt, "nocrs": nocrs, "far": far}
    argv = [a.format(**subst) for a in args]
    r = geopix("tile", *argv, "--out", tmp_path / "out", "--tile-size", "64") if "--tile-size" not in args \
        else geopix("tile", *argv, "--out", tmp_path / "out")
    assert r.code == code
    assert message in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) <= 3
    assert not (tmp_path / "out").exists()


def test_info_describes_a_raster(geopix) -> None:
    r = geopix("info", real("geotiff/rasterio/RGB.byte.tif"))
    assert r.code == 0
    assert "EPSG:32618" in r.out and "791 x 718" in r.out and "nodata:      0.0" in r.out
    r = geopix("info", "--json", real("geotiff/solaris/sample_geotiff.tif"))
    assert '"uint16"' in r.out


def test_help_is_fast_and_imports_no_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; from geo_pix2pix.cli.main import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules and 'rasterio' not in sys.modules, 'heavy import'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "translate" in out.stdout or "tile" in out.stdout
