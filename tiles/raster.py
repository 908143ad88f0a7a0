"""Opening rasters with errors a GIS user can act on, and describing them.

Anything GDAL reads (GeoTIFF, COG, VRT, JP2, PNG...) is accepted. GDAL's own failures
("not recognized as a supported file format", TIFF read errors) are turned into one-line
:class:`~geo_pix2pix.tiles.errors.GeopixError` subclasses naming the file.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError

from geo_pix2pix.tiles.errors import BandError, InputNotFoundError, NotARasterError, first_line

__all__ = ["reading", "open_raster", "check_input_file", "resolve_bands", "describe", "RasterInfo"]


@contextlib.contextmanager
def reading(path: str | os.PathLike[str], what: str = "raster") -> Iterator[None]:
    """Turn GDAL read failures inside the block into a one-line error naming the file."""
    from rasterio.errors import RasterioError

    try:
        yield
    except RasterioError as exc:
        detail = exc.__cause__ or exc.__context__ or exc  # GDAL's own message is chained
        raise NotARasterError(
            f"cannot read {what} {os.fspath(path)}: it may be truncated or corrupt (GDAL: {first_line(detail)})"
        ) from None


def check_input_file(path: str | os.PathLike[str], what: str = "input") -> Path:
    """Return ``path`` as a :class:`Path` if it is an existing file, else raise a clear error.

    GDAL virtual paths (``/vsicurl/...``, ``/vsizip/...``) are passed through unchecked.
    """
    text = os.fspath(path)
    if text.startswith("/vsi"):
        return Path(text)
    p = Path(text)
    if not p.exists():
        raise InputNotFoundError(f"{what} not found: {text}")
    if p.is_dir():
        raise InputNotFoundError(f"{what} is a directory, expected a raster file: {text}")
    return p


def open_raster(path: str | os.PathLike[str], what: str = "raster") -> Any:
    """Open a raster read-only; raise a one-line error if it is missing or unreadable."""
    check_input_file(path, what)
    text = os.fspath(path)  # as given: a Path would collapse the '//' of '/vsizip//abs/path.zip/...'
    try:
        src = rasterio.open(text)
    except RasterioIOError as exc:
        if text.startswith("/vsi"):  # GDAL's own message says why (missing member, offline URL, ...)
            raise NotARasterError(f"{what} {text}: {first_line(exc)}") from None
        raise NotARasterError(
            f"{what} {text} is not a raster GDAL can read, or is truncated or corrupt ({first_line(exc)})"
        ) from None
    if src.count < 1 or src.width < 1 or src.height < 1:
        src.close()
        raise NotARasterError(f"{what} {text} has no raster bands")
    return src


def resolve_bands(requested: tuple[int, ...] | None, count: int, what: str) -> tuple[int, ...]:
    """1-based band indexes to read; default: all bands except a trailing alpha band.

    Raises:
        BandError: if a requested index is outside ``1..count``.
    """
    if requested is None or len(requested) == 0:
        return tuple(range(1, count + 1))
    bad = [b for b in requested if b < 1 or b > count]
    if bad:
        raise BandError(
            f"{what} band {bad[0]} is out of range: the raster has {count} band(s) (1..{count})"
        )
    return tuple(requested)


def default_bands(src: Any) -> tuple[int, ...]:
    """All bands of ``src`` except alpha bands (alpha is a mask, not data)."""
    from rasterio.enums import ColorInterp

    bands = tuple(
        i + 1 for i, ci in enumerate(src.colorinterp) if ci != ColorInterp.alpha
    )
    return bands or tuple(range(1, src.count + 1))


def has_color_table(src: Any, band: int = 1) -> bool:
    """Whether ``band`` of the open dataset ``src`` carries a colour table (a paletted raster:
    the usual encoding of categorical maps, whose values are class codes, not quantities)."""
    try:
        src.colormap(band)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class RasterInfo:
    """What ``geopix info`` prints about a raster."""

    path: str
    driver: str
    crs: str | None
    width: int
    height: int
    count: int
    dtypes: tuple[str, ...]
    nodata: float | None
    pixel_size: tuple[float, float]
    bounds: tuple[float, float, float, float]
    colorinterp: tuple[str, ...]
    has_mask: bool
    units: str | None = None
    mask_kind: str = "none"
    #: A geopix output's provenance: its ``GEOPIX_*`` dataset tags (the classes apart).
    geopix_tags: dict[str, str] = field(default_factory=dict)
    #: Band 1's classes, code and name: a geopix output's ``GEOPIX_CLASSES``, else the category
    #: names GDAL reads (:func:`~geo_pix2pix.tiles.encoding.categories.read_categories`).
    classes: tuple[tuple[int, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["nodata"] = None if self.nodata is None or math.isnan(self.nodata) else self.nodata
        return d

    def lines(self) -> list[str]:
        """Human-readable lines, one fact per line."""
        left, bottom, right, top = self.bounds
        return [
            f"file:        {self.path}",
            f"driver:      {self.driver}",
            f"crs:         {self.crs or 'none (not georeferenced)'}",
            f"size:        {self.width} x {self.height} pixels, {self.count} band(s)",
            f"pixel size:  {self.pixel_size[0]:.6g} x {self.pixel_size[1]:.6g}"
            + (f" {self.units}" if self.units else ""),
            f"dtype:       {', '.join(sorted(set(self.dtypes)))}",
            f"bands:       {', '.join(self.colorinterp)}",
            f"nodata:      {self.nodata}",
            f"mask:        {self.mask_kind if self.has_mask else 'no'}",
            f"bounds:      left={left:.6f} bottom={bottom:.6f} right={right:.6f} top={top:.6f}",
            *(f"classes:     {code} {name}" if i == 0 else f"             {code} {name}"
              for i, (code, name) in enumerate(self.classes[:MAX_CLASS_LINES])),
            *([f"             ... {len(self.classes) - MAX_CLASS_LINES} more classes"]
              if len(self.classes) > MAX_CLASS_LINES else []),
            *(f"{'geopix:' if i == 0 else '':<13}{k}={v}" for i, (k, v) in enumerate(self.geopix_tags.items())),
        ]


#: Classes ``geopix info`` lists one per line before it counts the rest.
MAX_CLASS_LINES = 30


def describe(path: str | os.PathLike[str]) -> RasterInfo:
    """Describe a raster: CRS, size, pixel size, bands, dtype, nodata, bounds; a geopix output's
    provenance tags; band 1's class names."""
    from rasterio.enums import MaskFlags

    with open_raster(path) as src:
        flags = src.mask_flag_enums
        has_mask = any(
            MaskFlags.all_valid not in band_flags for band_flags in flags
        )
        kinds = []
        if any(MaskFlags.alpha in f for f in flags):
            kinds.append("alpha band")
        elif any(MaskFlags.per_dataset in f for f in flags):
            kinds.append("internal mask")
        if any(MaskFlags.nodata in f for f in flags):
            kinds.append(f"nodata value {src.nodata:g}" if src.nodata is not None else "nodata value")
        units = None
        if src.crs is not None:
            units = "degrees" if src.crs.is_geographic else (src.crs.linear_units or None)
        return RasterInfo(
            path=os.fspath(path),
            driver=src.driver,
            crs=src.crs.to_string() if src.crs else None,
            width=src.width,
            height=src.height,
            count=src.count,
            dtypes=tuple(src.dtypes),
            nodata=None if src.nodata is None else float(src.nodata),
            pixel_size=(float(src.res[0]), float(src.res[1])),
            bounds=tuple(float(v) for v in src.bounds),  # type: ignore[arg-type]
            colorinterp=tuple(ci.name for ci in src.colorinterp),
            has_mask=has_mask,
            units=units,
            mask_kind=", ".join(kinds) or "none",
            geopix_tags={k: v for k, v in src.tags().items() if k.startswith("GEOPIX_") and k != "GEOPIX_CLASSES"},
            classes=_classes(path, src.tags().get("GEOPIX_CLASSES")),
        )


def _classes(path: str | os.PathLike[str], listed: str | None) -> tuple[tuple[int, str], ...]:
    """Band 1's classes: the ``GEOPIX_CLASSES`` JSON ``listed``, else GDAL's category names."""
    import json

    from geo_pix2pix.tiles.encoding.categories import read_categories

    with contextlib.suppress(ValueError, TypeError, KeyError):
        if listed:
            return tuple((int(c["code"]), str(c["name"])) for c in json.loads(listed))
    return tuple(sorted(read_categories(path).items()))


def valid_mask(data: np.ndarray, gdal_mask: np.ndarray) -> np.ndarray:
    """Per-pixel validity: GDAL's dataset mask (nodata, alpha, internal mask) and finite values.

    Args:
        data: ``(bands, h, w)`` pixel values.
        gdal_mask: ``(h, w)`` uint8 mask from ``read_masks``/``dataset_mask`` (0 = invalid).
    """
    valid = gdal_mask > 0
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data).all(axis=0)
    return valid
