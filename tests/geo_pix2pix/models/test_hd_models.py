"""Pix2PixHD generator (shapes, tile multiple, fixed-global phase, load_global) and VGG19 loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torchvision.models import resnet18, vgg19

from geo_pix2pix.models.hd_generator import HDGenerator, ResnetBlock
from geo_pix2pix.models.unet import init_weights
from geo_pix2pix.models.vgg import VGGLoss, VGGWeightsError, check_vgg_weights, load_vgg19_features
from geo_pix2pix.tiles.errors import GeopixError, TileSizeError


def tiny(n_local: int, ngf: int = 4, **kw: object) -> HDGenerator:
    torch.manual_seed(0)
    g = HDGenerator(3, 2, ngf=ngf, n_downsample=2, n_blocks=1, n_local_enhancers=n_local, n_blocks_local=1,
                    **kw)  # type: ignore[arg-type]
    init_weights(g)
    return g


@pytest.mark.parametrize(("n_local", "multiple"), [(0, 4), (1, 8), (2, 16)])
def test_output_shapes_range_and_multiple(n_local: int, multiple: int) -> None:
    g = tiny(n_local)
    assert g.multiple == multiple
    assert len(getattr(g, "enhancers", [])) == n_local
    for side in (32, 48):  # fully convolutional: any multiple, two sizes, non-square too
        y = g(torch.randn(2, 3, side, 32))
        assert y.shape == (2, 2, side, 32)
        assert y.abs().max() <= 1.0


def test_widths_halve_from_global_to_finest_enhancer() -> None:
    g = tiny(2, ngf=4)
    assert g.global_body[1].out_channels == 16  # ngf * 2**n_local_enhancers
    assert [e.down[1].out_channels for e in g.enhancers] == [8, 4]  # coarse to fine
    assert g.head[1].in_channels == 4
    assert tiny(0, ngf=4).head[1].in_channels == 4
    with torch.device("meta"):  # the defaults, without allocating them
        assert HDGenerator(3, 3).multiple == 32


def test_tile_that_is_not_a_multiple_and_bad_arguments_are_refused() -> None:
    with pytest.raises(TileSizeError, match="multiples of 8"):
        tiny(1)(torch.randn(1, 3, 36, 32))
    for kw in ({"n_downsample": 0}, {"n_blocks": -1}, {"n_local_enhancers": -1}, {"norm": "group"}):
        with pytest.raises(GeopixError):
            HDGenerator(3, 3, **kw)  # type: ignore[arg-type]


def test_resnet_block_is_residual() -> None:
    block = ResnetBlock(4, "instance")
    for p in block.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(1, 4, 8, 8)
    assert torch.equal(block(x), x)


def test_fixed_global_phase_trains_only_the_enhancers() -> None:
    g = tiny(1)
    for p in g.global_parameters():
        p.requires_grad_(False)
    before_global = {k: v.clone() for k, v in g.global_body.state_dict().items()}
    before_enh = {k: v.clone() for k, v in g.enhancers.state_dict().items()}
    opt = torch.optim.Adam([p for p in g.parameters() if p.requires_grad], lr=1e-2)
    x, target = torch.randn(2, 3, 32, 32), torch.rand(2, 2, 32, 32) * 2 - 1
    F.l1_loss(g(x), target).backward()
    opt.step()
    assert all(torch.equal(v, before_global[k]) for k, v in g.global_body.state_dict().items())
    assert all(p.grad is None for p in g.global_parameters())
    changed = [k for k, v in g.enhancers.state_dict().items() if not torch.equal(v, before_enh[k])]
    assert len(changed) == len(before_enh)  # every enhancer tensor moved


def test_load_global_copies_the_global_body_and_drops_the_head() -> None:
    torch.manual_seed(1)
    coarse = tiny(0, ngf=8)
    fine = tiny(1, ngf=4)
    fine.load_global(coarse.state_dict())
    theirs = coarse.global_body.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in fine.global_body.state_dict().items())
    y = fine(torch.randn(1, 3, 32, 32))  # still runs: the enhancer feeds on the global's features
    assert y.shape == (1, 2, 32, 32)


@pytest.mark.parametrize(("source", "match"), [
    (lambda: tiny(0, ngf=4), "has ngf 4 but this local enhancer needs a global of ngf 8"),
    (lambda: HDGenerator(3, 2, ngf=8, n_downsample=3, n_blocks=1, n_local_enhancers=0), "3 downsamplings"),
    (lambda: HDGenerator(3, 2, ngf=8, n_downsample=2, n_blocks=2, n_local_enhancers=0), "2 residual blocks"),
    (lambda: HDGenerator(4, 2, ngf=8, n_downsample=2, n_blocks=1, n_local_enhancers=0), "4 input bands"),
    (lambda: tiny(0, ngf=8, norm="batch"), "uses batch norm"),
    (lambda: tiny(1, ngf=8), "has local enhancers"),
])
def test_load_global_refuses_what_does_not_fit(source: object, match: str) -> None:
    fine = tiny(1, ngf=4)
    state = source().state_dict()  # type: ignore[operator]
    with pytest.raises(GeopixError, match=match) as info:
        fine.load_global(state)
    assert "\n" not in str(info.value)


def test_load_global_refuses_other_state_dicts() -> None:
    with pytest.raises(GeopixError, match="no global_body"):
        tiny(1).load_global({"model.1.weight": torch.zeros(1)})


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One random-init torchvision VGG19 (nothing downloaded), saved as .pth (full) and .safetensors (features)."""
    d = tmp_path_factory.mktemp("vgg")
    torch.manual_seed(0)
    model = vgg19(weights=None)
    files = {"pth": d / "vgg19.pth", "safetensors": d / "vgg19_features.safetensors"}
    torch.save(model.state_dict(), files["pth"])
    save_file({k: v.contiguous() for k, v in model.features.state_dict().items()}, str(files["safetensors"]))
    del model
    return files


