"""The SPADE block, generator and style encoder (Park et al. 2019), and the KL term."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geo_pix2pix.models.spade import SPADE, SPADEGenerator, SPADEResBlock, StyleEncoder
from geo_pix2pix.training.losses import kl_divergence


def _one_hot(idx: torch.Tensor, k: int) -> torch.Tensor:
    """``(N, H, W)`` class indexes -> ``(N, K, H, W)`` in {-1, +1}, as geopix reads classes."""
    return F.one_hot(idx, k).permute(0, 3, 1, 2).float() * 2 - 1


def test_spade_block_matches_the_formula_on_a_hand_made_case() -> None:
    # two classes, one channel; modulation network made by hand: a = relu(m) (the one-hot itself),
    # gamma = [class 1], beta = 3 * [class 0]; so out = BN(h) * (1 + [class 1]) + 3 * [class 0]
    block = SPADE(channels=1, label_nc=2, hidden=2)
    with torch.no_grad():
        for conv in (block.shared, block.gamma, block.beta):
            conv.weight.zero_()
            conv.bias.zero_()
        block.shared.weight[0, 0, 1, 1] = 1.0
        block.shared.weight[1, 1, 1, 1] = 1.0
        block.gamma.weight[0, 1, 1, 1] = 1.0
        block.beta.weight[0, 0, 1, 1] = 3.0
    torch.manual_seed(0)
    h = torch.randn(2, 1, 6, 6)
    cls = (torch.arange(36).reshape(6, 6) % 3 == 0).long().expand(2, 6, 6)
    m = (_one_hot(cls, 2) + 1) / 2
    out = block.train()(h, m)
    mean, var = h.mean(), h.var(unbiased=False)
    normed = (h - mean) / torch.sqrt(var + block.norm.eps)
    expected = normed * (1 + (cls == 1).float()[:, None]) + 3.0 * (cls == 0).float()[:, None]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_the_layout_acts_at_each_pixel_and_only_near_it() -> None:
    torch.manual_seed(1)
    block = SPADEResBlock(4, 4, label_nc=3, hidden=8, style_dim=0).eval()
    x = torch.randn(1, 4, 24, 24)
    cls = torch.zeros(1, 24, 24, dtype=torch.long)
    changed = cls.clone()
    changed[0, 12, 12] = 2
    with torch.no_grad():
        a, b = block(x, (_one_hot(cls, 3) + 1) / 2, None), block(x, (_one_hot(changed, 3) + 1) / 2, None)
    diff = (a - b).abs().amax(dim=1)[0]
    assert diff[12, 12] > 1e-3  # the pixel's class changes its own output
    # the modulation network (two 3x3 convs) reaches 2 pixels, each of the block's two 3x3 convs one
    # more: nothing moves beyond 4 pixels (eval mode: batch norm's running statistics, no coupling)
    far = diff.clone()
    far[8:17, 8:17] = 0
    assert float(far.max()) == 0.0


def test_generator_shapes_tile_sizes_and_determinism() -> None:
    torch.manual_seed(2)
    G = SPADEGenerator(label_nc=4, out_channels=3, ngf=8, n_up=3, hidden=8).eval()
    assert G.multiple == 8 and G.encoder is None
    for side in (16, 40, 64):  # any multiple of 2 ** n_up, not only the training tile
        lay = _one_hot(torch.randint(0, 4, (2, side, side)), 4)
        y = G(lay)
        assert y.shape == (2, 3, side, side) and float(y.abs().max()) <= 1.0
        assert torch.equal(y, G(lay))


def test_style_changes_the_picture_and_no_style_is_the_prior_mean() -> None:
    torch.manual_seed(3)
    G = SPADEGenerator(label_nc=2, out_channels=3, ngf=8, n_up=2, hidden=8, style_dim=16).eval()
    lay = _one_hot(torch.randint(0, 2, (1, 32, 32)), 2)
    z = torch.randn(1, 16)
    assert not torch.allclose(G(lay, z), G(lay, -z))
    assert torch.equal(G(lay), G(lay, torch.zeros(1, 16)))


def test_style_encoder_takes_any_tile_and_gives_one_vector() -> None:
    E = StyleEncoder(in_channels=3, ngf=8, style_dim=12, layers=3)
    for side in (32, 48, 128):
        mu, logvar = E(torch.randn(2, 3, side, side))
        assert mu.shape == logvar.shape == (2, 12)


def test_kl_divergence_is_zero_at_the_prior_and_matches_the_closed_form() -> None:
    zero = torch.zeros(3, 5)
    assert float(kl_divergence(zero, zero)) == 0.0
    mu, logvar = torch.full((1, 1), 2.0), torch.full((1, 1), np.log(0.25))
    # KL(N(2, 0.25) || N(0, 1)) = 0.5 * (0.25 + 4 - 1 - ln 0.25)
    assert float(kl_divergence(mu, logvar)) == pytest.approx(0.5 * (0.25 + 4 - 1 - np.log(0.25)), rel=1e-6)
