"""Class-balanced L1 for rendered maps: rare map classes weigh more in the pixel loss.

A rendered map is mostly background and building fill; the classes a user looks for first
(highways, water, parks) cover a few percent of the pixels or less. A plain L1 averages over
pixels, so those classes hardly move it and are learnt last, if at all (the shares on maps256, and
what the CPU recipe drew without the weights, are in ``bench/README.md``).

With a palette (the one ``geopix evaluate --palette`` reads) every target pixel takes the class of
its nearest palette colour, compared in the network's [-1, 1] space, and its L1 is weighted by
``w_c = f_c ** -power`` where ``f_c`` is the class's share of the training targets, estimated once
from a sample of training windows. The weights are scaled so that the expected weight over the
training pixels is 1 (the loss keeps its scale, so ``lambda_l1`` keeps its meaning) and capped at
``cap`` so a class seen in a handful of pixels cannot take over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from geo_pix2pix.evaluation.palette import Palette
from geo_pix2pix.tiles.encoding.classes import ClassTable, nearest_colour_classes
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.pairs.dataset import N_AUGMENT, PairWindowDataset

__all__ = ["ClassBalance", "class_balance", "categorical_class_weights", "frequency_weights", "palette_centers",
           "require_rgb", "palette_balance", "categorical_balance"]

log = logging.getLogger(__name__)


def require_rgb(bands: int) -> None:
    """Refuse a map that is not RGB: a palette holds RGB colours.

    Raises:
        GeopixError: if ``bands`` is not 3.
    """
    if bands != 3:
        raise GeopixError(f"--balance-palette needs an RGB (3-band) map; the target has {bands} band(s)")


def palette_centers(palette: Palette, stats: BandStats) -> np.ndarray:
    """``(K, 3)`` palette colours in the network's target space (normalised as the map raster).

    Raises:
        GeopixError: if the map is not a 3-band raster.
    """
    require_rgb(stats.bands)
    centers = stats.normalize(palette.colors.T.reshape(3, -1, 1))[:, :, 0].T
    return np.ascontiguousarray(centers, np.float32)


@dataclass(frozen=True)
class ClassBalance:
    """Per-class L1 weights and the palette colours they are looked up by.

    Attributes:
        classes: class names, in the palette's order.
        frequency: each class's share of the sampled training target pixels.
        weights: the L1 weight of each class.
        centers: ``(K, C)`` palette colours in the network's target space.
        color_class: ``(K,)`` class of each colour.
    """

    classes: tuple[str, ...]
    frequency: tuple[float, ...]
    weights: tuple[float, ...]
    centers: np.ndarray
    color_class: np.ndarray

    def classify(self, target: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` targets in [-1, 1] -> ``(N, H, W)`` class indexes (nearest colour,
        :func:`~geo_pix2pix.tiles.encoding.classes.nearest_colour_classes`)."""
        c = torch.as_tensor(self.centers, dtype=torch.float32, device=target.device)
        owner = torch.as_tensor(self.color_class, dtype=torch.long, device=target.device)
        return nearest_colour_classes(target, c, owner)

    def pixel_weights(self, target: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` targets -> ``(N, 1, H, W)`` L1 weights."""
        w = torch.as_tensor(self.weights, dtype=torch.float32, device=target.device)
        return w[self.classify(target)].unsqueeze(1)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return weight_record(self.classes, self.frequency, self.weights)


def weight_record(names: tuple[str, ...], frequency: tuple[float, ...], weights: tuple[float, ...]
                  ) -> dict[str, dict[str, float]]:
    """``{class: {"frequency", "weight"}}``, rounded, as the run records class weights."""
    return {n: {"frequency": round(f, 6), "weight": round(w, 4)}
            for n, f, w in zip(names, frequency, weights, strict=True)}


def class_balance(palette: Palette, stats: BandStats, targets: np.ndarray, valid: np.ndarray | None = None,
                  power: float = 0.5, cap: float = 10.0) -> ClassBalance:
    """Weights from a sample of training targets.

    Args:
        palette: the map's classes and colours (RGB, 0..255 in the map raster's values).
        stats: the map raster's normalisation (to put the colours in the network's space).
        targets: ``(N, C, H, W)`` normalised training targets.
        valid: ``(N, 1, H, W)`` pixels to count (default: all).
        power: 0 is the plain L1; 0.5 the inverse square root of the frequency; 1 inverse frequency.
        cap: largest weight.

    Raises:
        GeopixError: if the map is not a 3-band raster (a palette holds RGB colours).
    """
    require_rgb(targets.shape[1])
    bal = ClassBalance(palette.classes, (), (), palette_centers(palette, stats), palette.color_class)
    cls = bal.classify(torch.from_numpy(targets)).numpy()
    mask = np.ones(cls.shape, bool) if valid is None else valid[:, 0].astype(bool)
    counts = np.bincount(cls[mask], minlength=len(palette.classes)).astype(np.float64)
    freq, weights = frequency_weights(counts, power, cap)
    return ClassBalance(palette.classes, freq, weights, bal.centers, palette.color_class)


def frequency_weights(counts: np.ndarray, power: float = 0.5, cap: float = 10.0
                      ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Class shares and weights ``f_c ** -power``, scaled to an expected weight of 1 over the
    counted pixels and capped at ``cap`` (a class absent from the sample gets ``cap``)."""
    counts = np.asarray(counts, np.float64)
    freq = counts / max(counts.sum(), 1.0)
    raw = np.where(freq > 0, np.maximum(freq, 1e-12) ** -power, 0.0)
    scale = (freq * raw).sum()
    weights = np.minimum(raw / scale, cap) if scale > 0 else np.ones_like(raw)
    weights = np.where(freq > 0, weights, cap)  # a class absent from the sample: as rare as allowed
    return tuple(map(float, freq)), tuple(map(float, weights))


def categorical_class_weights(targets: np.ndarray, valid: np.ndarray, power: float = 0.5,
                              cap: float = 10.0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Class shares and cross-entropy weights of a categorical map from a sample of one-hot
    training targets ``(N, K, H, W)`` and their validity ``(N, 1, H, W)``."""
    k = targets.shape[1]
    cls = targets.argmax(1)[valid[:, 0].astype(bool)]
    return frequency_weights(np.bincount(cls, minlength=k), power, cap)


def _sample_targets(ds: PairWindowDataset, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Targets and validity of up to 128 training windows spread over the candidates (no
    augmentation needed: flips do not change class frequencies)."""
    n = len(ds.index)
    keys = [i * N_AUGMENT for i in range(0, n, max(1, n // 128))][:128]
    items = [ds[k] for k in keys]
    return np.stack([it[b] for it in items]), np.stack([it["valid"] for it in items])


def palette_balance(palette: Palette, ds: PairWindowDataset, b: str, stats: BandStats,
                    power: float) -> ClassBalance:
    """Class weights of a rendered map's L1, by the palette's classes, from training windows."""
    targets, valid = _sample_targets(ds, b)
    bal = class_balance(palette, stats, targets, valid, power)
    log.info("class-balanced L1: %s", ", ".join(f"{n} {v['frequency']:.1%} x{v['weight']:.2f}"
                                                for n, v in bal.to_dict().items()))
    return bal


def categorical_balance(table: ClassTable, ds: PairWindowDataset, b: str, power: float
                        ) -> tuple[tuple[float, ...], dict[str, dict[str, float]]]:
    """Cross-entropy weights of a categorical map's classes from training windows, and their record."""
    targets, valid = _sample_targets(ds, b)
    freq, weights = categorical_class_weights(targets, valid, power)
    record = weight_record(table.names, freq, weights)
    log.info("class-balanced cross-entropy: %s", ", ".join(f"{n} {v['frequency']:.1%} x{v['weight']:.2f}"
                                                          for n, v in record.items()))
    return weights, record
