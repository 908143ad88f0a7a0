"""Holes drawn into training windows for inpainting: what clouds, sensors and archives leave.

Pure numpy, no I/O but :func:`nodata_shapes`. Each window gets holes of one kind, chosen at
random among those asked for:

* ``strokes``: free-form brush strokes (Yu et al. 2019, "free-form inpainting"): 1 to 4 random
  walks of 3 to 8 segments, each a thick line of discs, like cloud and shadow masks traced by
  a detector (irregular, elongated, of every width);
* ``boxes``: 1 to 3 axis-aligned rectangles, like dropped packets and tile gaps;
* ``stripes``: parallel stripes at a random angle whose width grows along them, like the gaps
  Landsat 7's failed scan-line corrector leaves (SLC-off: about 22% of a scene, wedge-shaped
  gaps a few pixels wide at the scene centre, 14 at its edges);
* ``nodata``: the raster's own nodata shapes (:func:`nodata_shapes`), moved (rotated, mirrored
  and shifted) so that they fall on valid pixels.

The share of a window in holes is kept between :data:`MIN_FRACTION` and ``max_fraction``: a
window with no hole teaches nothing, one that is all hole teaches invention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["HOLE_KINDS", "HoleSpec", "draw_holes", "nodata_shapes", "MIN_FRACTION", "parse_kinds", "EVAL_HOLES",
           "eval_holes"]

HOLE_KINDS = ("strokes", "boxes", "stripes", "nodata")
#: A window's holes cover at least this share of it.
MIN_FRACTION = 0.01
#: Shapes kept from a raster's own nodata (the bank the ``nodata`` kind draws from).
MAX_SHAPES = 64


@dataclass(frozen=True)
class HoleSpec:
    """Which holes training draws. ``kinds``: among :data:`HOLE_KINDS`; ``max_fraction``: the
    largest share of a window in holes."""

    kinds: tuple[str, ...] = HOLE_KINDS
    max_fraction: float = 0.5


def parse_kinds(text: str) -> tuple[str, ...]:
    """``"strokes,stripes"`` -> the kinds, checked (ValueError names the known ones)."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in HOLE_KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown hole kind(s) {', '.join(unknown) or repr(text)}; choose from "
                         f"{', '.join(HOLE_KINDS)}")
    return kinds


def _discs(mask: np.ndarray, ys: np.ndarray, xs: np.ndarray, radius: float) -> None:
    """Set every pixel within ``radius`` of a point ``(ys[i], xs[i])`` (a thick polyline, stamped)."""
    size = mask.shape[0]
    r = int(math.ceil(radius))
    oy, ox = np.mgrid[-r:r + 1, -r:r + 1]
    disc = oy ** 2 + ox ** 2 <= radius ** 2
    for y, x in zip(np.round(ys).astype(int), np.round(xs).astype(int), strict=True):
        y0, y1, x0, x1 = y - r, y + r + 1, x - r, x + r + 1
        cy0, cx0 = max(0, -y0), max(0, -x0)
        cy1, cx1 = disc.shape[0] - max(0, y1 - size), disc.shape[1] - max(0, x1 - size)
        if cy1 > cy0 and cx1 > cx0:
            mask[max(0, y0):min(size, y1), max(0, x0):min(size, x1)] |= disc[cy0:cy1, cx0:cx1]


