"""Image metrics of translations: L1, PSNR, SSIM and the maps pixel accuracy.

All metrics compare images scaled to [0, 1] (network outputs and targets in [-1, 1] map by
``(x + 1) / 2``), over valid pixels for L1 and accuracy. PSNR and SSIM come from scikit-image
(data range 1, SSIM with its default 7x7 window, channels averaged), so figures match the
literature's implementations. The pixel accuracy counts a pixel correct when every channel
differs by less than 5 of 255 levels: the aerial -> map accuracy of Fu et al. (GcGAN, CVPR 2019,
threshold 5), not a metric of the pix2pix paper, whose maps results are a perceptual study.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["HoleAccumulator", "ImageMetrics", "MetricAccumulator", "ValueAccumulator", "units_mae",
           "ACCURACY_THRESHOLD", "PSNR_CAP", "VALUE_BANDS", "psnr", "hole_scores"]

#: A pixel is correct when its largest channel difference is below 5/255.
ACCURACY_THRESHOLD = 5.0 / 255.0
#: Every PSNR geopix reports is capped here (dB): an exact image has an infinite PSNR, which would
#: make any mean over images infinite.
PSNR_CAP = 100.0


def psnr(mse: float) -> float:
    """PSNR in dB of a mean squared error of values in [0, 1], capped at :data:`PSNR_CAP` (an
    error at or below ``10 ** (-PSNR_CAP / 10)``, an exact fill included, scores the cap)."""
    if mse <= 10 ** (-PSNR_CAP / 10):
        return PSNR_CAP
    return min(PSNR_CAP, 10 * float(np.log10(1.0 / mse)))


def hole_scores(real: np.ndarray, fake: np.ndarray, inside: np.ndarray) -> tuple[float, float]:
    """PSNR and SSIM of ``fake`` against ``real`` (``(C, H, W)`` in [0, 1]) over the pixels
    ``inside`` (``(H, W)`` bool, at least one) only: the one rule for scoring filled holes.

    PSNR (:func:`psnr`) of the squared error pooled over those pixels and every channel; SSIM as
    the mean over them of the SSIM map (7x7 windows, data range 1, channels averaged per pixel).
    The whole image's SSIM would credit a fill with the pixels it kept, and its windows still see
    the hole's surroundings, so a fill that breaks an edge at the hole's border is marked down.
    """
    from skimage.metrics import structural_similarity

    mse = float(((fake - real) ** 2)[:, inside].mean())
    _, smap = structural_similarity(real, fake, data_range=1.0, channel_axis=0, full=True)
    return psnr(mse), float(smap.mean(axis=0)[inside].mean())


@dataclass(frozen=True)
class ImageMetrics:
    """Means over images (PSNR, SSIM) and over valid pixels (L1, accuracy)."""

    L1: float
    PSNR: float
    SSIM: float
    pixel_accuracy: float
    images: int
    #: A class map's majority reference class and its share of the valid pixels: the accuracy of
    #: a map of that class everywhere, which the model's must beat (training's validation sets it).
    majority: tuple[str, float] | None = None

    def to_dict(self) -> dict[str, float]:
        return {"L1": self.L1, "PSNR": self.PSNR, "SSIM": self.SSIM,
                "pixel_accuracy": self.pixel_accuracy, "images": self.images}


class MetricAccumulator:
    """Add batches of predictions and targets; read :class:`ImageMetrics` at the end."""

    def __init__(self) -> None:
        self._abs = 0.0  # sum of |fake - real| over valid pixels and channels
        self._channel_pixels = 0  # valid pixels x channels
        self._pixels = 0  # valid pixels
        self._correct = 0  # valid pixels whose largest channel difference is below 5/255
        self._psnr: list[float] = []
        self._ssim: list[float] = []

    def add(self, fake: np.ndarray, real: np.ndarray, valid: np.ndarray) -> None:
        """``fake``, ``real``: ``(N, C, H, W)`` in [-1, 1]; ``valid``: ``(N, 1, H, W)`` bool."""
        f = (np.clip(fake, -1, 1).astype(np.float64) + 1) / 2
        r = (np.clip(real, -1, 1).astype(np.float64) + 1) / 2
        v = valid.astype(bool)
        diff = np.abs(f - r)
        self._abs += float((diff * v).sum())
        self._pixels += int(v.sum())
        self._channel_pixels += int(v.sum()) * f.shape[1]
        self._correct += int(((diff.max(axis=1, keepdims=True) < ACCURACY_THRESHOLD) & v).sum())
        for i in range(f.shape[0]):
            self._add_image(r[i], f[i], v[i])

    def _add_image(self, real: np.ndarray, fake: np.ndarray, valid: np.ndarray) -> None:
        """PSNR and SSIM of one ``(C, H, W)`` image in [0, 1] (``valid``: ``(1, H, W)``)."""
        from skimage.metrics import peak_signal_noise_ratio, structural_similarity

        if valid.mean() < 0.5:
            return  # mostly nodata: PSNR/SSIM would measure the fill value
        self._psnr.append(min(PSNR_CAP, float(peak_signal_noise_ratio(real, fake, data_range=1.0))))
        self._ssim.append(float(structural_similarity(real, fake, data_range=1.0, channel_axis=0)))

    def result(self) -> ImageMetrics:
        nan = float("nan")
        return ImageMetrics(
            L1=self._abs / self._channel_pixels if self._channel_pixels else nan,
            PSNR=float(np.mean(self._psnr)) if self._psnr else nan,
            SSIM=float(np.mean(self._ssim)) if self._ssim else nan,
            pixel_accuracy=self._correct / self._pixels if self._pixels else nan,
            images=len(self._psnr),
        )


class HoleAccumulator(MetricAccumulator):
    """:class:`ImageMetrics` of filled holes, inside the holes only (``valid``: the hole pixels with
    a known truth): L1 (the MAE in [0, 1] units), PSNR and SSIM by :func:`hole_scores` for each
    image, and the share of hole pixels within 5/255."""

    def _add_image(self, real: np.ndarray, fake: np.ndarray, valid: np.ndarray) -> None:
        if not valid[0].any():
            return
        p, s = hole_scores(real, fake, valid[0])
        self._psnr.append(p)
        self._ssim.append(s)


#: Number of equal-width bands of reference values that measured-value errors are also given for.
VALUE_BANDS = 5


class ValueAccumulator:
    """Errors of measured values (elevation, NDVI), in the map's own units, over valid pixels.

    MAE, RMSE and bias (mean of prediction - reference), overall and per band of reference
    values: :data:`VALUE_BANDS` equal-width bands over ``[low, high]`` (the model's training range),
    plus a band below and one above it where references fall outside.
    """

    def __init__(self, low: float, high: float) -> None:
        self.edges = np.linspace(low, high, VALUE_BANDS + 1)
        n = VALUE_BANDS + 2
        self._n = np.zeros(n, np.int64)
        self._abs = np.zeros(n)
        self._sq = np.zeros(n)
        self._err = np.zeros(n)

    def add(self, pred: np.ndarray, ref: np.ndarray, valid: np.ndarray) -> None:
        """``pred``, ``ref``: values in units, any shape; ``valid``: broadcastable bool."""
        v = np.broadcast_to(valid, ref.shape) & np.isfinite(ref) & np.isfinite(pred)
        e = pred[v].astype(np.float64) - ref[v].astype(np.float64)
        band = np.searchsorted(self.edges, ref[v], side="right")  # 0: below, 1..5, 6: above
        band[(band == VALUE_BANDS + 1) & (ref[v] == self.edges[-1])] = VALUE_BANDS  # the top edge is in
        self._n += np.bincount(band, minlength=VALUE_BANDS + 2)
        self._abs += np.bincount(band, np.abs(e), minlength=VALUE_BANDS + 2)
        self._sq += np.bincount(band, e * e, minlength=VALUE_BANDS + 2)
        self._err += np.bincount(band, e, minlength=VALUE_BANDS + 2)

    @staticmethod
    def _stats(n: float, a: float, q: float, e: float) -> dict[str, float]:
        nan = float("nan")
        return {"pixels": int(n), "MAE": a / n if n else nan, "RMSE": float(np.sqrt(q / n)) if n else nan,
                "bias": e / n if n else nan}

    def result(self) -> dict[str, object]:
        """``{"pixels", "MAE", "RMSE", "bias", "bands": [{"from", "to", ...}, ...]}`` (empty bands left out)."""
        out: dict[str, object] = dict(self._stats(self._n.sum(), self._abs.sum(), self._sq.sum(), self._err.sum()))
        lows = [-np.inf, *self.edges]
        highs = [*self.edges, np.inf]
        out["bands"] = [{"from": float(lo), "to": float(hi), **self._stats(n, a, q, e)}
                        for lo, hi, n, a, q, e in zip(lows, highs, self._n, self._abs, self._sq, self._err, strict=True)
                        if n]
        return out


def seam_ratio(image: np.ndarray, tile: int, overlap: int) -> tuple[float, float]:
    """How visible tile boundaries are in a mosaic made with ``tile``/``overlap``.

    For columns: the mean absolute difference between neighbouring columns that straddle a tile
    boundary (a tile's first column and the one before it, a tile's last column and the one
    after it), divided by the mean over all neighbouring columns; likewise for rows. 1.0 means
    boundaries look like anywhere else; seams push it above 1.

    Args:
        image: ``(bands, height, width)`` mosaic.

    Returns:
        ``(columns ratio, rows ratio)``.
    """
    from geo_pix2pix.tiles.mosaic.blend import plan_mosaic

    img = image.astype(np.float64)
    plan = plan_mosaic(img.shape[1], img.shape[2], tile, overlap)

    def ratio(axis: int, starts: tuple[int, ...], pad: int, n: int) -> float:
        other = 2 if axis == 1 else 1
        diff = np.abs(np.diff(img, axis=axis)).mean(axis=(0, other))  # diff[j] = |x[j+1] - x[j]|
        edges = {e - 1 for s in starts for e in (s - pad, s - pad + tile) if 1 <= e <= n - 1}
        if not edges:
            return 1.0
        return float(diff[sorted(edges)].mean() / max(diff.mean(), 1e-12))

    return (ratio(2, plan.col_starts, plan.pad_left, img.shape[2]),
            ratio(1, plan.row_starts, plan.pad_top, img.shape[1]))


def units_mae(l1: float, stats: Any) -> float | None:
    """The mean absolute error in a one-band map's units from :class:`MetricAccumulator`'s L1,
    which is measured on images scaled to ``[0, 1]``, i.e. on ``[low, high]``: one L1 unit is
    ``high - low``. ``None`` for several bands, whose units differ."""
    if getattr(stats, "bands", 0) != 1 or l1 != l1:
        return None
    return float(l1) * (float(stats.high[0]) - float(stats.low[0]))
