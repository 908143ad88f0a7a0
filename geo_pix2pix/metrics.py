"""Image metrics of translations: L1, PSNR, SSIM and the maps pixel accuracy.

All metrics compare images scaled to [0, 1] (network outputs and targets in [-1, 1] map by
``(x + 1) / 2``), over valid pixels for L1 and accuracy. PSNR and SSIM come from scikit-image
(data range 1, SSIM with its default 7x7 window, channels averaged), so figures match the
literature's implementations. The pixel accuracy of the pix2pix maps experiments counts a pixel
correct when every channel differs by less than 5 of 255 levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ImageMetrics", "MetricAccumulator", "ACCURACY_THRESHOLD"]

#: A pixel is correct when its largest channel difference is below 5/255.
ACCURACY_THRESHOLD = 5.0 / 255.0


@dataclass(frozen=True)
class ImageMetrics:
    """Means over images (PSNR, SSIM) and over valid pixels (L1, accuracy)."""

    L1: float
    PSNR: float
    SSIM: float
    pixel_accuracy: float
    images: int

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
        from skimage.metrics import peak_signal_noise_ratio, structural_similarity

        f = (np.clip(fake, -1, 1).astype(np.float64) + 1) / 2
        r = (np.clip(real, -1, 1).astype(np.float64) + 1) / 2
        v = valid.astype(bool)
        diff = np.abs(f - r)
        self._abs += float((diff * v).sum())
        self._pixels += int(v.sum())
        self._channel_pixels += int(v.sum()) * f.shape[1]
        self._correct += int(((diff.max(axis=1, keepdims=True) < ACCURACY_THRESHOLD) & v).sum())
        for i in range(f.shape[0]):
            if v[i].mean() < 0.5:
                continue  # mostly nodata: PSNR/SSIM would measure the fill value
            self._psnr.append(min(100.0, float(peak_signal_noise_ratio(r[i], f[i], data_range=1.0))))
            self._ssim.append(float(structural_similarity(r[i], f[i], data_range=1.0, channel_axis=0)))

    def result(self) -> ImageMetrics:
        nan = float("nan")
        return ImageMetrics(
            L1=self._abs / self._channel_pixels if self._channel_pixels else nan,
            PSNR=float(np.mean(self._psnr)) if self._psnr else nan,
            SSIM=float(np.mean(self._ssim)) if self._ssim else nan,
            pixel_accuracy=self._correct / self._pixels if self._pixels else nan,
            images=len(self._psnr),
        )


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
    from geo_pix2pix.tiles.blend import plan_mosaic

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
