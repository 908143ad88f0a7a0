"""Pix2PixHD through the command line: train, resume, coarse-to-fine, translate, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from safetensors.torch import load_file

from geo_pix2pix.evaluation.metrics import seam_ratio
from geo_pix2pix.files.modelfile import read_meta
from tests.conftest import EXAMPLES, smooth_image, write_raster

#: A tiny HD model: global ngf 16 (2 downsamplings, 1 block), one enhancer of ngf 8, 2 scales of D.
HD = ["--family", "pix2pixhd", "--tile-size", "64", "--ngf", "8", "--ndf", "8", "--n-downsample", "2",
      "--n-blocks", "1", "--n-blocks-local", "1", "--num-d", "2", "--d-layers", "2", "--batch-size", "2",
      "--val-fraction", "0", "--val-every", "100000", "--device", "cpu", "--no-amp", "--recipe", "paper"]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    img = smooth_image(128, 128, 3, seed=5)
    return write_raster(tmp_path / "sat.tif", img), write_raster(tmp_path / "map.tif", (255 - img).astype(np.uint8))


def _weights(run: Path) -> dict:
    return load_file(str(run / "model.safetensors"))


def test_hd_run_records_its_family_and_resume_is_exact(tmp_path, geopix, pair) -> None:
    sat, mp = pair
    straight, split = tmp_path / "straight", tmp_path / "split"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", straight, *HD, "--steps", "4")
    assert r.code == 0, r.err
    meta = read_meta(straight)
    assert meta.family == "pix2pixhd" and meta.generator.n_local_enhancers == 1
    assert meta.extra["discriminator"]["num_d"] == 2
    header = (straight / "metrics.csv").read_text().splitlines()[1].split(",")
    assert header[6] != ""  # G_feat logged every step
    assert geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", split, *HD, "--steps", "4",
                  "--stop-at", "2").code == 0
    assert geopix("-q", "train", "--resume", split).code == 0
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_coarse_to_fine_from_a_global_run_with_a_fixed_global_phase(tmp_path, geopix, pair) -> None:
    sat, mp = pair
    glob, local = tmp_path / "global", tmp_path / "local"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", glob, *HD, "--n-local-enhancers", "0",
               "--ngf", "16", "--steps", "2")
    assert r.code == 0, r.err
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", local, *HD, "--from-run", glob,
               "--fix-global-steps", "3", "--stop-at", "3", "--steps", "5")
    assert r.code == 0, r.err
    g, loc = _weights(glob), _weights(local)
    body = [k for k in g if k.startswith("global_body.")]
    assert body and all(np.array_equal(g[k].numpy(), loc[k].numpy()) for k in body)  # fixed phase: untouched
    enh = [k for k in loc if k.startswith("enhancers.")]
    assert enh
    assert geopix("-q", "train", "--resume", local).code == 0  # steps 4-5: everything trains
    after = _weights(local)
    assert any(not np.array_equal(g[k].numpy(), after[k].numpy()) for k in body)


def test_hd_refusals_are_one_line_and_leave_nothing(tmp_path, geopix, pair) -> None:
    sat, mp = pair
    out = tmp_path / "r"
    base = ["-q", "train", "--imagery", sat, "--maps", mp, "--out", out]
    r = geopix(*base, *HD, "--tile-size", "68")
    assert r.code == 1 and "multiples of 8" in r.err and "68" in r.err and len(r.err.strip().splitlines()) == 1
    r = geopix(*base, *HD, "--vgg-weights", tmp_path / "missing.pth")
    assert r.code == 1 and "no such file" in r.err and len(r.err.strip().splitlines()) == 1
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    r = geopix(*base, *HD, "--vgg-weights", tmp_path / "junk.pth")
    assert r.code == 1 and "junk.pth" in r.err and len(r.err.strip().splitlines()) == 1
    r = geopix(*base, *HD, "--from-run", tmp_path / "nothing")
    assert r.code == 1 and "no model" in r.err
    r = geopix(*base, "--n-blocks", "3", "--steps", "1")  # an HD option without --family pix2pixhd
    assert r.code == 2 and "--n-blocks" in r.err and "--family" in r.err
    r = geopix(*base, *HD, "--num-d", "3", "--d-layers", "3")  # 64 / 4 = 16 px at the coarsest scale
    assert r.code == 1 and "too small for the discriminator" in r.err
    assert not out.exists()


@pytest.mark.slow
def test_hd_model_translates_a_real_raster_seam_free_on_its_grid(tmp_path, geopix) -> None:
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", EXAMPLES / "houston_sat.tif", "--maps", EXAMPLES / "houston_map.tif",
               "--out", run, *HD, "--ngf", "16", "--batch-size", "4", "--steps", "150", "--lr", "1e-3",
               "--lambda-l1", "400")
    assert r.code == 0, r.err
    out = tmp_path / "out.tif"
    src = EXAMPLES / "charlotte_sat.tif"
    assert geopix("-q", "translate", src, out, "--model", run, "--tile-size", "64", "--overlap", "16").code == 0
    with rasterio.open(out) as o, rasterio.open(src) as s:
        assert (o.crs, o.transform, o.width, o.height) == (s.crs, s.transform, s.width, s.height)
        ratios = seam_ratio(o.read(), 64, 16)
    print(f"HD seam ratio (columns, rows) at overlap 16: {ratios}")
    assert max(ratios) <= 1.05
    assert geopix("-q", "translate", src, tmp_path / "bad.tif", "--model", run, "--tile-size", "68").code == 1
