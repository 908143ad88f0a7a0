"""Class-balanced L1: weights from class frequencies, looked up per pixel by nearest colour."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geo_pix2pix.evaluation.palette import load_palette
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.balance import class_balance
from geo_pix2pix.training.losses import masked_l1

U8 = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)


@pytest.fixture
def palette(tmp_path):
    p = tmp_path / "pal.json"
    p.write_text(json.dumps({"name": "t", "classes": [
        {"name": "bg", "colors": [[240, 240, 240], [230, 230, 220]]},
        {"name": "road", "colors": [[255, 160, 0]]},
        {"name": "water", "colors": [[0, 0, 255]]},
    ]}))
    return load_palette(p)


def _targets(rgb_of_rows: list[tuple[tuple[int, int, int], int]]) -> np.ndarray:
    """One 10x10 target whose rows are filled with the given colours, normalised to [-1, 1]."""
    img = np.zeros((3, 10, 10), np.float32)
    r = 0
    for rgb, n in rgb_of_rows:
        img[:, r:r + n] = np.asarray(rgb, np.float32)[:, None, None]
        r += n
    return U8.normalize(img)[None]


def test_weights_follow_inverse_square_root_frequency(palette) -> None:
    # 90% near-background shades (two of its colours, slightly off), 10% near-road orange
    t = _targets([((238, 241, 239), 5), ((231, 229, 222), 4), ((250, 158, 10), 1)])
    bal = class_balance(palette, U8, t)
    np.testing.assert_allclose(bal.frequency, [0.9, 0.1, 0.0], atol=1e-9)
    raw = np.array([0.9 ** -0.5, 0.1 ** -0.5])
    np.testing.assert_allclose(bal.weights[:2], raw / (0.9 * raw[0] + 0.1 * raw[1]), rtol=1e-6)
    assert 0.9 * bal.weights[0] + 0.1 * bal.weights[1] == pytest.approx(1.0)  # the loss keeps its scale
    assert bal.weights[2] == 10.0  # absent from the sample: the cap
    w = bal.pixel_weights(torch.from_numpy(t))[0, 0]
    assert torch.allclose(w[:9], torch.tensor(bal.weights[0], dtype=torch.float32))
    assert torch.allclose(w[9], torch.tensor(bal.weights[1], dtype=torch.float32))


def test_power_zero_is_the_plain_l1_and_the_cap_holds(palette) -> None:
    t = _targets([((240, 240, 240), 9), ((250, 158, 10), 1)])
    assert class_balance(palette, U8, t, power=0.0).weights[:2] == pytest.approx((1.0, 1.0))
    capped = class_balance(palette, U8, t, power=3.0, cap=4.0)
    assert max(capped.weights[:2]) == 4.0


def test_valid_mask_excludes_pixels(palette) -> None:
    t = _targets([((240, 240, 240), 5), ((250, 158, 10), 5)])
    valid = np.zeros((1, 1, 10, 10), bool)
    valid[..., :5, :] = True  # only the background half counts
    assert class_balance(palette, U8, t, valid).frequency[:2] == pytest.approx((1.0, 0.0))


def test_non_rgb_target_is_refused(palette) -> None:
    with pytest.raises(GeopixError, match="RGB"):
        class_balance(palette, BandStats("uint8", (0.0,), (255.0,)), np.zeros((1, 1, 4, 4), np.float32))


def test_masked_l1_weight_multiplies_pixel_weights() -> None:
    real = torch.zeros(1, 3, 2, 2)
    fake = real.clone()
    fake[0, :, 0, 0] = 1.0  # one wrong pixel
    valid = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    plain = masked_l1(fake, real, valid)
    weight = torch.ones(1, 1, 2, 2)
    weight[0, 0, 0, 0] = 3.0
    # weighted mean: 3 * 1 / (3 + 1 + 1 + 1) against 1 / 4
    assert float(masked_l1(fake, real, valid, weight=weight)) == pytest.approx(3 / 6)
    assert float(plain) == pytest.approx(1 / 4)

