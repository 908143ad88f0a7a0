"""The rule for masked input (``fill_masked_input``): valid pixels kept, masked ones from valid ones alone."""

from __future__ import annotations

import torch

from geo_pix2pix.models.prefill import fill_masked_input


def _case(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((2, 3, 32, 32), generator=g) * 2 - 1
    valid = torch.ones((2, 1, 32, 32), dtype=torch.bool)
    valid[:, :, :, :7] = False  # a collar
    valid[1, :, 10:20, 12:22] = False  # and a hole
    return x, valid


def test_values_under_the_mask_are_never_read_and_valid_pixels_are_kept() -> None:
    x, valid = _case()
    white = fill_masked_input(x.masked_fill(~valid, 1.0), valid)
    noise = fill_masked_input(torch.where(valid, x, torch.randn_like(x) * 50), valid)
    assert torch.equal(white, noise)
    assert torch.equal(white[valid.expand_as(x)], x[valid.expand_as(x)])
    inside = white[~valid.expand_as(x)]
    assert inside.abs().max() <= 1.0 and not torch.equal(inside, torch.ones_like(inside))  # filled, not left white


def test_class_layouts_read_no_class_where_masked() -> None:
    x, valid = _case(1)
    one_hot = torch.where(x > 0, 1.0, -1.0)
    out = fill_masked_input(one_hot, valid, classes=True)
    assert torch.equal(out[~valid.expand_as(x)], torch.full_like(out[~valid.expand_as(x)], -1.0))
    assert torch.equal(out[valid.expand_as(x)], one_hot[valid.expand_as(x)])


def test_nothing_to_fill_gives_the_input_itself() -> None:
    x, _ = _case(2)
    assert fill_masked_input(x, None) is x
    assert fill_masked_input(x, torch.ones((2, 1, 32, 32), dtype=torch.bool)) is x


def test_a_window_without_a_valid_pixel_is_filled_with_zeros() -> None:
    x, _ = _case(3)
    out = fill_masked_input(x, torch.zeros((2, 1, 32, 32), dtype=torch.bool))
    assert torch.equal(out, torch.zeros_like(x))
