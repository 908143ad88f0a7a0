"""The device plan: precision and memory layout chosen for the hardware at hand."""

from __future__ import annotations

import pytest
import torch

from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.runtime.device import cpu_has_native_bf16, plan_device
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.objective import Batch, Networks, Objective
from geo_pix2pix.training.step import gan_step, make_optimisers, place


def test_cpu_plan_uses_bf16_only_where_the_cpu_computes_it() -> None:
    plan = plan_device("cpu")
    assert plan.amp_dtype == (torch.bfloat16 if cpu_has_native_bf16() else None)
    assert plan_device("cpu", amp=False).amp_dtype is None
    assert plan_device("cpu", amp=False).autocast() is None
    assert not plan.channels_last and plan_device("cpu", inference=True).channels_last


def test_unknown_or_missing_devices_are_one_line_errors() -> None:
    with pytest.raises(GeopixError, match="unknown device"):
        plan_device("tpu:0")
    if not torch.cuda.is_available():
        with pytest.raises(GeopixError, match="no CUDA GPU"):
            plan_device("cuda")


@pytest.mark.parametrize("amp", [False, True])
def test_a_training_step_under_the_plan_learns_and_keeps_float32_weights(amp: bool) -> None:
    plan = plan_device("cpu", amp=amp)
    torch.manual_seed(0)
    G = place(build_generator(GeneratorConfig(tile=32, ngf=8)), plan)
    D = place(build_discriminator(DiscriminatorConfig(in_channels=6, ndf=8)), plan)
    nets, opts = Networks(G, D), make_optimisers(G, D, plan, 2e-3, (0.5, 0.999))
    assert all(g.get("fused") for g in opts.G.param_groups)  # one fused Adam kernel on the CPU
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    b = -a  # a simple function to learn
    valid = torch.ones(2, 1, 32, 32, dtype=torch.bool)
    first = gan_step(nets, opts, Batch(a, b, valid), Objective(), plan.autocast())["G_L1"]
    for _ in range(30):
        last = gan_step(nets, opts, Batch(a, b, valid), Objective(), plan.autocast())["G_L1"]
    assert last < 0.8 * first
    assert all(p.dtype == torch.float32 for p in G.parameters())
