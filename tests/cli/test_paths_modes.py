"""GDAL paths reach GDAL as given; outputs follow the user's umask; outputs are GeoTIFF names."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.conftest import EXAMPLES, smooth_image, write_raster


@pytest.fixture
def zipped(tmp_path: Path) -> Path:
    z = tmp_path / "charlotte.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.write(EXAMPLES / "charlotte_sat.tif", "charlotte_sat.tif")
    return z


def test_vsizip_absolute_and_relative_paths_are_read_as_given(tmp_path, geopix, zipped, monkeypatch) -> None:
    absolute = f"/vsizip/{zipped}/charlotte_sat.tif"  # '/vsizip//tmp/...': the double slash matters
    assert "//" in absolute
    r = geopix("info", absolute)
    assert r.code == 0, r.err
    assert "512 x 512" in r.out
    monkeypatch.chdir(tmp_path)
    r = geopix("info", "/vsizip/charlotte.zip/charlotte_sat.tif")
    assert r.code == 0, r.err


def test_vsizip_region_translates(tmp_path, geopix, zipped, tiny_model) -> None:
    out = tmp_path / "out.tif"
    r = geopix("-q", "translate", f"/vsizip/{zipped}/charlotte_sat.tif", out, "--model", tiny_model)
    assert r.code == 0, r.err
    with rasterio.open(out) as o, rasterio.open(EXAMPLES / "charlotte_sat.tif") as s:
        assert (o.crs, o.transform, o.shape) == (s.crs, s.transform, s.shape)


def test_vsi_errors_carry_gdals_message_and_the_path_unmangled(geopix, zipped) -> None:
    r = geopix("info", f"/vsizip/{zipped}/missing.tif")
    assert r.code == 1 and f"/vsizip/{zipped}/missing.tif" in r.err and len(r.err.strip().splitlines()) == 1
    url = "/vsicurl/http://geopix.invalid/x.tif"  # offline: refused with GDAL's message
    r = geopix("info", url)
    assert r.code == 1 and url in r.err and len(r.err.strip().splitlines()) == 1


def test_written_files_and_folders_follow_the_umask(tmp_path, geopix) -> None:
    old = os.umask(0o022)
    try:
        img = smooth_image(128, 128, 3, seed=2)
        sat = write_raster(tmp_path / "sat.tif", img)
        mp = write_raster(tmp_path / "map.tif", (255 - img).astype(np.uint8))
        run = tmp_path / "run"
        r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--tile-size", "64", "--ngf", "8",
                   "--ndf", "8", "--steps", "1", "--val-fraction", "0", "--device", "cpu")
        assert r.code == 0, r.err
        for name in ("model.safetensors", "checkpoint.pt", "config.json", "metrics.csv"):
            assert stat.S_IMODE((run / name).stat().st_mode) == 0o644, name
        chips = tmp_path / "chips"
        assert geopix("-q", "tile", "--imagery", sat, "--maps", mp, "--out", chips, "--tile-size", "64").code == 0
        assert stat.S_IMODE(chips.stat().st_mode) == 0o755
        out = tmp_path / "out.tif"
        assert geopix("-q", "translate", sat, out, "--model", run).code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_an_output_named_for_another_format_is_refused(tmp_path, geopix, tiny_model) -> None:
    out = tmp_path / "out.jpg"
    r = geopix("translate", EXAMPLES / "charlotte_sat.tif", out, "--model", tiny_model)
    assert r.code == 1 and "out.tif" in r.err and len(r.err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_warnings_get_lines_of_their_own_and_quiet_leaves_only_errors(tmp_path, geopix, tiny_model) -> None:
    from affine import Affine

    coarse = write_raster(tmp_path / "coarse.tif", smooth_image(96, 96, 3, seed=3),
                          transform=Affine(50.0, 0, 500_000.0, 0, -50.0, 4_200_000.0))  # 5x the training pixels
    r = geopix("translate", coarse, tmp_path / "a.tif", "--model", tiny_model)
    assert r.code == 0, r.err
    lines = [seg for ln in r.err.split("\n") for seg in ln.split("\r")]
    warning = [ln for ln in lines if "pixel size" in ln]
    assert warning and all(ln.startswith("geopix: ") for ln in warning), r.err  # not inside the bar's line
    assert any(ln.startswith("model: ") for ln in lines)
    r = geopix("-q", "translate", coarse, tmp_path / "b.tif", "--model", tiny_model)
    assert r.code == 0 and r.err == ""  # -q: errors only (the result line stays on stdout)
    assert "wrote" in r.out


def test_a_vrt_region_translates_onto_its_own_grid(tmp_path, geopix, tiny_model) -> None:
    src = EXAMPLES / "charlotte_sat.tif"
    with rasterio.open(src) as s:
        t, crs = s.transform, s.crs.to_wkt()
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource><SourceFilename relativeToVRT="0">{src}'
        f'</SourceFilename><SourceBand>{b}</SourceBand><SrcRect xOff="100" yOff="50" xSize="300" ySize="200"/>'
        f'<DstRect xOff="0" yOff="0" xSize="300" ySize="200"/></SimpleSource></VRTRasterBand>' for b in (1, 2, 3))
    origin = (t.c + 100 * t.a, t.f + 50 * t.e)
    vrt = tmp_path / "crop.vrt"
    vrt.write_text(f'<VRTDataset rasterXSize="300" rasterYSize="200"><SRS>{crs.replace("<", "&lt;")}</SRS>'
                   f"<GeoTransform>{origin[0]}, {t.a}, 0, {origin[1]}, 0, {t.e}</GeoTransform>{bands}</VRTDataset>")
    out = tmp_path / "out.tif"
    r = geopix("-q", "translate", vrt, out, "--model", tiny_model)
    assert r.code == 0, r.err
    with rasterio.open(out) as o, rasterio.open(vrt) as v:
        assert (o.crs, o.transform, o.shape) == (v.crs, v.transform, (200, 300))


def test_an_in_memory_vsimem_region_translates_through_the_api(tmp_path, tiny_model) -> None:
    from rasterio.io import MemoryFile

    import geo_pix2pix as geopix

    model = geopix.load_model(tiny_model, device="cpu")
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=90, height=70, count=3, dtype="uint8", crs="EPSG:32618",
                      transform=rasterio.transform.from_origin(500_000, 4_200_000, 10, 10)) as dst:
            dst.write(smooth_image(70, 90, 3, seed=6))
        assert mem.name.startswith("/vsimem/")
        result = model.translate(mem.name, tmp_path / "out.tif")
    with rasterio.open(result.path) as o:
        assert o.shape == (70, 90) and o.transform.c == 500_000


def test_a_gdal_virtual_output_path_is_refused_clearly(tmp_path, geopix, tiny_model) -> None:
    r = geopix("translate", EXAMPLES / "charlotte_sat.tif", "/vsimem/out.tif", "--model", tiny_model)
    assert r.code == 1 and "output /vsimem/out.tif: geopix writes outputs to a local file system" in r.err
