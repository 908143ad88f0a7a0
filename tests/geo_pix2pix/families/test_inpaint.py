"""Inpainting's model side: the push-pull pre-fill, the holes of a step, the GAN step that never
learns from real nodata, the global discriminator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geo_pix2pix.families.inpaint import HoleBatch, HoleBatches, draw_holes, holed_input
from geo_pix2pix.models.global_d import GlobalDiscriminator
from geo_pix2pix.models.prefill import PrefilledGenerator, push_pull
from geo_pix2pix.tiles.holes.draw import HoleSpec


def test_push_pull_keeps_known_pixels_and_interpolates_holes() -> None:
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    image = (yy + 2 * xx)[None, None] / 100
    known = torch.ones(1, 1, 32, 32)
    known[..., 10:13, :] = 0  # a stripe across
    filled = push_pull(image * known, known)
    assert torch.equal(filled[known.bool()], image[known.bool()])
    err = (filled - image).abs()[..., 10:13, :]
    assert err.max() < 0.05  # a plane is nearly rebuilt across a 3-pixel stripe (values up to 0.93)
    assert torch.equal(push_pull(image, torch.zeros_like(known)), torch.zeros_like(image))


def _batch(n: int = 2, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    valid = torch.ones(n, 1, size, size, dtype=torch.bool)
    valid[:, :, :, :4] = False  # a nodata collar
    return {"imagery": torch.rand(n, 3, size, size, generator=g) * 2 - 1, "valid": valid}


def test_holes_are_the_step_s_and_ranks_share_one_draw() -> None:
    make = HoleBatches(HoleSpec(("strokes", "boxes", "stripes")), [], seed=5)
    d = _batch(4)
    whole = make(d, step=3)
    again = make(d, step=3)
    assert torch.equal(whole.hole, again.hole) and not torch.equal(whole.hole, make(d, step=4).hole)
    halves = [make({k: v[2 * r:2 * r + 2] for k, v in d.items()}, 3, rank=r, world=2) for r in (0, 1)]
    assert torch.equal(torch.cat([h.hole for h in halves]), whole.hole)  # 2 ranks x 2 = 1 x 4
    assert whole.hole[:, :, :, :4].all()  # real nodata is unknown to G
    assert torch.equal(whole.real_A[:, :3][whole.hole.expand(-1, 3, -1, -1)], torch.zeros(int(whole.hole.sum()) * 3))
    assert torch.equal(whole.real_A[:, 3:], whole.hole.float())


def _nets(seed: int = 0):
    from geo_pix2pix.models.registry import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
    from geo_pix2pix.training.objective import Networks
    from geo_pix2pix.training.step import Optimisers

    torch.manual_seed(seed)
    G = PrefilledGenerator(build_generator(GeneratorConfig(in_channels=4, out_channels=3, tile=32, ngf=8,
                                                           dropout=False)))
    D = build_discriminator(DiscriminatorConfig(in_channels=7, ndf=8, global_tile=32))
    return Networks(G, D), Optimisers(torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3))


def test_real_nodata_is_never_a_target_nor_a_real_example() -> None:
    """Whatever the raster holds under its nodata, the step computes the same losses and leaves the
    same weights: nothing in it reads those pixels."""
    from geo_pix2pix.families.multiscale import feature_matching
    from geo_pix2pix.training.objective import LossTerm, LossWeights, Objective
    from geo_pix2pix.training.step import gan_step

    objective = Objective(LossWeights(gan_loss="lsgan", l1=10.0), draw_holes,
                          (LossTerm("G_feat", 1.0, feature_matching),))
    make = HoleBatches(HoleSpec(("boxes",)), [], seed=1)
    results = []
    for junk in (0.0, 0.9):
        d = _batch()
        d["imagery"] = torch.where(d["valid"], d["imagery"], torch.tensor(junk))
        nets, opts = _nets()
        torch.manual_seed(7)
        losses = gan_step(nets, opts, make(d, 0), objective)
        results.append((losses, [p.detach().clone() for p in nets.G.parameters()]))
    (l0, g0), (l1, g1) = results
    assert l0.as_row() == l1.as_row()
    assert all(torch.equal(a, b) for a, b in zip(g0, g1, strict=True))


def test_the_l1_is_taken_inside_the_holes_only() -> None:
    from geo_pix2pix.training.objective import LossWeights, Objective
    from geo_pix2pix.training.step import gan_step

    nets, opts = _nets()
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    valid = torch.ones(1, 1, 32, 32, dtype=torch.bool)
    hole = torch.zeros_like(valid)
    hole[..., 8:16, 8:16] = True
    with torch.no_grad():
        expected = (nets.G(holed_input(image, hole)) - image).abs()[hole.expand(-1, 3, -1, -1)].mean()
    batch = HoleBatch(holed_input(image, hole), image, valid, hole)
    losses = gan_step(nets, opts, batch, Objective(LossWeights(gan=0.0, l1=1.0), draw_holes))
    assert losses["G_L1"] == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("tile", [64, 128, 256])
def test_the_global_discriminator_gives_one_logit_per_window(tile: int) -> None:
    D = GlobalDiscriminator(7, ndf=8, tile=tile)
    out = D(torch.rand(2, 7, tile, tile))
    assert out[-1].shape == (2, 1, 1, 1) and len(out) >= 4
    assert D(torch.rand(1, 7, 2 * tile, tile))[-1].shape == (1, 1, 1, 1)  # any window size
    assert np.isfinite(out[-1].detach().numpy()).all()