def _strokes(rng: np.random.Generator, size: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    for _ in range(rng.integers(1, 5)):
        radius = rng.uniform(max(1.0, size / 64), max(2.0, size / 10))
        y, x = rng.uniform(0, size, 2)
        for _ in range(rng.integers(3, 9)):
            angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(size / 16, size / 3)
            y1, x1 = y + length * math.sin(angle), x + length * math.cos(angle)
            n = max(2, int(length / max(1.0, radius / 2)))
            _discs(mask, np.linspace(y, y1, n), np.linspace(x, x1, n), radius)
            y, x = float(np.clip(y1, 0, size - 1)), float(np.clip(x1, 0, size - 1))
    return mask


def _boxes(rng: np.random.Generator, size: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    for _ in range(rng.integers(1, 4)):
        h, w = rng.integers(max(2, size // 10), max(3, size // 2), 2)
        y, x = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        mask[y:y + h, x:x + w] = True
    return mask


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Parallel stripes across the window at a random angle, period ``p`` and a width that grows
    linearly along the stripes (the SLC-off wedges)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    across = yy * math.cos(angle) - xx * math.sin(angle)  # distance across the stripes
    along = (yy * math.sin(angle) + xx * math.cos(angle)) / (size * math.sqrt(2))  # 0..~1 along them
    period = rng.uniform(size / 10, size / 3)
    w0, w1 = rng.uniform(1.0, period / 3, 2)
    width = w0 + (w1 - w0) * along
    stripes: np.ndarray = np.mod(across + rng.uniform(0, period), period) < width
    return stripes


def _moved(rng: np.random.Generator, shape: np.ndarray) -> np.ndarray:
    """A bank shape rotated by a multiple of 90 degrees, perhaps mirrored, and shifted (wrapped)."""
    out = np.rot90(shape, int(rng.integers(4)))
    if rng.integers(2):
        out = out[:, ::-1]
    return np.roll(out, tuple(int(s) for s in rng.integers(0, shape.shape[0], 2)), axis=(0, 1))


def draw_holes(rng: np.random.Generator, n: int, size: int, spec: HoleSpec,
               bank: Sequence[np.ndarray] = ()) -> np.ndarray:
    """``(n, size, size)`` bool holes, each window of one kind drawn from ``spec.kinds`` (``nodata``
    only when ``bank`` has shapes of ``size``), covering between :data:`MIN_FRACTION` and
    ``spec.max_fraction`` of the window (up to 8 draws; then the smallest draw)."""
    bank = [b for b in bank if b.shape == (size, size)]
    kinds = [k for k in spec.kinds if k != "nodata" or bank] or ["strokes"]
    out = np.zeros((n, size, size), bool)
    for i in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        best = None
        for _ in range(8):
            if kind == "nodata":
                mask = _moved(rng, bank[int(rng.integers(len(bank)))])
            else:
                mask = {"strokes": _strokes, "boxes": _boxes, "stripes": _stripes}[kind](rng, size)
            share = mask.mean()
            if MIN_FRACTION <= share <= spec.max_fraction:
                best = mask
                break
            if share >= MIN_FRACTION and (best is None or share < best.mean()):
                best = mask
        out[i] = best if best is not None else _boxes(rng, size)
    return out


def nodata_shapes(invalid_windows: Sequence[np.ndarray], max_fraction: float) -> list[np.ndarray]:
    """The bank of real hole shapes: of the raster's windows' invalid masks (``(T, T)`` bool), those
    with between :data:`MIN_FRACTION` and ``max_fraction`` invalid, at most :data:`MAX_SHAPES`
    spread over the list (the caller reads the masks; this only chooses)."""
    keep = [m for m in invalid_windows if MIN_FRACTION <= m.mean() <= max_fraction]
    if len(keep) > MAX_SHAPES:
        keep = [keep[round(i * (len(keep) - 1) / (MAX_SHAPES - 1))] for i in range(MAX_SHAPES)]
    return [np.ascontiguousarray(m) for m in keep]


#: Hole kinds of the evaluation (``geopix evaluate`` of an inpainting model, ``bench/inpaint.py``)
#: and their size classes in pixels: a stripe's width, a cloud's diameter.
EVAL_HOLES = {"stripes": (2, 4, 8, 16), "clouds": (8, 16, 32, 64)}


def eval_holes(rng: np.random.Generator, shape: tuple[int, int], kind: str, size: int,
               cover: float = 0.15) -> np.ndarray:
    """``(h, w)`` bool evaluation holes of one size class covering about ``cover`` of the raster.

    ``stripes``: SLC-off-like gaps, ``size`` pixels wide, nearly along the rows (tilted 8 degrees
    as Landsat 7's scan lines are to north), ``size / cover`` apart. ``clouds``: blobs of about
    ``size`` pixels across, each the union of 5 discs of radius ``size / 4`` to ``size / 2.5``
    scattered within ``size / 4`` of its centre (a lumpy outline, not a disc).
    """
    h, w = shape
    if kind == "stripes":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        angle = math.radians(8.0)
        across = yy * math.cos(angle) - xx * math.sin(angle)
        period = size / cover
        stripes: np.ndarray = np.mod(across + rng.uniform(0, period), period) < size
        return stripes
    if kind != "clouds":
        raise ValueError(f"unknown test hole kind {kind!r}; choose {', '.join(EVAL_HOLES)}")
    out = np.zeros(shape, bool)
    side = max(h, w) + 2 * size
    pad = np.zeros((side, side), bool)
    n = max(1, round(cover * h * w / (math.pi * (size / 2) ** 2)))
    for _ in range(n):
        cy, cx = rng.uniform(0, h) + size, rng.uniform(0, w) + size
        for _ in range(5):
            dy, dx = rng.uniform(-size / 4, size / 4, 2)
            _discs(pad, np.array([cy + dy]), np.array([cx + dx]), rng.uniform(size / 4, size / 2.5))
    out[:] = pad[size:size + h, size:size + w]
    return out
