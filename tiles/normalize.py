"""Mapping raster values to the [-1, 1] range the networks work in, and back.

uint8 bands map linearly from [0, 255] to [-1, 1]. Other dtypes (uint16, int16, float32/64)
have no natural range, so each band gets a robust range, its 2nd-98th percentiles, computed
once over a decimated read of the *whole* raster (never per tile: per-tile stretching would make
neighbouring tiles disagree and leave seams). Values are clipped to the range. The statistics
are a small frozen object that serialises to JSON; the model file stores it and translate reuses
it, so a region is normalised exactly as the training imagery was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import NoValidDataError

__all__ = ["BandStats", "compute_stats", "content_shift", "valid_values", "SAMPLE_PIXELS"]

#: Pixels read (after decimation) to estimate percentiles: enough for stable 2/98 percentiles.
SAMPLE_PIXELS = 1024 * 1024


@dataclass(frozen=True)
class BandStats:
    """Per-band value ranges mapped to [-1, 1].

    Attributes:
        dtype: the raster's dtype name (``uint8``, ``uint16``, ``float32``...).
        low: per-band value mapped to -1.
        high: per-band value mapped to +1.
        method: ``"fixed"`` (uint8: 0..255) or ``"percentile"`` (2nd-98th percentile).
        mean / std: per-band mean and standard deviation of the valid values (empty in model files
            written before they were recorded): what the training data looked like, so that
            translate can warn about a region that does not look like it (:func:`content_shift`).
    """

    dtype: str
    low: tuple[float, ...]
    high: tuple[float, ...]
    method: str = "fixed"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def bands(self) -> int:
        return len(self.low)

    def normalize(self, data: np.ndarray) -> np.ndarray:
        """``(bands, h, w)`` raw values -> float32 in [-1, 1]; NaN becomes 0 (mask it)."""
        low = np.asarray(self.low, np.float32)[:, None, None]
        high = np.asarray(self.high, np.float32)[:, None, None]
        out = (data.astype(np.float32) - low) * (2.0 / (high - low)) - 1.0
        np.clip(out, -1.0, 1.0, out=out)
        return np.nan_to_num(out, nan=0.0, copy=False)

    def denormalize(self, data: np.ndarray) -> np.ndarray:
        """float values in [-1, 1] -> raw values in this raster's dtype (rounded for integers)."""
        low = np.asarray(self.low, np.float32)[:, None, None]
        high = np.asarray(self.high, np.float32)[:, None, None]
        out = np.clip(data, -1.0, 1.0).astype(np.float32, copy=False)  # the one float temporary
        out += 1.0
        out *= (high - low) / 2.0
        out += low
        dtype = np.dtype(self.dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            np.rint(out, out=out)
            np.clip(out, info.min, info.max, out=out)
        return out.astype(dtype)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "low": list(self.low),
            "high": list(self.high),
            "method": self.method,
            **({"mean": list(self.mean), "std": list(self.std)} if self.mean else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BandStats:
        return cls(
            dtype=str(d["dtype"]),
            low=tuple(float(v) for v in d["low"]),
            high=tuple(float(v) for v in d["high"]),
            method=str(d.get("method", "fixed")),
            mean=tuple(float(v) for v in d.get("mean", ())),
            std=tuple(float(v) for v in d.get("std", ())),
        )


def compute_stats(
    sample: np.ndarray, valid: np.ndarray, dtype: str, what: str = "raster"
) -> BandStats:
    """Statistics from a decimated sample of a whole raster.

    Args:
        sample: ``(bands, h, w)`` values read over the whole raster at reduced resolution.
        valid: ``(h, w)`` boolean validity of the sample pixels.
        dtype: the raster's dtype name.

    Raises:
        NoValidDataError: if no sample pixel is valid.
    """
    bands = sample.shape[0]
    values = valid_values(sample, valid)
    if values.shape[1] == 0:
        raise NoValidDataError(f"{what} has no valid pixels (all nodata, masked or NaN)")
    mean = tuple(float(v) for v in values.mean(axis=1, dtype=np.float64))
    std = tuple(float(v) for v in values.std(axis=1, dtype=np.float64))
    if dtype == "uint8":
        return BandStats(dtype, (0.0,) * bands, (255.0,) * bands, "fixed", mean, std)
    low = np.percentile(values, 2, axis=1)
    high = np.percentile(values, 98, axis=1)
    # A constant band would divide by zero: widen its range by one unit around the value.
    flat = high <= low
    low = np.where(flat, low - 0.5, low)
    high = np.where(flat, high + 0.5, high)
    return BandStats(
        dtype,
        tuple(float(v) for v in low),
        tuple(float(v) for v in high),
        "percentile",
        mean,
        std,
    )


def valid_values(sample: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(bands, n)`` values of the valid (and, for floats, finite) pixels of a ``(bands, h, w)`` sample."""
    values = sample[:, valid]
    if np.issubdtype(values.dtype, np.floating):
        values = values[:, np.isfinite(values).all(axis=0)]
    return values


def content_shift(stats: BandStats, sample: np.ndarray, valid: np.ndarray) -> float | None:
    """How far a region's band means lie from the training data's, in training standard deviations.

    The largest ``|mean_region - mean_training| / std_training`` over the bands (a band's std is
    floored at 1% of its value range, so a near-constant training band does not make every region
    look foreign). ``None`` when the model file holds no training means or the sample has no valid
    pixel. A satellite image given to a map -> satellite model lies several deviations away; two
    cities' imagery of the same sensor a fraction of one (figures in ``bench/README.md``).
    """
    values = valid_values(sample, valid)
    if not stats.mean or values.shape[1] == 0:
        return None
    mean = values.mean(axis=1, dtype=np.float64)
    floor = 0.01 * (np.asarray(stats.high) - np.asarray(stats.low))
    std = np.maximum(np.asarray(stats.std), floor)
    return float(np.max(np.abs(mean - np.asarray(stats.mean)) / std))
