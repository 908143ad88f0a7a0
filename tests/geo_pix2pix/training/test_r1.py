"""The discriminator's R1 penalty: its value, its laziness, and where it reaches the run."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.training.objective import Batch, LossWeights, Networks, Objective
from geo_pix2pix.training.step import R1_EVERY, Optimisers, gan_step, r1_penalty


class _LinearD(nn.Module):
    """A one-scale "discriminator" whose logit at each pixel is ``sum_c w_c * B_c`` of the map
    channels of its input (the first three channels, the condition, are ignored)."""

    def __init__(self, w: list[float]) -> None:
        super().__init__()
        self.w = torch.tensor(w).view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        return [[(x[:, 3:] * self.w).sum(dim=1, keepdim=True)]]


def test_r1_is_the_squared_gradient_norm_over_valid_pixels() -> None:
    # d(sum of logits)/dB_c = w_c at every pixel: the penalty is pixels * sum(w^2), per window
    D = _LinearD([1.0, -2.0, 0.5])
    real_A = torch.rand(2, 3, 8, 8)
    real_B = torch.rand(2, 3, 8, 8).requires_grad_(True)
    valid = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    pred = D(torch.cat([real_A, real_B], 1))
    assert r1_penalty(pred, real_B, valid).item() == pytest.approx(64 * 5.25)
    # nodata is not penalised: half the window invalid, half the penalty
    valid[..., 4:] = False
    pred = D(torch.cat([real_A, real_B], 1))
    assert r1_penalty(pred, real_B, valid).item() == pytest.approx(32 * 5.25)
    # a D that ignores the map has no slope there: no penalty
    flat = _LinearD([0.0, 0.0, 0.0])
    assert r1_penalty(flat(torch.cat([real_A, real_B], 1)), real_B, valid).item() == 0.0


def _nets(seed: int) -> tuple[Networks, Optimisers]:
    torch.manual_seed(seed)
    G = build_generator(GeneratorConfig(in_channels=3, out_channels=3, tile=64, ngf=8))
    D = build_discriminator(DiscriminatorConfig(in_channels=6, ndf=8, n_layers=2))
    # plain SGD: Adam's first step is the gradient's sign, which a penalty need not change
    return Networks(G, D), Optimisers(torch.optim.SGD(G.parameters(), 1e-2), torch.optim.SGD(D.parameters(), 1e-2))


def _d_after(step: int, r1: float, nets: Networks, opts: Optimisers, batch: Batch) -> tuple[list[torch.Tensor], dict]:
    nets, opts = copy.deepcopy((nets, opts))  # together: the copied optimisers hold the copied weights
    d0 = [p.detach().clone() for p in nets.D.parameters()]
    torch.manual_seed(1)  # the generator's dropout
    losses = gan_step(nets, opts, batch, Objective(LossWeights(r1=r1)), step=step)
    assert any(not torch.equal(p, q) for p, q in zip(nets.D.parameters(), d0, strict=True))  # D trained
    return [p.detach().clone() for p in nets.D.parameters()], losses.as_row()


def test_r1_is_lazy_it_changes_d_only_on_its_steps() -> None:
    nets, opts = _nets(0)
    a, b = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    batch = Batch(a, b, torch.ones(2, 1, 64, 64, dtype=torch.bool))
    plain, plain_row = _d_after(0, 0.0, nets, opts, batch)
    on, on_row = _d_after(R1_EVERY, 1.0, nets, opts, batch)
    off, off_row = _d_after(R1_EVERY + 1, 1.0, nets, opts, batch)
    assert "D_R1" not in plain_row and "D_R1" not in off_row
    assert on_row["D_R1"] > 0
    # between R1 steps the update is the paper's to the bit; on them D moved elsewhere
    assert all(torch.equal(p, q) for p, q in zip(plain, off, strict=True))
    assert any(not torch.allclose(p, q) for p, q in zip(plain, on, strict=True))
    # the real and fake losses are the same figures either way (the penalty is added to them)
    assert on_row["D_real"] == pytest.approx(plain_row["D_real"]) and on_row["G_L1"] == pytest.approx(plain_row["G_L1"])


def test_r1_flattens_d_around_the_real_maps() -> None:
    # D trained on R1 alone (no GAN loss gradient reaches it through G's update): its slope at the
    # real maps shrinks step after step
    nets, opts = _nets(0)
    a, b = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    valid = torch.ones(2, 1, 64, 64, dtype=torch.bool)

    def slope() -> float:
        rb = b.clone().requires_grad_(True)
        return r1_penalty(nets.D(torch.cat([a, rb], 1)), rb, valid).item()

    before = slope()
    opts.D = torch.optim.Adam(nets.D.parameters(), 1e-3)
    for _ in range(20):
        opts.D.zero_grad(set_to_none=True)
        rb = b.clone().requires_grad_(True)
        r1_penalty(nets.D(torch.cat([a, rb], 1)), rb, valid).backward()
        opts.D.step()
    assert slope() < 0.1 * before


def test_the_objective_reports_r1_only_where_d_trains() -> None:
    assert Objective(LossWeights(r1=1.0)).term_names()[0] == "D_R1"
    assert "D_R1" not in Objective(LossWeights(r1=1.0, gan=0.0)).term_names()
    assert "D_R1" not in Objective(LossWeights()).term_names()


def test_r1_under_a_gradient_scaler_is_the_unscaled_penalty() -> None:
    # float16 training (CUDA) scales the loss; the penalty's gradient is taken of the scaled sum
    # and must come back unscaled, or D's regulariser would grow with the scale
    D = _LinearD([1.0, -2.0, 0.5])
    a, b = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8).requires_grad_(True)
    valid = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaled = r1_penalty(D(torch.cat([a, b], 1)), b, valid, scaler)
    assert scaled.item() == pytest.approx(r1_penalty(D(torch.cat([a, b], 1)), b, valid).item())
