"""Losses ignore invalid pixels; the step reads like the paper."""

from __future__ import annotations

import pytest
import torch

from geo_pix2pix.losses import gan_loss, masked_l1, patch_weights
from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.step import GanModels, train_step


def test_masked_l1_ignores_invalid_pixels() -> None:
    real = torch.zeros(1, 3, 8, 8)
    fake = torch.full((1, 3, 8, 8), 0.5)
    valid = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    valid[..., :4] = True
    fake2 = fake.clone()
    fake2[..., 4:] = 99.0  # garbage where the data is invalid
    assert masked_l1(fake, real, valid).item() == pytest.approx(0.5)
    assert masked_l1(fake2, real, valid).item() == pytest.approx(0.5)


def test_gan_losses_weight_patches_by_validity() -> None:
    logits = torch.tensor([[[[5.0, -5.0]]]])
    w = torch.tensor([[[[1.0, 0.0]]]])
    assert gan_loss(logits, True, "vanilla", w).item() == pytest.approx(0.00671534, rel=1e-4)
    assert gan_loss(logits, True, "lsgan", w).item() == pytest.approx(16.0)
    assert gan_loss(logits, False, "hinge", w).item() == pytest.approx(6.0)
    assert gan_loss(logits, True, "hinge", w, for_discriminator=False).item() == pytest.approx(-5.0)
    valid = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    valid[..., :4] = True
    pw = patch_weights(valid, torch.zeros(1, 1, 2, 2))
    torch.testing.assert_close(pw, torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]]))


def test_train_step_updates_both_networks_and_returns_losses() -> None:
    torch.manual_seed(0)
    G = build_generator(GeneratorConfig(tile=64, ngf=8))
    D = build_discriminator(DiscriminatorConfig(in_channels=6, ndf=8))
    m = GanModels(G, D, torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
                  torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)))
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    a, b = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    losses = train_step(m, a, b, torch.ones(2, 1, 64, 64, dtype=torch.bool))
    assert all(p.requires_grad for p in D.parameters())  # D unfrozen again for the next step
    assert any(not torch.equal(p, q) for p, q in zip(G.parameters(), g0))
    assert any(not torch.equal(p, q) for p, q in zip(D.parameters(), d0))
    assert 0.1 < losses.G_L1 < 2 and losses.D > 0


def test_edge_band_marks_thin_strokes_and_edge_weight_emphasises_them() -> None:
    from geo_pix2pix.losses import edge_band

    target = -torch.ones(1, 3, 16, 16)
    target[:, :, :, 7:9] = 1.0  # a 2-pixel "road" on a flat background
    band = edge_band(target)[0, 0]
    assert band[:, 6:10].all() and not band[:, :5].any() and not band[:, 11:].any()
    valid = torch.ones(1, 1, 16, 16, dtype=torch.bool)
    on_road, off_road = target.clone(), target.clone()
    on_road[:, :, :, 7:9] = 0.0   # the road drawn grey: error 1 on 32 pixels
    off_road[:, :, :, 0:2] = 0.0  # the same error in a flat area
    # Plain L1 cannot tell the two apart; the edge-weighted L1 punishes the missed road more.
    assert masked_l1(on_road, target, valid) == pytest.approx(masked_l1(off_road, target, valid).item())
    assert masked_l1(on_road, target, valid, 4.0) > 2 * masked_l1(off_road, target, valid, 4.0)
