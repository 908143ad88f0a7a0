"""Mapping raster values to the [-1, 1] range the networks work in, and back.

uint8 bands map linearly from [0, 255] to [-1, 1]. Other dtypes (uint16, int16, float32/64)
have no natural range, so each band gets a robust range, its 2nd-98th percentiles, computed
once over a decimated read of the *whole* raster (never per tile: per-tile stretching would make
neighbouring tiles disagree and leave seams). Values are clipped to the range. The statistics
are a small frozen object that serialises to JSON; the model file stores it and translate reuses
it, so a region is normalised exactly as the training imagery was.

**Measured values** (a continuous map: elevation, NDVI) must not be cut at the training
percentiles: a model of a DEM whose 2nd-98th percentiles are 2435-3808 m could otherwise never
draw a summit at 4261 m. :meth:`BandStats.widened` maps the percentile range *widened by half its
width on each side* onto [-1, 1] (method ``robust``): the generator's Tanh output then reaches
values down to ``p2 - w/2`` and up to ``p98 + w/2`` (``w = p98 - p2``; 1749-4495 m for that DEM),
and targets inside that range are learnt as they are, not clipped. Such an output is written as
float32 in the map's units (``dtype``), with the map's nodata value (NaN if it has none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np

from geo_pix2pix.tiles.errors import NoValidDataError

__all__ = ["BandStats", "compute_stats", "content_shift", "sample_shape", "valid_values", "SAMPLE_PIXELS"]

#: Pixels read (after decimation) to estimate percentiles: enough for stable 2/98 percentiles.
SAMPLE_PIXELS = 1024 * 1024


def sample_shape(height: int, width: int) -> tuple[int, int]:
    """The shape a ``height x width`` region is read at for statistics and class codes: decimated
    by one integer factor on both axes to at most :data:`SAMPLE_PIXELS` pixels."""
    factor = max(1, math.ceil(math.sqrt(height * width / SAMPLE_PIXELS)))
    return max(1, height // factor), max(1, width // factor)


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
        nodata: value written where the input is invalid, set on the output band (continuous
            maps); ``None``: an internal mask marks invalid pixels instead (pictures).
        units: unit of the values (e.g. ``metre``), written on the output band.
    """

    dtype: str
    low: tuple[float, ...]
    high: tuple[float, ...]
    method: str = "fixed"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    nodata: float | None = None
    units: str | None = None

    @property
    def bands(self) -> int:
        """Bands of values, and the channels a network reads or predicts for them."""
        return len(self.low)

    @property
    def out_bands(self) -> int:
        """Bands written (as many as the values have; a class table writes one band of codes)."""
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
        return cast(np.ndarray, out.astype(dtype))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "low": list(self.low),
            "high": list(self.high),
            "method": self.method,
            **({"mean": list(self.mean), "std": list(self.std)} if self.mean else {}),
            **({"nodata": _json_float(self.nodata)} if self.nodata is not None else {}),
            **({"units": self.units} if self.units else {}),
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
            nodata=float(d["nodata"]) if d.get("nodata") is not None else None,
            units=d.get("units"),
        )

    def widened(self, dtype: str = "float32", nodata: float | None = None, units: str | None = None) -> BandStats:
        """These statistics for a measured-value output: the range widened by half its width on each
        side (method ``robust``, see the module docstring), written as ``dtype`` with ``nodata``
        (NaN for a float dtype if ``None``) and ``units``."""
        low, high = np.asarray(self.low), np.asarray(self.high)
        if self.method == "fixed":  # uint8 values: 0..255 is the whole range already
            wide_low, wide_high = low, high
        else:
            half = 0.5 * (high - low)
            wide_low, wide_high = low - half, high + half
        if nodata is None and np.issubdtype(np.dtype(dtype), np.floating):
            nodata = float("nan")
        return replace(self, dtype=dtype, low=tuple(float(v) for v in wide_low),
                       high=tuple(float(v) for v in wide_high), method="robust", nodata=nodata, units=units)


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


def _json_float(v: float) -> float | str:
    """JSON has no NaN: a NaN nodata is stored as the string ``"nan"`` (``float("nan")`` reads it back)."""
    return "nan" if math.isnan(v) else v


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
