"""The averaged generator: its update rule, warm-up and buffers."""

from __future__ import annotations

import torch
from torch import nn

from geo_pix2pix.training.ema import EVERY, GeneratorAverage, ema_decay_at


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_decay_warms_up_then_holds() -> None:
    assert ema_decay_at(0.999, 0) == 0.1  # the first step's weights dominate
    assert ema_decay_at(0.999, 90) == 0.91
    assert ema_decay_at(0.999, 10**6) == 0.999


def test_update_is_the_moving_average_and_copies_buffers() -> None:
    G = _net()
    avg = GeneratorAverage(G, 0.9)
    start = [p.detach().clone() for p in avg.module.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
    G.train()(torch.randn(2, 3, 8, 8))  # moves the running statistics
    avg.update(G, 1000)  # not an EVERY-th step: nothing changes
    assert all(torch.equal(a, s) for a, s in zip(avg.module.parameters(), start, strict=True))
    avg.update(G, 1000 * EVERY - 1)
    d = 0.9 ** EVERY
    for a, s, g in zip(avg.module.parameters(), start, G.parameters(), strict=True):
        assert torch.allclose(a, d * s + (1 - d) * g)
        assert not a.requires_grad
    for b_avg, b in zip(avg.module.buffers(), G.buffers(), strict=True):
        assert torch.equal(b_avg, b)
    assert not avg.module.training


def test_average_is_a_copy_not_a_view() -> None:
    G = _net()
    avg = GeneratorAverage(G, 0.99)
    with torch.no_grad():
        next(G.parameters()).add_(5.0)
    assert not torch.equal(next(avg.module.parameters()), next(G.parameters()))
