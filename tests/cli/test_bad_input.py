"""Bad input never loses data: one-line error, right exit code, inputs untouched, nothing stray.

Each case runs one ``geopix`` command through its real entry point in a directory of inputs,
then checks the exit code and message, that every file present before is byte-for-byte the same,
and that no file or directory was added.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from affine import Affine

from tests.conftest import smooth_image, snapshot, write_raster

T = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--steps", "1", "--workers", "0", "--device", "cpu",
     "--val-fraction", "0"]


@pytest.fixture
def inputs(tmp_path: Path, tiny_model: Path) -> Path:
    """A folder of good and bad inputs; the outputs of the cases go to ``tmp_path/'out'``."""
    d = tmp_path / "in"
    d.mkdir()
    img = smooth_image(128, 128, 3, seed=1)
    write_raster(d / "sat.tif", img)
    write_raster(d / "map.tif", (255 - img).astype(np.uint8))
    write_raster(d / "sat1.tif", img[:1])
    write_raster(d / "nocrs.tif", img, crs=None)
    write_raster(d / "far.tif", img, transform=Affine(10.0, 0, 900_000.0, 0, -10.0, 100_000.0))
    write_raster(d / "corner.tif", img, transform=Affine(10.0, 0, 500_000.0 + 1000, 0, -10.0, 4_200_000.0 - 1000))
    write_raster(d / "allnodata.tif", np.zeros((3, 128, 128), np.uint8), nodata=0)
    write_raster(d / "nan.tif", np.full((3, 128, 128), np.nan, np.float32))
    write_raster(d / "u16.tif", smooth_image(128, 128, 3, dtype="uint16"))
    write_raster(d / "white.tif", np.full((3, 128, 128), 250, np.uint8))  # nothing like the training imagery
    (d / "notes.tif").write_text("this is text, not a raster\n")
    (d / "folder.tif").mkdir()
    data = (Path(__file__).parents[2] / "examples" / "data" / "charlotte_sat.tif").read_bytes()
    (d / "truncated.tif").write_bytes(data[: len(data) // 3])
    cog = (Path(__file__).parents[3] / "shared" / "data" / "geotiff" / "rasterio" / "cogeo.tif").read_bytes()
    (d / "truncated_cog.tif").write_bytes(cog[: len(cog) * 2 // 3])  # header intact, pixels cut
    shutil.copytree(tiny_model, d / "model")
    mdata = (tiny_model / "model.safetensors").read_bytes()
    (d / "cut.safetensors").write_bytes(mdata[: len(mdata) // 2])
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(3)}, str(d / "other.safetensors"))
    (d / "existing.tif").write_bytes(b"an earlier result the user wants to keep")
    (tmp_path / "out").mkdir()
    return d


# (id, args with {in} and {out} placeholders, exit code, message substring)
CASES = [
    ("missing file", ["translate", "{in}/nope.tif", "{out}/o.tif", "--model", "{in}/model"], 1, "region not found"),
    ("missing imagery", ["train", "--imagery", "{in}/nope.tif", "--maps", "{in}/map.tif", "--out", "{out}/run", *T],
     1, "imagery not found"),
    ("directory for a file", ["translate", "{in}/folder.tif", "{out}/o.tif", "--model", "{in}/model"], 1,
     "is a directory"),
    ("text file", ["info", "{in}/notes.tif"], 1, "is not a raster GDAL can read"),
    ("text file as map", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/notes.tif", "--out", "{out}/chips"],
     1, "map {in}/notes.tif is not a raster GDAL can read"),
    ("truncated GeoTIFF", ["translate", "{in}/truncated.tif", "{out}/o.tif", "--model", "{in}/model"], 1,
     "truncated or corrupt"),
    ("truncated COG mid-translate", ["translate", "{in}/truncated_cog.tif", "{out}/o.tif", "--model", "{in}/model"],
     1, "cannot read region"),
    ("truncated COG in training", ["train", "--imagery", "{in}/truncated_cog.tif", "--maps",
                                   "{in}/truncated_cog.tif", "--out", "{out}/run", *T], 1, "truncated or corrupt"),
    ("no georeferencing", ["train", "--imagery", "{in}/nocrs.tif", "--maps", "{in}/map.tif", "--out", "{out}/run", *T],
     1, "has no CRS"),
    ("no common footprint", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/far.tif", "--out", "{out}/run",
                             *T], 1, "do not overlap"),
    ("footprint smaller than a tile", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/corner.tif", "--out",
                                       "{out}/run", *T], 1, "smaller than one 64-pixel tile"),
    ("map all nodata", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/allnodata.tif", "--out", "{out}/run",
                        *T], 1, "no valid pixels"),
    ("band out of range", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--map-bands", "2,5",
                           "--out", "{out}/run", *T], 1, "map band 5 is out of range"),
    ("float raster of NaN", ["train", "--imagery", "{in}/nan.tif", "--maps", "{in}/map.tif", "--out", "{out}/run",
                             *T], 1, "no valid pixels"),
    ("tile the generator cannot take", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out",
                                        "{out}/run", *T, "--tile-size", "80"], 1, "multiple of 32"),
    ("truncated model file", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/cut.safetensors"], 1,
     "cut.safetensors"),
    ("safetensors not geopix", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/other.safetensors"], 1,
     "not a geopix model"),
    ("raster given as the model", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/map.tif"], 1,
     "{in}/map.tif is a raster (TIFF), not a geopix model"),
    ("band count differs from the model", ["translate", "{in}/sat1.tif", "{out}/o.tif", "--model", "{in}/model"], 1,
     "has 1 band(s) but the model reads bands 1,2,3"),
    ("dtype differs from the model", ["translate", "{in}/u16.tif", "{out}/o.tif", "--model", "{in}/model"], 1,
     "is uint16 but the model was trained on uint8"),
    ("content of the other side of the pair", ["translate", "{in}/white.tif", "{out}/o.tif", "--model",
                                               "{in}/model"], 1, "looks like a map, not imagery"),
    ("output directory missing", ["translate", "{in}/sat.tif", "{out}/no/such/dir/o.tif", "--model", "{in}/model"],
     1, "output directory does not exist"),
    ("existing output", ["translate", "{in}/sat.tif", "{in}/existing.tif", "--model", "{in}/model"], 1,
     "exists; pass --overwrite"),
    ("output equals input", ["translate", "{in}/sat.tif", "{in}/sat.tif", "--model", "{in}/model", "--overwrite"],
     1, "same file as input"),
    ("existing chip directory", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{in}"],
     1, "not empty; pass --overwrite"),
    ("bad band list", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{out}/c",
                       "--imagery-bands", "one"], 2, "not a comma-separated list"),
    ("unknown option", ["translate", "{in}/sat.tif", "{out}/o.tif", "--colour", "red"], 2, "No such option"),
]


@pytest.mark.parametrize(("args", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_cleanly(tmp_path, inputs, geopix, args, code, message) -> None:
    before = snapshot(tmp_path)
    sub = {"in": str(inputs), "out": str(tmp_path / "out")}
    r = geopix(*[a.format(**sub) for a in args])
    assert r.code == code, r.err
    assert message.format(**sub) in r.err
    lines = [ln for ln in r.err.splitlines() if ln.startswith("geopix: error:")]
    assert len(lines) == 1 and "Traceback" not in r.err
    assert snapshot(tmp_path) == before  # inputs byte-for-byte untouched, and nothing added
    assert not any((tmp_path / "out").iterdir())


def test_output_directory_not_writable(tmp_path, inputs, geopix, small_disk) -> None:
    if os.geteuid() == 0:
        ro = small_disk("1m", readonly=True)  # root may write anywhere but on a read-only mount
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
    r = geopix("translate", inputs / "sat.tif", ro / "o.tif", "--model", inputs / "model")
    assert r.code == 1 and "not writable" in r.err and "Traceback" not in r.err
