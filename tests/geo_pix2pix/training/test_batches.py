"""The generator's training input is filled where its own raster is masked, as translate fills it."""

from __future__ import annotations

import torch

from geo_pix2pix.training.batches import with_filled_input
from geo_pix2pix.training.objective import Batch


def _make(d, step, rank=0, world=1) -> Batch:
    return Batch(d["imagery"], d["maps"], d["valid"])


def _windows(under: float) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    imagery = torch.rand((2, 3, 32, 32), generator=g) * 2 - 1
    maps = torch.rand((2, 1, 32, 32), generator=g) * 2 - 1
    imagery_valid = torch.ones((2, 1, 32, 32), dtype=torch.bool)
    imagery_valid[:, :, :5] = False
    maps_valid = torch.ones_like(imagery_valid)
    maps_valid[:, :, :, -3:] = False
    return {"imagery": imagery.masked_fill(~imagery_valid, under), "maps": maps, "imagery_valid": imagery_valid,
            "maps_valid": maps_valid, "valid": imagery_valid & maps_valid}


def test_the_input_side_is_filled_from_its_own_mask_only() -> None:
    make = with_filled_input(_make, "imagery", classes=False)
    white, black = make(_windows(1.0), 0), make(_windows(-1.0), 0)
    assert torch.equal(white.real_A, black.real_A)  # what lay under the imagery's mask is gone
    raw = _windows(1.0)
    keep = raw["imagery_valid"].expand_as(raw["imagery"])
    assert torch.equal(white.real_A[keep], raw["imagery"][keep])
    assert torch.equal(white.real_B, raw["maps"]) and torch.equal(white.valid, raw["valid"])  # the target untouched


def test_windows_without_masked_input_pass_through() -> None:
    d = _windows(1.0)
    d["imagery_valid"] = torch.ones_like(d["imagery_valid"])
    assert with_filled_input(_make, "imagery", classes=False)(d, 0).real_A is d["imagery"]


def test_a_class_layout_input_reads_no_class_where_masked() -> None:
    d = _windows(1.0)
    d["maps"] = torch.where(d["maps"] > 0, 1.0, -1.0)

    def make(d, step, rank=0, world=1) -> Batch:
        return Batch(d["maps"], d["imagery"], d["valid"])

    got = with_filled_input(make, "maps", classes=True)(d, 0).real_A
    masked = ~d["maps_valid"]
    assert bool((got[masked] == -1).all()) and torch.equal(got[~masked], d["maps"][~masked])