@pytest.fixture(scope="module")
def vgg_loss(vgg_files: dict[str, Path]) -> VGGLoss:
    return VGGLoss(load_vgg19_features(vgg_files["pth"]))


def test_vgg_weights_load_from_both_layouts_frozen(vgg_files: dict[str, Path]) -> None:
    a = load_vgg19_features(vgg_files["pth"])
    b = load_vgg19_features(vgg_files["safetensors"])
    check_vgg_weights(vgg_files["safetensors"])
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not a.training and not any(p.requires_grad for p in a.parameters())
    assert all(v.dtype == torch.float32 for v in sa.values())


def test_vgg_loss_zero_for_identical_and_positive_otherwise(vgg_loss: VGGLoss) -> None:
    torch.manual_seed(2)
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    assert vgg_loss(real, real.clone()).item() == 0.0
    fake = (real + 0.1 * torch.randn_like(real)).clamp(-1, 1).requires_grad_(True)
    loss = vgg_loss(fake, real)
    assert loss.dtype == torch.float32 and loss.item() > 0
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in vgg_loss.parameters())


def test_vgg_loss_refuses_non_rgb_output(vgg_loss: VGGLoss) -> None:
    x = torch.zeros(1, 1, 32, 32)
    with pytest.raises(GeopixError, match=r"needs 3-band .* outputs 1 bands"):
        vgg_loss(x, x)


def test_bad_vgg_weights_are_refused(tmp_path: Path, vgg_files: dict[str, Path]) -> None:
    with pytest.raises(VGGWeightsError, match="no such file"):
        check_vgg_weights(tmp_path / "missing.pth")
    for name in ("noise.pth", "noise.safetensors"):
        (tmp_path / name).write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
        with pytest.raises(VGGWeightsError, match="cannot be read"):
            check_vgg_weights(tmp_path / name)
    torch.save(resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(VGGWeightsError, match=r"not a VGG19 state dict .* missing features\.0\.weight"):
        check_vgg_weights(tmp_path / "resnet18.pth")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(VGGWeightsError, match="not a state dict"):
        check_vgg_weights(tmp_path / "list.pt")
    state = load_file(str(vgg_files["safetensors"]))
    state["28.weight"] = torch.zeros(512, 512, 1, 1)
    save_file(state, str(tmp_path / "wrong_shape.safetensors"))
    with pytest.raises(VGGWeightsError, match=r"features.28.weight has shape \(512, 512, 1, 1\), expected"):
        check_vgg_weights(tmp_path / "wrong_shape.safetensors")
