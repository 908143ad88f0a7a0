"""What a round of the streaming stress draws: a raster, its tiling and output, and a stand-in model.

:func:`draw_case` makes every choice from one seed, so a round that finds a difference can be run
again alone (:mod:`.stream_stress` prints its seed); :func:`source` writes its input raster.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from tests.conftest import write_raster

__all__ = ["Case", "draw_case", "source", "model", "streams_overviews", "HIGH"]


@dataclass(frozen=True)
class Case:
    """One round's raster, tiling and output."""

    seed: int
    height: int
    width: int
    in_dtype: str
    in_bands: int
    out_dtype: str
    out_bands: int
    mask: str  # "none", "nodata", "internal" (an internal mask), "nan" (float input)
    out_nodata: float | None
    tile: int
    overlap: int
    batch: int
    blocksize: int
    shards: int

    def __str__(self) -> str:
        return (f"seed {self.seed}: {self.height}x{self.width} {self.in_bands}x{self.in_dtype} -> "
                f"{self.out_bands}x{self.out_dtype} mask {self.mask} nodata {self.out_nodata} tile {self.tile}/"
                f"{self.overlap} batch {self.batch} BLOCKSIZE {self.blocksize} shards {self.shards}")


def draw_case(seed: int) -> Case:
    """A random case: sides odd or even, from below one tile to several, every dtype and mask."""
    r = random.Random(seed)
    in_dtype = r.choice(["uint8", "uint8", "uint16", "float32"])
    out_dtype = r.choice(["uint8", "uint16", "float32"])
    tile = r.choice([16, 32, 48, 64])
    masks = ["none", "none", "none", "nodata", "internal"] + (["nan"] if in_dtype == "float32" else [])

    def side() -> int:  # even sides most often: the writer streams overviews only for those
        n = r.randint(9, 330)
        return n + n % 2 if r.random() < 0.7 else n

    return Case(seed, side(), side(), in_dtype, r.randint(1, 3), out_dtype, r.randint(1, 3),
                r.choice(masks), r.choice([None, None, 0.0 if out_dtype != "float32" else -9999.0]), tile,
                r.randint(0, tile // 2), r.randint(1, 5), r.choice([16, 32, 64]), r.randint(2, 3))


HIGH = {"uint8": 255.0, "uint16": 4000.0, "float32": 1.0}


def source(case: Case, path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The input raster, its values and its validity."""
    rng = np.random.default_rng(case.seed)
    h, w = case.height, case.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([np.sin(yy * rng.uniform(0.02, 0.2) + xx * rng.uniform(0.02, 0.2) + b)
                     for b in range(case.in_bands)])
    noisy = (base + 1.0) / 2.0 * 0.8 + rng.random((case.in_bands, h, w), np.float32) * 0.2
    data = (noisy * HIGH[case.in_dtype]).astype(case.in_dtype)
    valid = np.ones((h, w), bool)
    blobs = rng.random((h, w)) < 0.02
    for _ in range(2):  # grow the blobs into holes a few pixels wide
        blobs = blobs | np.roll(blobs, 1, 0) | np.roll(blobs, 1, 1)
    kw: dict[str, Any] = {}
    if case.mask == "nodata":
        nodata = 0 if case.in_dtype != "float32" else -1.0
        data = np.where(data == nodata, data + 1, data).astype(case.in_dtype)
        data[:, blobs] = nodata
        valid = ~blobs
        kw["nodata"] = nodata
    elif case.mask == "nan":
        data[rng.integers(0, case.in_bands), blobs] = np.nan  # missing in one band: unknown
        valid = ~blobs
    write_raster(path, data, **kw)
    if case.mask == "internal":
        valid = ~blobs
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "r+") as dst:
            dst.write_mask(valid.astype(np.uint8) * 255)
    return path, data, valid


def model(x: np.ndarray, out_bands: int) -> np.ndarray:
    """A deterministic stand-in for a generator: a mix of the input channels plus a ramp that
    depends on the position in the tile, so neighbouring tiles disagree and the blend matters.
    Elementwise numpy only: a tile's output does not depend on its batch."""
    c = x.shape[1]
    t = x.shape[-1]
    ramp = (np.arange(t, dtype=np.float32) / t - 0.5)[None, :] * (np.arange(t, dtype=np.float32) / t)[:, None]
    out = []
    for o in range(out_bands):
        acc = ramp * np.float32(0.3 * (o + 1))
        for i in range(c):
            acc = acc + x[:, i] * np.float32(((i + 2 * o) % 5 - 2) * 0.35 + 0.1)
        out.append(np.tanh(acc))
    return np.stack(out, 1).astype(np.float32)


def streams_overviews(seed: int) -> bool:
    """Whether round ``seed``'s translation streams its overview levels (even sides, no mask,
    more than one COG block): the path where rows and levels are written while tiles are read."""
    c = draw_case(seed)
    return (c.mask == "none" and c.in_dtype != "float32" and c.height % 2 == 0 and c.width % 2 == 0
            and max(c.height, c.width) > c.blocksize)
