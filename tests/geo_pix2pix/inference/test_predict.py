"""The predict function: eval-mode determinism and test-time augmentation (``tta``)."""

from __future__ import annotations

import numpy as np
import pytest

from geo_pix2pix.inference.predict import TTA_TRANSFORMS, Predictor
from geo_pix2pix.tiles.pairs.dataset import N_AUGMENT, dihedral


@pytest.fixture(scope="module")
def tiles() -> np.ndarray:
    return np.random.default_rng(5).uniform(-1, 1, (2, 3, 64, 64)).astype(np.float32)


def test_tta_output_is_equivariant_under_rotations_and_mirrors(tiny_model, tiles) -> None:
    """Rotating or mirroring the input rotates or mirrors the TTA output the same way (float32,
    so up to summation order); the plain generator's output is not (its filters are not symmetric)."""
    tta, plain = Predictor(tiny_model, "cpu", amp=False, tta=True), Predictor(tiny_model, "cpu", amp=False)
    assert TTA_TRANSFORMS == N_AUGMENT == 8
    base_tta, base_plain = tta(tiles), plain(tiles)
    plain_gaps = []
    for code in range(1, TTA_TRANSFORMS):
        moved = dihedral(tiles, code)
        np.testing.assert_allclose(tta(moved), dihedral(base_tta, code), atol=1e-5)
        plain_gaps.append(np.abs(plain(moved) - dihedral(base_plain, code)).max())
    assert min(plain_gaps) > 1e-3
    assert np.abs(base_tta - base_plain).max() > 1e-3  # the average is not the plain output


def test_tta_averages_the_eight_transformed_predictions(tiny_model, tiles) -> None:
    plain = Predictor(tiny_model, "cpu", amp=False)
    inverse = {c: next(k for k in range(8) if np.array_equal(dihedral(dihedral(tiles, c), k), tiles))
               for c in range(8)}
    expected = np.mean([dihedral(plain(dihedral(tiles, c)), inverse[c]) for c in range(8)], axis=0)
    got = Predictor(tiny_model, "cpu", amp=False, tta=True)(tiles)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got.shape == tiles.shape and got.dtype == np.float32


def test_tta_takes_non_square_windows(tiny_model) -> None:
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 64, 128)).astype(np.float32)
    y = Predictor(tiny_model, "cpu", amp=False, tta=True)(x)
    assert y.shape == (1, 3, 64, 128)
    np.testing.assert_allclose(Predictor(tiny_model, "cpu", amp=False, tta=True)(x[..., ::-1].copy()),
                               y[..., ::-1], atol=1e-5)
