"""``--init-from``: a run's generator started from another model's (pretraining on imagery, transfer)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from geo_pix2pix.files.modelfile import load_model, read_meta
from geo_pix2pix.models.class_head import ClassHead
from geo_pix2pix.models.registry import GeneratorConfig, build_generator
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.warm_start import core_generator, warm_start
from tests.conftest import same_model, smooth_image, write_raster

SMALL = ["--ngf", "8", "--ndf", "8", "--workers", "0", "--device", "cpu", "--val-fraction", "0"]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    img = smooth_image(160, 160, 3, seed=11)
    mp = np.where(img.mean(0, keepdims=True) > 128, 230, 40).astype(np.uint8).repeat(3, 0)
    return write_raster(tmp_path / "sat.tif", img), write_raster(tmp_path / "map.tif", mp)


@pytest.fixture
def inpainter(tmp_path: Path, geopix, pair) -> Path:
    """An inpainting run on the imagery alone (tile 64: the translation U-Net's depth)."""
    run = tmp_path / "inpaint"
    r = geopix("-q", "train", "--task", "inpaint", "--imagery", pair[0], "--tile-size", "64", "--steps", "3",
               "--seed", "3", "--out", run, *SMALL)
    assert r.code == 0, r.err
    return run


def _unet(out_channels: int = 3, tile: int = 64) -> torch.nn.Module:
    return build_generator(GeneratorConfig(in_channels=3, out_channels=out_channels, tile=tile, ngf=8))


def test_the_started_unet_computes_what_the_inpainters_did_on_a_window_without_holes(inpainter) -> None:
    G = _unet()
    done = warm_start(G, str(inpainter))
    assert done.family == "inpaint" and done.cut == 1 and not done.fresh
    src = core_generator(load_model(inpainter)[0])
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():  # the inpainter's U-Net reads the image and an all-zero hole mask
        want = src.eval()(torch.cat([x, torch.zeros(2, 1, 64, 64)], 1))
        got = G.eval()(x)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(_unet().eval()(x), want, atol=1e-2)  # a fresh U-Net does not


def test_a_layer_of_another_shape_keeps_its_fresh_start(inpainter) -> None:
    torch.manual_seed(0)
    G = ClassHead(_unet(out_channels=5))  # a categorical map of 5 classes: the last layer draws 5 channels
    before = {k: v.clone() for k, v in G.state_dict().items()}
    done = warm_start(G, str(inpainter))
    src = core_generator(load_model(inpainter)[0]).state_dict()
    differ = {k for k, v in core_generator(G).state_dict().items() if v.shape != src[k].shape}
    last = {k for k in differ if not (src[k].dim() == 4 and src[k].shape[1] == 4)}  # all but the first conv
    assert set(done.fresh) == last and len(last) == 2  # the last transposed convolution's weight and bias
    after = G.state_dict()
    for k in after:
        name = k.removeprefix("body.")
        assert torch.equal(after[k], before[k]) == (name in last), k


def test_another_network_is_refused(inpainter) -> None:
    with pytest.raises(GeopixError, match="not this run's network"):
        warm_start(_unet(tile=128), str(inpainter))  # one more level: no names line up


def test_cli_start_is_recorded_and_a_resume_does_not_need_the_source(tmp_path, geopix, pair, inpainter) -> None:
    sat, mp = pair
    common = ["--imagery", sat, "--maps", mp, "--tile-size", "64", "--steps", "4", "--seed", "5",
              "--checkpoint-every", "2", *SMALL]
    straight, split, fresh = tmp_path / "straight", tmp_path / "split", tmp_path / "fresh"
    r = geopix("train", *common, "--init-from", inpainter, "--out", straight)
    assert r.code == 0, r.err
    assert "started from" in r.err and "tensors copied (1 cut to the image channels" in r.err
    assert read_meta(straight).extra["init_from"] == str(inpainter)
    assert "--init-from" in geopix("info", straight).out
    assert geopix("-q", "train", *common, "--init-from", inpainter, "--out", split, "--stop-at", "2").code == 0
    shutil.rmtree(inpainter)  # a resume reads its own checkpoint, not the source
    r = geopix("-q", "train", "--resume", split)
    assert r.code == 0, r.err
    assert same_model(straight, split)
    assert geopix("-q", "train", *common, "--out", fresh).code == 0
    assert not same_model(straight, fresh)  # the start changed what was learnt


@pytest.mark.parametrize("source", ["missing", "raster", "other-depth"])
def test_cli_refuses_a_bad_source_in_one_line_and_writes_nothing(tmp_path, geopix, pair, inpainter, source) -> None:
    sat, mp = pair
    given = {"missing": tmp_path / "nothing", "raster": sat, "other-depth": inpainter}[source]
    tile = "128" if source == "other-depth" else "64"
    out = tmp_path / "run"
    r = geopix("train", "--imagery", sat, "--maps", mp, "--tile-size", tile, "--steps", "2", "--init-from", given,
               "--out", out, *SMALL)
    assert r.code != 0 and "--init-from" in r.err and "Traceback" not in r.err
    assert len([line for line in r.err.splitlines() if "error" in line]) == 1
    assert not out.exists()
