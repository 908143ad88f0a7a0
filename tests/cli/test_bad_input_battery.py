"""Every command, fed bad input, refuses in one line and writes nothing (issue 29, section 3).

Each command (info, tile, train, evaluate, translate, merge, inpaint, export) gets the same kinds of bad
input wherever it reads them: a missing, empty, truncated or wrong-kind file (text named .tif, a
PNG with no georeferencing, a raster given as a model, a cut model file, a folder), imagery and a
map (or holes) that do not overlap, a model of the other kind, and option values out of range.
Whatever the input, the answer is a refusal a user can act on: exit code 1 (refused) or 2
(usage); under ``-q`` (no notices, no progress bars) exactly one line on stderr,
``geopix: error: ...``, naming what is wrong; never "internal error" nor a traceback. And nothing
is written: the output folder stays empty (no result, no temp file beside it), and every input is
byte for byte as it was.

``tests/cli/test_bad_input.py`` checks the exact wording of the common cases; this battery checks
that the rule holds across every command and input.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from affine import Affine
from PIL import Image

from tests.conftest import EXAMPLES, smooth_image, snapshot, write_raster

TINY = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--steps", "1", "--workers", "0", "--device", "cpu",
        "--val-fraction", "0"]
MODEL = ["--device", "cpu", "--tile-size", "64"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """One folder of good and bad inputs, shared by every case (each checks it is left untouched)."""
    from safetensors.torch import save_file

    from geo_pix2pix.cli.main import main

    d = tmp_path_factory.mktemp("battery") / "in"
    d.mkdir()
    img = smooth_image(128, 128, 3, seed=5)
    write_raster(d / "sat.tif", img)
    write_raster(d / "map.tif", (255 - img).astype(np.uint8))
    write_raster(d / "far.tif", img, transform=Affine(10.0, 0, 900_000.0, 0, -10.0, 100_000.0))
    _sparse(d / "huge.tif", 100_000)  # no pixel written: a few MB on disk
    Image.fromarray(np.transpose(img, (1, 2, 0))).save(d / "plain.png")  # a picture, no georeferencing
    (d / "notes.tif").write_text("this is text, not a raster\n")
    (d / "notes.json").write_text("this is text, not JSON\n")
    (d / "empty.tif").write_bytes(b"")
    data = (EXAMPLES / "charlotte_sat.tif").read_bytes()
    (d / "truncated.tif").write_bytes(data[: len(data) // 3])
    (d / "folder.tif").mkdir()
    (d / "emptydir").mkdir()
    (d / "parts").mkdir()
    shutil.copytree(tiny_model, d / "model")
    weights = (tiny_model / "model.safetensors").read_bytes()
    (d / "cut.safetensors").write_bytes(weights[: len(weights) // 2])
    (d / "empty.safetensors").write_bytes(b"")
    (d / "old.onnx").write_bytes(b"an earlier export\n")
    shutil.copy(d / "sat.tif", d / "raster.safetensors")
    save_file({"weight": torch.zeros(3)}, str(d / "other.safetensors"))
    (d / "pairs.csv").write_text("imagery,map\nnope.tif,map.tif\n")
    try:
        main(["-q", "train", "--task", "inpaint", "--imagery", str(d / "sat.tif"), "--out", str(d / "inpaint"),
              *TINY, "--no-amp"])
        for i in range(2):
            main(["-q", "translate", str(d / "sat.tif"), str(d / "parts" / f"part{i}.tif"), "--model",
                  str(d / "model"), *MODEL, "--shard", f"{i}/2"])
    except SystemExit as exc:
        assert not exc.code
    return d


def _sparse(path: Path, side: int) -> None:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=3, dtype="uint8", crs="EPSG:32616",
                       transform=Affine(1.0, 0, 500_000.0, 0, -1.0, 4_200_000.0), tiled=True, compress="deflate",
                       sparse_ok=True):
        pass


# (id, command line with {in} and {out} placeholders, what the one-line message must name)
CASES = [
    # info
    ("info missing", ["info", "{in}/nope.tif"], "nope.tif"),
    ("info empty file", ["info", "{in}/empty.tif"], "empty.tif"),
    ("info truncated", ["info", "{in}/truncated.tif"], "truncated.tif"),
    ("info text as tif", ["info", "{in}/notes.tif"], "notes.tif"),
    ("info cut model", ["info", "{in}/cut.safetensors"], "cut.safetensors"),
    ("info empty model", ["info", "{in}/empty.safetensors"], "empty.safetensors"),
    ("info raster named as model", ["info", "{in}/raster.safetensors"], "raster.safetensors"),
    ("info folder", ["info", "{in}/emptydir"], "emptydir"),
    # tile
    ("tile missing imagery", ["tile", "--imagery", "{in}/nope.tif", "--maps", "{in}/map.tif", "--out", "{out}/c"],
     "nope.tif"),
    ("tile empty map", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/empty.tif", "--out", "{out}/c"],
     "empty.tif"),
    ("tile truncated imagery", ["tile", "--imagery", "{in}/truncated.tif", "--maps", "{in}/map.tif", "--out",
                                "{out}/c"], "truncated.tif"),
    ("tile text as map", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/notes.tif", "--out", "{out}/c"],
     "notes.tif"),
    ("tile png without georeferencing", ["tile", "--imagery", "{in}/plain.png", "--maps", "{in}/map.tif", "--out",
                                         "{out}/c"], "plain.png"),
    ("tile no overlap", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/far.tif", "--out", "{out}/c"],
     "overlap"),
    ("tile val-aoi text", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{out}/c",
                           "--tile-size", "64", "--val-aoi", "{in}/notes.json"], "notes.json"),
    ("tile zero tile size", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{out}/c",
                             "--tile-size", "0"], "--tile-size"),
    ("tile band zero", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{out}/c",
                        "--imagery-bands", "0"], "band"),
    ("tile min-valid above one", ["tile", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{out}/c",
                                  "--min-valid", "2"], "--min-valid"),
    # train
    ("train missing map", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/nope.tif", "--out", "{out}/r", *TINY],
     "nope.tif"),
    ("train empty imagery", ["train", "--imagery", "{in}/empty.tif", "--maps", "{in}/map.tif", "--out", "{out}/r",
                             *TINY], "empty.tif"),
    ("train truncated map", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/truncated.tif", "--out", "{out}/r",
                             *TINY], "truncated.tif"),
    ("train png without georeferencing", ["train", "--imagery", "{in}/plain.png", "--maps", "{in}/map.tif", "--out",
                                          "{out}/r", *TINY], "plain.png"),
    ("train text as imagery", ["train", "--imagery", "{in}/notes.tif", "--maps", "{in}/map.tif", "--out", "{out}/r",
                               *TINY], "notes.tif"),
    ("train no overlap", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/far.tif", "--out", "{out}/r", *TINY],
     "overlap"),
    ("train pairs csv naming a missing file", ["train", "--pairs", "{in}/pairs.csv", "--out", "{out}/r", *TINY],
     "nope.tif"),
    ("train pairs csv that is not csv", ["train", "--pairs", "{in}/truncated.tif", "--out", "{out}/r", *TINY],
     "truncated.tif"),
    ("train aligned dir without images", ["train", "--aligned-dir", "{in}/emptydir", "--out", "{out}/r", *TINY],
     "emptydir"),
    ("train resume from a folder that is no run", ["train", "--resume", "{in}/emptydir", "--steps", "2"], "emptydir"),
    ("train palette that is not json", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out",
                                        "{out}/r", *TINY, "--balance-palette", "{in}/notes.json"], "notes.json"),
    ("train vgg weights that are text", ["train", "--family", "pix2pixhd", "--imagery", "{in}/sat.tif", "--maps",
                                         "{in}/map.tif", "--out", "{out}/r", *TINY, "--vgg-weights",
                                         "{in}/notes.json"], "notes.json"),
    ("train encoder weights that are a raster", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif",
                                                 "--out", "{out}/r", *TINY, "--generator", "smp:resnet18",
                                                 "--encoder-weights", "{in}/raster.safetensors"],
     "raster.safetensors"),
    ("train layout that is text", ["train", "--family", "spade", "--direction", "map2sat", "--imagery", "{in}/sat.tif",
                                   "--layout", "{in}/notes.json", "--out", "{out}/r", *TINY], "notes.json"),
    ("train zero steps", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{out}/r", *TINY,
                          "--steps", "0"], "--steps"),
    ("train negative learning rate", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out",
                                      "{out}/r", *TINY, "--lr", "-1"], "--lr"),
    ("train time budget that is no duration", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif",
                                               "--out", "{out}/r", *TINY[:-6], "--time-budget", "soon"], "soon"),
    ("train unknown generator", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif", "--out", "{out}/r",
                                 *TINY, "--generator", "no-such-net"], "no-such-net"),
    ("train unet depth the tile cannot take", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif",
                                               "--out", "{out}/r", *TINY, "--unet-depth", "7"], "multiple of 128"),
    ("train unet depth for an smp generator", ["train", "--imagery", "{in}/sat.tif", "--maps", "{in}/map.tif",
                                               "--out", "{out}/r", *TINY, "--unet-depth", "5", "--generator",
                                               "smp:resnet18"], "--unet-depth"),
    ("train resize upsampling for an smp generator", ["train", "--imagery", "{in}/sat.tif", "--maps",
                                                      "{in}/map.tif", "--out", "{out}/r", *TINY, "--upsample",
                                                      "resize", "--generator", "smp:resnet18"], "--upsample"),
    ("train unet depth for pix2pixhd", ["train", "--family", "pix2pixhd", "--imagery", "{in}/sat.tif", "--maps",
                                       "{in}/map.tif", "--out", "{out}/r", *TINY, "--unet-depth", "5"],
     "--unet-depth"),
    # evaluate
    ("evaluate missing model", ["evaluate", "--model", "{in}/nope", "--imagery", "{in}/sat.tif", "--maps",
                                "{in}/map.tif", "--device", "cpu"], "nope"),
    ("evaluate raster as model", ["evaluate", "--model", "{in}/raster.safetensors", "--imagery", "{in}/sat.tif",
                                  "--maps", "{in}/map.tif", "--device", "cpu"], "raster.safetensors"),
    ("evaluate cut model", ["evaluate", "--model", "{in}/cut.safetensors", "--imagery", "{in}/sat.tif", "--maps",
                            "{in}/map.tif", "--device", "cpu"], "cut.safetensors"),
    ("evaluate no overlap", ["evaluate", "--model", "{in}/model", "--imagery", "{in}/sat.tif", "--maps",
                             "{in}/far.tif", "--device", "cpu"], "overlap"),
    ("evaluate truncated imagery", ["evaluate", "--model", "{in}/model", "--imagery", "{in}/truncated.tif", "--maps",
                                    "{in}/map.tif", "--device", "cpu"], "truncated.tif"),
    ("evaluate png without georeferencing", ["evaluate", "--model", "{in}/model", "--imagery", "{in}/plain.png",
                                             "--maps", "{in}/map.tif", "--device", "cpu"], "plain.png"),
    ("evaluate palette that is not json", ["evaluate", "--model", "{in}/model", "--imagery", "{in}/sat.tif", "--maps",
                                           "{in}/map.tif", "--device", "cpu", "--palette", "{in}/notes.json"],
     "notes.json"),
    ("evaluate bad hole sizes", ["evaluate", "--model", "{in}/inpaint", "--imagery", "{in}/sat.tif", "--device",
                                 "cpu", "--hole-sizes", "big"], "big"),
    ("evaluate unknown device", ["evaluate", "--model", "{in}/model", "--imagery", "{in}/sat.tif", "--maps",
                                 "{in}/map.tif", "--device", "tpu"], "tpu"),
    # translate
    ("translate missing region", ["translate", "{in}/nope.tif", "{out}/o.tif", "--model", "{in}/model", *MODEL],
     "nope.tif"),
    ("translate empty region", ["translate", "{in}/empty.tif", "{out}/o.tif", "--model", "{in}/model", *MODEL],
     "empty.tif"),
    ("translate text as region", ["translate", "{in}/notes.tif", "{out}/o.tif", "--model", "{in}/model", *MODEL],
     "notes.tif"),
    ("translate raster as model", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/raster.safetensors",
                                   *MODEL], "raster.safetensors"),
    ("translate empty model", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/empty.safetensors",
                               *MODEL], "empty.safetensors"),
    ("translate cut model", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/cut.safetensors", *MODEL],
     "cut.safetensors"),
    ("translate folder with no model", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/emptydir",
                                        *MODEL], "emptydir"),
    ("translate with an inpainting model", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/inpaint",
                                            *MODEL], "inpaint"),
    ("translate palette that is not json", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/model",
                                            *MODEL, "--palette", "{in}/notes.json"], "notes.json"),
    ("translate style of a model without styles", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model",
                                                   "{in}/model", *MODEL, "--style", "{in}/sat.tif"], "--style"),
    ("translate bad creation option", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/model", *MODEL,
                                       "--co", "BLOCKSIZE"], "BLOCKSIZE"),
    ("translate shard out of range", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/model", *MODEL,
                                      "--shard", "2/2"], "2/2"),
    ("translate overlap as large as the tile", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/model",
                                                "--device", "cpu", "--tile-size", "64", "--overlap", "64"],
     "--overlap"),
    ("translate tile the generator cannot take", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/model",
                                                  "--device", "cpu", "--tile-size", "50"], "50"),
    ("translate tile too large for any memory", ["translate", "{in}/huge.tif", "{out}/o.tif", "--model",
                                                 "{in}/model", "--device", "cpu", "--tile-size", "65536",
                                                 "--force"],  # an empty raster: past the content check
     "--tile-size 65536 needs about"),
    ("translate band out of range", ["translate", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/model", *MODEL,
                                     "--bands", "1,2,9"], "9"),
    ("translate layout that is text", ["translate", "{out}/o.tif", "--model", "{in}/model", *MODEL,
                                       "--layout", "{in}/notes.json", "--like", "{in}/sat.tif"], "--layout"),
    ("translate layout with no grid", ["translate", "{out}/o.tif", "--model", "{in}/model", *MODEL,
                                       "--layout", "{in}/notes.json"], "--like"),
    # merge
    ("merge missing part", ["merge", "{out}/m.tif", "{in}/nope.tif"], "nope.tif"),
    ("merge text part", ["merge", "{out}/m.tif", "{in}/notes.tif"], "notes.tif"),
    ("merge empty part", ["merge", "{out}/m.tif", "{in}/empty.tif"], "empty.tif"),
    ("merge truncated part", ["merge", "{out}/m.tif", "{in}/truncated.tif"], "truncated.tif"),
    ("merge a raster that is no part", ["merge", "{out}/m.tif", "{in}/sat.tif"], "sat.tif"),
    ("merge a part without its siblings", ["merge", "{out}/m.tif", "{in}/parts/part0.tif"], "missing"),
    ("merge an empty folder", ["merge", "{out}/m.tif", "{in}/emptydir"], "emptydir"),
    ("merge onto an existing file", ["merge", "{in}/map.tif", "{in}/parts"], "--overwrite"),
    ("merge onto one of its parts", ["merge", "{in}/parts/part1.tif", "{in}/parts", "--overwrite"], "part1.tif"),
    # inpaint
    ("inpaint with a translation model", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/model",
                                          "--device", "cpu"], "inpaint"),
    ("inpaint raster as model", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/raster.safetensors",
                                 "--device", "cpu"], "raster.safetensors"),
    ("inpaint cut model", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/cut.safetensors",
                           "--device", "cpu"], "cut.safetensors"),
    ("inpaint truncated region", ["inpaint", "{in}/truncated.tif", "{out}/o.tif", "--model", "{in}/inpaint",
                                  "--device", "cpu"], "truncated.tif"),
    ("inpaint holes that are text", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/inpaint",
                                     "--device", "cpu", "--holes", "{in}/notes.tif"], "notes.tif"),
    ("inpaint holes missing", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/inpaint", "--device", "cpu",
                               "--holes", "{in}/nope.tif"], "nope.tif"),
    ("inpaint holes that do not overlap", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/inpaint",
                                           "--device", "cpu", "--holes", "{in}/far.tif"], "far.tif"),
    ("inpaint record in a missing folder", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/inpaint",
                                            "--device", "cpu", "--record", "{out}/no/such/dir/r.gpkg"], "no/such/dir"),
    ("inpaint negative max hole", ["inpaint", "{in}/sat.tif", "{out}/o.tif", "--model", "{in}/inpaint",
                                   "--device", "cpu", "--max-hole", "-1"], "--max-hole"),
    # export
    ("export missing model", ["export", "{in}/nope", "{out}/m.onnx"], "nope"),
    ("export raster as model", ["export", "{in}/raster.safetensors", "{out}/m.onnx"], "raster.safetensors"),
    ("export cut model", ["export", "{in}/cut.safetensors", "{out}/m.onnx"], "cut.safetensors"),
    ("export a foreign safetensors", ["export", "{in}/other.safetensors", "{out}/m.onnx"], "other.safetensors"),
    ("export to a raster's name", ["export", "{in}/model", "{out}/map.tif"], "map.onnx"),
    ("export onto an existing file", ["export", "{in}/model", "{in}/old.onnx"], "--overwrite"),
    ("export tile the generator cannot take", ["export", "{in}/model", "{out}/m.onnx", "--tile", "50"], "50"),
    ("export style of a model without styles", ["export", "{in}/model", "{out}/m.onnx", "--style", "{in}/sat.tif"],
     "--style"),
    ("export into a missing folder", ["export", "{in}/model", "{out}/no/such/dir/m.onnx"], "no/such/dir"),
]


@pytest.mark.parametrize(("args", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, inputs: Path, geopix, args, names) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(inputs)
    r = geopix("-q", *[a.format(**{"in": inputs, "out": out}) for a in args])  # -q: errors only, no notices or bars
    assert r.code in (1, 2), f"exit {r.code}: {r.err or r.out}"
    assert "internal error" not in r.err + r.out and "Traceback" not in r.err + r.out, r.err
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("geopix: error: "), r.err
    assert names.format(**{"in": inputs, "out": out}) in lines[0], lines[0]
    assert not list(out.iterdir()), f"written: {sorted(p.name for p in out.rglob('*'))}"
    assert snapshot(inputs) == before


BARRED = [c for c in CASES if c[1][0] in ("translate", "merge", "inpaint")]


@pytest.mark.parametrize("args", [c[1] for c in BARRED], ids=[c[0] for c in BARRED])
def test_no_progress_bar_is_drawn_before_a_refusal(tmp_path: Path, inputs: Path, geopix, args) -> None:
    """Without -q, a refused command still shows no bar (merge drew two empty ones before "exists")."""
    out = tmp_path / "out"
    out.mkdir()
    r = geopix("--progress", "json", *[a.format(**{"in": inputs, "out": out}) for a in args])
    assert r.code in (1, 2) and r.err.strip().splitlines()[-1].startswith("geopix: error: "), r.err
    assert '"phase"' not in r.err, r.err


def test_the_battery_covers_every_command() -> None:
    from geo_pix2pix.cli.main import COMMANDS

    assert {c[1][0] for c in CASES} == set(COMMANDS)
