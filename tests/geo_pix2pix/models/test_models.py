"""Generators and discriminators: shapes, parameter counts, receptive fields, smp errors."""

from __future__ import annotations

import pytest
import torch

from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.models.patchgan import receptive_field
from geo_pix2pix.models.unet import unet_depth
from geo_pix2pix.tiles.errors import GeopixError, TileSizeError


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_paper_unet_and_patchgan_parameter_counts() -> None:
    # The reference implementation prints "54.414 M" for unet_256 (batch norm, 3->3 channels)
    # and "2.769 M" for the basic 3-layer discriminator on 3+3 channels.
    assert n_params(build_generator(GeneratorConfig())) == 54_413_955
    assert n_params(build_discriminator(DiscriminatorConfig(in_channels=6))) == 2_768_705


@pytest.mark.parametrize(("tile", "downs"), [(64, 6), (96, 5), (128, 7), (256, 8), (512, 8)])
def test_unet_shapes_for_tile_sizes(tile: int, downs: int) -> None:
    assert unet_depth(tile) == downs
    g = build_generator(GeneratorConfig(in_channels=4, out_channels=1, tile=tile, ngf=8)).eval()
    with torch.no_grad():
        y = g(torch.randn(2, 4, tile, tile))
    assert y.shape == (2, 1, tile, tile)
    assert y.abs().max() <= 1.0  # Tanh output


def test_unet_dropout_sits_next_to_the_bottleneck() -> None:
    g = build_generator(GeneratorConfig(tile=256))
    assert sum(isinstance(m, torch.nn.Dropout) for m in g.modules()) == 3
    assert sum(isinstance(m, torch.nn.Dropout) for m in build_generator(GeneratorConfig(tile=64, ngf=8)).modules()) == 1


def test_unet_refuses_tiles_it_cannot_take() -> None:
    with pytest.raises(TileSizeError, match="multiple of 32"):
        unet_depth(100)


def _bottleneck_side(g: torch.nn.Module, tile: int) -> int:
    """Side of the innermost feature map the U-Net computes for a ``tile``-pixel input."""
    sides: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sides.append(out.shape[-1]))
             for m in g.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        g(torch.randn(1, 3, tile, tile))
    for h in hooks:
        h.remove()
    return min(sides)


def test_a_fixed_unet_depth_keeps_a_bottleneck_of_several_cells() -> None:
    # --unet-depth 5 on 128-pixel windows: 4x4 cells at the bottleneck instead of 1x1, a stride
    # product of 32 (translate takes any multiple of 32), and far fewer weights (two levels less).
    auto = build_generator(GeneratorConfig(tile=128, ngf=8)).eval()
    five = build_generator(GeneratorConfig(tile=128, ngf=8, depth=5)).eval()
    assert (_bottleneck_side(auto, 128), _bottleneck_side(five, 128)) == (1, 4)
    assert (auto.multiple, five.multiple) == (128, 32)
    assert n_params(five) < n_params(auto)
    with torch.no_grad():
        assert five(torch.randn(1, 3, 96, 96)).shape == (1, 3, 96, 96)


def test_unet_shape_round_trips_and_old_files_stay_as_they_were() -> None:
    d = GeneratorConfig(tile=128).to_dict()
    assert "depth" not in d and "upsample" not in d  # the paper's shape: files unchanged
    five = GeneratorConfig(tile=128, depth=5, upsample="resize")
    assert GeneratorConfig.from_dict(five.to_dict()) == five
    assert GeneratorConfig.from_dict({"tile": 128}) == GeneratorConfig(tile=128)


def test_resize_upsampling_turns_flat_imagery_into_a_flat_map() -> None:
    # A uniform field (a lake, a bare field) far from the tile's edges: resize-convolutions give
    # each output channel one value; the paper's transposed convolutions give a repeating pattern
    # (even and odd pixels see different kernel taps), the checkerboard a model can learn to draw.
    torch.manual_seed(0)
    spread = {}
    for up in ("transposed", "resize"):
        g = build_generator(GeneratorConfig(tile=128, ngf=8, depth=5, upsample=up)).eval()
        with torch.no_grad():
            y = g(torch.full((1, 3, 512, 512), 0.3))[0, :, 192:320, 192:320]  # 192 px from the edges
        spread[up] = float(y.flatten(1).std(1).max())
    assert spread["resize"] < 1e-6 < 1e-3 < spread["transposed"]


@pytest.mark.parametrize(("tile", "depth", "message"), [(128, 4, "5 to 8"), (128, 9, "5 to 8"),
                                                        (128, 8, "multiple of 256"), (96, 6, "multiple of 64")])
