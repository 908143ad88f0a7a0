"""Training augmentation: drawn from (seed, step, rank), the map untouched by the photometric jitter,
imagery, map and masks zoomed alike, validation and a run with the options off unaugmented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.training.augment import Augment, rescale, with_augment
from geo_pix2pix.training.build import Sides
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.objective import Batch
from geo_pix2pix.training.validation import VALIDATION_STEP
from tests.conftest import same_model, smooth_image, train_resumed, write_raster

T = 32


def _seen(d, step, rank=0, world=1):
    return d


def _windows(n: int = 4, k: int = 0) -> dict[str, torch.Tensor]:
    """Imagery in [-1, 1] with a masked corner; an RGB map that is a function of the imagery
    (its first band, negated); or, with ``k`` classes, a one-hot layout in {-1, 1}."""
    g = torch.Generator().manual_seed(3)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, T), torch.linspace(-1, 1, T), indexing="ij")
    base = torch.stack([torch.sin(3 * xx + i) * torch.cos(2 * yy) for i in range(n)])[:, None]
    imagery = (torch.cat([base, base * 0.5, -base * 0.3], 1) + 0.05 * torch.rand((n, 3, T, T), generator=g)
               ).clamp(-1, 1)
    imagery_valid = torch.ones((n, 1, T, T), dtype=torch.bool)
    imagery_valid[:, :, :6, :6] = False
    if k:
        code = ((imagery[:, :1] + 1) / 2 * k).long().clamp(0, k - 1)
        maps = torch.where(torch.arange(k)[None, :, None, None] == code, 1.0, -1.0)
    else:
        maps = -imagery[:, :1].repeat(1, 3, 1, 1)
    maps_valid = torch.ones_like(imagery_valid)
    maps_valid[:, :, -4:] = False
    return {"imagery": imagery, "maps": maps, "imagery_valid": imagery_valid,
            "maps_valid": maps_valid, "valid": imagery_valid & maps_valid}


ALL_ON = Augment(colour=1.0, blur_noise=0.5, scale=1.5)


def _sides(direction: str):
    stats = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
    a, b = ("imagery", "maps") if direction == "sat2map" else ("maps", "imagery")
    return Sides(a, b, (1, 2, 3), (1, 2, 3), stats, stats)


def test_the_defaults_leave_the_batches_as_today() -> None:
    aug = Augment.for_run(TrainConfig(pairs=()), _sides("sat2map"))
    assert aug.off and with_augment(_seen, aug, seed=0) is _seen


def test_map2sat_imagery_is_the_target_and_is_not_jittered() -> None:
    cfg = TrainConfig(pairs=(), colour_jitter=1.0, blur_noise=0.5)
    assert Augment.for_run(cfg, _sides("sat2map")).photometric_on
    assert Augment.for_run(cfg, _sides("map2sat")).off


def test_options_off_pass_the_windows_on_as_they_are() -> None:
    assert with_augment(_seen, Augment(), seed=0) is _seen
    assert with_augment(_seen, Augment(colour=1.0, jitter_imagery=False), seed=0) is _seen  # map2sat


def test_a_step_is_a_function_of_seed_step_and_rank() -> None:
    make = with_augment(_seen, ALL_ON, seed=7)
    a, b = make(_windows(), 5), make(_windows(), 5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["imagery"], make(_windows(), 6)["imagery"])
    assert not torch.equal(a["imagery"], make(_windows(), 5, 1, 2)["imagery"])
    assert not torch.equal(a["imagery"], with_augment(_seen, ALL_ON, seed=8)(_windows(), 5)["imagery"])
    state = torch.random.get_rng_state()
    make(_windows(), 9)
    assert torch.equal(state, torch.random.get_rng_state())  # dropout's stream is not touched


def test_validation_batches_are_not_augmented() -> None:
    d = _windows()
    out = with_augment(_seen, ALL_ON, seed=0)(d, VALIDATION_STEP + 3)
    assert all(out[k] is d[k] for k in d)


def test_photometric_jitter_leaves_the_map_and_masked_pixels_alone() -> None:
    d = _windows()
    out = with_augment(_seen, Augment(colour=2.0, blur_noise=1.0), seed=1)(d, 0)
    for k in ("maps", "valid", "imagery_valid", "maps_valid"):
        assert torch.equal(out[k], d[k]), k
    masked = ~d["imagery_valid"].expand_as(d["imagery"])
    assert torch.equal(out["imagery"][masked], d["imagery"][masked])
    changed = out["imagery"][~masked] != d["imagery"][~masked]
    assert bool(changed.float().mean() > 0.9)
    assert float(out["imagery"].min()) >= -1 and float(out["imagery"].max()) <= 1


def test_zoom_one_is_the_identity() -> None:
    d = _windows()
    out = rescale(d, np.ones(4))
    assert torch.equal(out["valid"], d["valid"])
    assert torch.allclose(out["imagery"], d["imagery"], atol=1e-5)


@pytest.mark.parametrize("zoom", [0.8, 1.3])
def test_zoom_keeps_the_map_a_function_of_the_imagery(zoom: float) -> None:
    d = _windows()
    out = rescale(d, np.full(4, zoom))
    assert not torch.allclose(out["imagery"], d["imagery"], atol=1e-2)  # it did move
    v = out["valid"].expand(-1, 3, -1, -1)
    want = -out["imagery"][:, :1].repeat(1, 3, 1, 1)
    assert torch.allclose(out["maps"][v], want[v], atol=1e-5)  # the same grid, both bilinear
    assert bool((out["valid"] <= out["imagery_valid"] & out["maps_valid"]).all())


def test_zoom_out_masks_the_ring_it_has_no_pixels_for_and_zoom_keeps_masks_masked() -> None:
    d = _windows()
    d["imagery_valid"][:] = True
    d["maps_valid"][:] = True
    d["valid"][:] = True
    out = rescale(d, np.full(4, 0.75))
    for k in ("valid", "imagery_valid", "maps_valid"):
        m = out[k][0, 0]
        assert not bool(m[0].any()) and not bool(m[:, -1].any()) and bool(m[T // 2, T // 2]), k
    holed = _windows()
    out = rescale(holed, np.full(4, 1.0 / 0.75))
    assert not bool(out["imagery_valid"][:, :, :3, :3].any())  # the masked corner, zoomed, stays masked


def test_a_class_layout_stays_one_hot_under_zoom() -> None:
    d = _windows(k=5)
    aug = Augment(scale=1.5, categorical=frozenset({"maps"}))
    out = with_augment(_seen, aug, seed=2)(d, 0)
    m = out["maps"]
    assert set(m.unique().tolist()) <= {-1.0, 1.0}
    assert bool(((m == 1).sum(1) == 1).all())


def test_fit_with_augmentation_resumes_exactly(tmp_path, geopix) -> None:
    img = smooth_image(160, 160, 3, seed=11)
    mp = np.where(img.mean(0, keepdims=True) > 128, 230, 40).astype(np.uint8).repeat(3, 0)
    sat, mpp = write_raster(tmp_path / "sat.tif", img), write_raster(tmp_path / "map.tif", mp)
    common = ["--imagery", sat, "--maps", mpp, "--steps", "4", "--val-every", "2", "--seed", "5",
              "--checkpoint-every", "2", "--val-fraction", "0", "--tile-size", "64", "--ngf", "8", "--ndf", "8",
              "--workers", "0", "--device", "cpu", "--colour-jitter", "1", "--blur-noise", "0.5",
              "--scale-jitter", "1.25"]
    straight = tmp_path / "straight"
    assert geopix("-q", "train", *common, "--out", straight).code == 0
    assert same_model(straight, train_resumed(geopix, common, tmp_path / "split", 2))
    plain = tmp_path / "plain"
    assert geopix("-q", "train", *common[:-6], "--out", plain).code == 0
    assert not same_model(straight, plain)  # the options did change what was learnt


def test_batch_of_the_family_reads_the_augmented_windows() -> None:
    def make(d, step, rank=0, world=1) -> Batch:
        return Batch(d["imagery"], d["maps"], d["valid"])

    d = _windows()
    got = with_augment(make, Augment(colour=1.0), seed=0)(d, 1)
    assert not torch.equal(got.real_A, d["imagery"]) and torch.equal(got.real_B, d["maps"])


def test_what_lies_under_a_mask_does_not_reach_valid_pixels() -> None:
    make = with_augment(_seen, Augment(colour=1.0, blur_noise=1.0, scale=1.5), seed=4)
    white, black = _windows(), _windows()
    for d, under in ((white, 1.0), (black, -1.0)):
        d["imagery"] = d["imagery"].masked_fill(~d["imagery_valid"], under)
    a, b = make(white, 3), make(black, 3)
    keep = a["imagery_valid"].expand_as(a["imagery"])
    assert torch.equal(a["imagery_valid"], b["imagery_valid"]) and bool(keep.any())
    assert torch.allclose(a["imagery"][keep], b["imagery"][keep], atol=1e-6)
