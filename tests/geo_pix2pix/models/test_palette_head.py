"""Palette head: per-colour logits -> palette-painted RGB, class logits, and its place in training."""

from __future__ import annotations

import pytest
import torch

from geo_pix2pix.files.modelfile import ModelMeta, load_model, save_model
from geo_pix2pix.models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from geo_pix2pix.models.palette_head import PaletteHead
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.objective import Batch, Networks, Objective
from geo_pix2pix.training.output_head import head_terms
from geo_pix2pix.training.step import Optimisers, gan_step

# three colours in [-1, 1]; the first two are shades of class 0, the third is class 1
COLORS = ((0.8, 0.8, 0.8), (0.7, 0.7, 0.6), (-0.5, 0.2, 1.0))
CLASSES = (0, 0, 1)
CFG = GeneratorConfig(tile=32, ngf=8, palette=COLORS, palette_classes=CLASSES)


def _head() -> PaletteHead:
    G = build_generator(CFG)
    assert isinstance(G, PaletteHead)
    return G


def test_paint_is_the_softmax_mix_and_a_dominant_logit_paints_its_colour() -> None:
    G = _head()
    z = torch.full((1, 3, 2, 2), -20.0)
    z[:, 2, 0, 0] = 20.0  # pixel (0, 0): colour 2
    z[:, 0, 1, 1] = z[:, 1, 1, 1] = 20.0  # pixel (1, 1): an even mix of colours 0 and 1
    rgb = G.paint(z)
    assert rgb[0, :, 0, 0].tolist() == pytest.approx(COLORS[2], abs=1e-6)
    assert rgb[0, :, 1, 1].tolist() == pytest.approx([0.75, 0.75, 0.7], abs=1e-6)


def test_class_logits_are_log_sum_exp_of_the_class_colours_and_targets_take_the_nearest() -> None:
    G = _head()
    z = torch.randn(2, 3, 4, 4) * 5
    cl = G.class_logits(z)
    assert cl.shape == (2, 2, 4, 4)
    torch.testing.assert_close(cl[:, 0], torch.logsumexp(z[:, :2], 1))
    torch.testing.assert_close(cl[:, 1], z[:, 2])
    target = torch.tensor(COLORS).T.reshape(1, 3, 1, 3) + 0.05  # each colour, slightly off
    assert G.target_classes(target).tolist() == [[[0, 0, 1]]]


def test_output_stays_in_the_palette_range_and_the_model_file_round_trips(tmp_path) -> None:
    G = _head().eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    y = G(x)
    assert y.shape == (1, 3, 32, 32)
    lo, hi = torch.tensor(COLORS).min(0).values, torch.tensor(COLORS).max(0).values
    assert ((y >= lo[None, :, None, None] - 1e-5) & (y <= hi[None, :, None, None] + 1e-5)).all()
    u8 = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
    meta = ModelMeta(CFG, "sat2map", (1, 2, 3), (1, 2, 3), u8, u8, 32, 5)
    save_model(tmp_path / "m.safetensors", G.state_dict(), meta)
    G2, meta2 = load_model(tmp_path / "m.safetensors")
    assert meta2.generator == CFG  # the palette is part of the architecture, rebuilt from the file
    with torch.no_grad():
        torch.testing.assert_close(G2.eval()(x), y)


def test_palette_needs_one_class_per_colour() -> None:
    with pytest.raises(GeopixError, match="one class per palette colour"):
        build_generator(GeneratorConfig(tile=32, ngf=8, palette=COLORS, palette_classes=(0, 1)))


def test_class_weight_enters_the_generator_loss() -> None:
    """The same step with and without the cross-entropy moves G differently."""
    after = []
    for w in (0.0, 5.0):
        torch.manual_seed(0)
        G = _head()
        D = build_discriminator(DiscriminatorConfig(in_channels=6, ndf=8))
        nets = Networks(G, D, head=G)
        opts = Optimisers(torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3))
        torch.manual_seed(1)
        a = torch.rand(2, 3, 32, 32) * 2 - 1
        b = torch.tensor(COLORS)[torch.randint(0, 3, (2, 32, 32))].permute(0, 3, 1, 2).contiguous()
        objective = Objective(terms=head_terms(G, w))
        losses = gan_step(nets, opts, Batch(a, b, torch.ones(2, 1, 32, 32, dtype=torch.bool)), objective)
        assert ("G_CE" in losses) == (w > 0)
        after.append([p.detach().clone() for p in G.parameters()])
    assert any(not torch.equal(p, q) for p, q in zip(*after, strict=True))


def test_head_balance_and_numpy_classify_by_the_one_rule() -> None:
    """The palette head's targets, the class-balanced L1 and the numpy callers (metrics,
    translate --palette) share nearest_colour_classes; on integer RGB torch and numpy agree
    exactly, and in the normalised space the head and the balance agree."""
    import numpy as np

    from geo_pix2pix.evaluation.palette import Palette
    from geo_pix2pix.tiles.encoding.classes import nearest_colour_classes
    from geo_pix2pix.training.balance import ClassBalance

    rng = np.random.default_rng(1)
    colors = rng.integers(0, 256, (6, 3)).astype(np.float32)
    owner = np.array([0, 0, 1, 1, 2, 3])
    rgb = rng.integers(0, 256, (2, 3, 16, 16)).astype(np.uint8)
    pal = Palette("p", ("a", "b", "c", "d"), colors, owner)
    numpy_classes = np.stack([pal.classify(x) for x in rgb])
    torch_classes = nearest_colour_classes(torch.from_numpy(rgb), torch.from_numpy(colors), torch.from_numpy(owner))
    assert (torch_classes.numpy() == numpy_classes).all()

    target = torch.rand(2, 3, 8, 8) * 2 - 1
    bal = ClassBalance(("a", "b"), (), (), np.asarray(COLORS, np.float32), np.asarray(CLASSES))
    assert torch.equal(_head().target_classes(target), bal.classify(target))
