"""Losses ignore invalid pixels; the step reads like the paper."""

from __future__ import annotations

import pytest
import torch

from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.training.losses import adversarial_loss, feature_matching_loss, gan_loss, masked_l1, patch_weights
from geo_pix2pix.training.objective import Batch, LossTerm, LossWeights, Networks, Objective
from geo_pix2pix.training.step import Optimisers, gan_step


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
    nets = Networks(G, D)
    opts = Optimisers(torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
                      torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)))
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    a, b = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    losses = gan_step(nets, opts, Batch(a, b, torch.ones(2, 1, 64, 64, dtype=torch.bool)), Objective())
    assert all(p.requires_grad for p in D.parameters())  # D unfrozen again for the next step
    assert any(not torch.equal(p, q) for p, q in zip(G.parameters(), g0, strict=True))
    assert any(not torch.equal(p, q) for p, q in zip(D.parameters(), d0, strict=True))
    assert 0.1 < losses["G_L1"] < 2 and losses.D > 0
    assert set(losses.as_row()) == {"D_real", "D_fake", "G_GAN", "G_L1"}  # Pix2Pix computes no other term
    assert list(losses.postfix()) == ["D", "GAN", "L1"]  # the progress bar's
    # a term of weight 0 is neither computed nor shown: without the GAN term D does not train
    l1_only = gan_step(nets, opts, Batch(a, b, torch.ones(2, 1, 64, 64, dtype=torch.bool)),
                       Objective(LossWeights(gan=0.0)))
    assert list(l1_only) == ["G_L1"] and l1_only.D is None and list(l1_only.postfix()) == ["L1"]


def _scales(values: list[list[float]]) -> list[list[torch.Tensor]]:
    """Discriminator outputs: per scale, feature maps then a 2x2 logit map, from constants."""
    return [[torch.full((1, 2, 4, 4), v) for v in scale[:-1]] + [torch.full((1, 1, 2, 2), scale[-1])]
            for scale in values]


@pytest.mark.parametrize("kind", ["vanilla", "lsgan", "hinge"])
def test_adversarial_loss_is_the_mean_over_scales(kind: str) -> None:
    valid = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    outs = _scales([[0.0, 2.0], [0.0, -1.0], [0.0, 0.5]])
    for target in (True, False):
        for for_d in (True, False):
            per_scale = [gan_loss(s[-1], target, kind, None, for_d) for s in outs]
            got = adversarial_loss(outs, target, kind, valid, for_d)
            assert got.item() == pytest.approx(sum(x.item() for x in per_scale) / 3)
    # one scale: exactly the single-discriminator loss
    one = _scales([[0.0, 2.0]])
    assert torch.equal(adversarial_loss(one, True, kind, valid), gan_loss(one[0][-1], True, kind, None))


def test_adversarial_loss_ignores_nodata_patches_at_every_scale() -> None:
    valid = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    valid[..., :4] = True  # left half valid
    logits = torch.tensor([[[[3.0, -40.0], [3.0, -40.0]]]])  # right column: garbage over nodata
    outs = [[logits], [logits.clone()]]
    assert adversarial_loss(outs, True, "lsgan", valid).item() == pytest.approx(4.0)


def test_feature_matching_is_zero_for_identical_features_and_weighted_as_documented() -> None:
    valid = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    real = _scales([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0]])
    assert feature_matching_loss(real, real, valid).item() == 0.0
    # one intermediate layer off by 0.5 at scale 0: weight 4 / 3 layers / 2 scales
    fake = _scales([[1.5, 1.0, 1.0, 9.0], [1.0, 1.0, 1.0, -9.0]])  # logits never count
    assert feature_matching_loss(fake, real, valid).item() == pytest.approx(0.5 * 4 / 3 / 2)
    # every layer of both scales off by 0.5: the total weight is 4
    fake = _scales([[1.5, 1.5, 1.5, 0.0], [0.5, 0.5, 0.5, 0.0]])
    assert feature_matching_loss(fake, real, valid).item() == pytest.approx(0.5 * 4)
    # nodata is ignored: a difference only over invalid pixels costs nothing
    half = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    half[..., :4] = True
    fake = [[t.clone() for t in s] for s in real]
    for s in fake:
        for t in s[:-1]:
            t[..., 2:] += 1.0  # right half of every 4x4 feature map
    assert feature_matching_loss(fake, real, half).item() == pytest.approx(0.0)


def test_feature_matching_trains_the_generator_only() -> None:
    valid = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    fake = [[torch.ones(1, 2, 4, 4, requires_grad=True), torch.zeros(1, 1, 2, 2)]]
    real = [[torch.zeros(1, 2, 4, 4, requires_grad=True), torch.zeros(1, 1, 2, 2)]]
    feature_matching_loss(fake, real, valid).backward()
    assert fake[0][0].grad is not None and real[0][0].grad is None


def test_hd_terms_are_computed_and_logged_only_when_weighted() -> None:
    torch.manual_seed(0)
    G = build_generator(GeneratorConfig(tile=64, ngf=8))
    D = build_discriminator(DiscriminatorConfig(in_channels=6, ndf=8, num_d=2))
    nets = Networks(G, D)
    opts = Optimisers(torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4))
    batch = Batch(torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1,
                  torch.ones(2, 1, 64, 64, dtype=torch.bool))
    from geo_pix2pix.families.multiscale import feature_matching

    plain = gan_step(nets, opts, batch, Objective(LossWeights(gan_loss="lsgan")))
    assert "G_feat" not in plain and "G_feat" not in plain.as_row()
    hd = gan_step(nets, opts, batch, Objective(LossWeights(gan_loss="lsgan"),
                                               terms=(LossTerm("G_feat", 10.0, feature_matching),)))
    assert "G_feat" in hd and hd["G_feat"] > 0 and "G_feat" in hd.as_row()


def test_edge_band_marks_thin_strokes_and_edge_weight_emphasises_them() -> None:
    from geo_pix2pix.training.losses import edge_band

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
