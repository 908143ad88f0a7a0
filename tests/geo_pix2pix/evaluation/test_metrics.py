"""PSNR and SSIM inside holes: one rule for training's validation and geopix evaluate."""

from __future__ import annotations

import numpy as np
import pytest

from geo_pix2pix.evaluation.fill_scores import score_fill
from geo_pix2pix.evaluation.metrics import PSNR_CAP, HoleAccumulator, hole_scores, psnr


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, (3, 32, 32)).astype(np.uint8)
    holes = np.zeros((32, 32), bool)
    holes[8:20, 10:24] = True
    filled = truth.copy()
    filled[:, holes] = np.clip(truth[:, holes].astype(int) + rng.integers(-30, 31, (3, int(holes.sum()))), 0, 255)
    return truth, filled, holes


def test_training_validation_and_evaluate_score_holes_alike() -> None:
    truth, filled, holes = _scene()
    valid = np.ones_like(holes)
    _, p, s = score_fill(filled, truth, holes, valid)
    real, fake = truth / 255.0, filled / 255.0
    assert (p, s) == hole_scores(real, fake, holes)
    acc = HoleAccumulator()
    acc.add(fake[None] * 2 - 1, real[None] * 2 - 1, holes[None, None])
    m = acc.result()
    assert m.PSNR == pytest.approx(p, rel=1e-12) and m.SSIM == pytest.approx(s, rel=1e-12)
    assert 10 < p < 40 and 0 < s < 1  # a noisy fill: neither perfect nor nothing


def test_an_exact_fill_and_a_near_exact_one_score_the_cap() -> None:
    truth, _, holes = _scene(1)
    valid = np.ones_like(holes)
    assert score_fill(truth, truth, holes, valid)[1] == PSNR_CAP
    assert psnr(0.0) == psnr(1e-11) == PSNR_CAP  # evaluate said 110 dB here, validation 100
    assert psnr(1e-3) == pytest.approx(30.0)
    assert psnr(10 ** -9.5) == pytest.approx(95.0)