def test_unet_refuses_a_depth_it_cannot_build(tile: int, depth: int, message: str) -> None:
    with pytest.raises(TileSizeError, match=message):
        unet_depth(tile, depth)


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4])
def test_patchgan_receptive_field(n_layers: int) -> None:
    # Batch norm in eval mode uses running statistics, so no pixel mixes with far-away pixels.
    d = build_discriminator(DiscriminatorConfig(in_channels=2, n_layers=n_layers, ndf=8, norm="batch")).eval()
    x = torch.randn(1, 2, 256, 256, requires_grad=True)
    out = d(x)[0][-1]  # scale 0's logits
    i, j = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, 0, i, j].backward()
    g = x.grad.abs().sum(dim=(0, 1))
    rows = torch.nonzero(g.sum(1)).flatten()
    cols = torch.nonzero(g.sum(0)).flatten()
    assert int(rows.max() - rows.min() + 1) == receptive_field(n_layers)
    assert int(cols.max() - cols.min() + 1) == receptive_field(n_layers)
    assert [receptive_field(n) for n in (1, 2, 3, 4)] == [16, 34, 70, 142]


def test_patchgan_logit_map_and_spectral_norm() -> None:
    d = build_discriminator(DiscriminatorConfig(in_channels=6))
    assert d(torch.zeros(1, 6, 256, 256))[0][-1].shape == (1, 1, 30, 30)
    ds = build_discriminator(DiscriminatorConfig(in_channels=6, norm="spectral", ndf=8))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in ds.modules())
    assert ds(torch.zeros(1, 6, 64, 64))[0][-1].shape == (1, 1, 6, 6)


@pytest.mark.parametrize("num_d", [1, 2, 3])
def test_multiscale_discriminator_returns_features_and_logits_per_scale(num_d: int) -> None:
    d = build_discriminator(DiscriminatorConfig(in_channels=6, ndf=8, n_layers=3, num_d=num_d)).eval()
    outs = d(torch.zeros(2, 6, 256, 256))
    assert len(outs) == num_d
    # per scale: n_layers + 1 intermediate maps (after each LeakyReLU), then the logits
    expected = [[(2, 8, 128, 128), (2, 16, 64, 64), (2, 32, 32, 32), (2, 64, 31, 31), (2, 1, 30, 30)],
                [(2, 8, 64, 64), (2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 15, 15), (2, 1, 14, 14)],
                [(2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 7, 7), (2, 1, 6, 6)]]
    assert [[tuple(t.shape) for t in scale] for scale in outs] == expected[:num_d]
    # scale k sees the input average-pooled k times: a constant input stays constant
    x = torch.full((1, 6, 64, 64), 0.3)
    pooled = d.pool(d.pool(x))
    assert pooled.shape[-1] == 16 and torch.allclose(pooled, x[..., :16, :16])


def test_one_scale_discriminator_loads_a_state_dict_from_before_scales() -> None:
    from geo_pix2pix.models.patchgan import PatchGAN
    from geo_pix2pix.models.registry import upgrade_discriminator_state

    old = PatchGAN(6, 8, 3, "batch").state_dict()  # keys model.* as checkpoints before multi-scale D
    d = build_discriminator(DiscriminatorConfig(in_channels=6, ndf=8))
    d.load_state_dict(upgrade_discriminator_state(old))
    assert torch.equal(d.scales[0].model[0].weight, old["model.0.weight"])


def test_smp_generator_any_bands_and_local_encoder_weights(tmp_path) -> None:
    from safetensors.torch import save_file

    g = build_generator(GeneratorConfig(name="smp:resnet18", in_channels=4, out_channels=2, tile=64))
    y = g(torch.randn(1, 4, 64, 64))
    assert y.shape == (1, 2, 64, 64) and y.abs().max() <= 1.0
    weights = {k: v.clone() + 0.5 for k, v in g.unet.encoder.state_dict().items()}
    save_file(weights, str(tmp_path / "enc.safetensors"))
    g2 = build_generator(GeneratorConfig(name="smp:resnet18", in_channels=4, out_channels=2, tile=64,
                                         encoder_weights=str(tmp_path / "enc.safetensors")))
    torch.testing.assert_close(g2.unet.encoder.conv1.weight, weights["conv1.weight"])


def test_smp_unknown_encoder_lists_valid_names() -> None:
    with pytest.raises(GeopixError, match=r"unknown smp encoder 'resnet35'; valid names: .*resnet34"):
        build_generator(GeneratorConfig(name="smp:resnet35", tile=64))
    with pytest.raises(TileSizeError, match="multiple of 32"):
        build_generator(GeneratorConfig(name="smp:resnet18", tile=48))
