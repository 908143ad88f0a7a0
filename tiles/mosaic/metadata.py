"""What an output's bands mean: the one place geopix says it, for every raster it writes.

:class:`BandMetadata` holds the colour interpretation, the colour table, band descriptions,
units, band and dataset tags and the nodata value of an output; the sinks of :mod:`.cog` write it
into the stream (the COG copy carries it over) or into a shard's part. Its constructors are the
four ways an output gets its meaning:

* :meth:`BandMetadata.of_values`: a translation's, from the model's output values (RGB for a
  picture, a colour table and class names for class codes, band names and units);
* :meth:`BandMetadata.like`: a filled region's, copied from the region's own bands;
* :meth:`BandMetadata.record`: the fill's record, its pixel states as classes;
* :meth:`BandMetadata.read`: a merged raster's, from what its parts say.

Writing order is fixed (colour interpretation, colour table, descriptions, units, band tags,
dataset tags): GDAL keeps metadata items in the order they were set, so the same meaning gives
the same file.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rasterio.enums import ColorInterp

from geo_pix2pix.tiles.encoding.classes import ClassTable

__all__ = ["BandMetadata"]


@dataclass(frozen=True)
class BandMetadata:
    """The meaning of an output's bands.

    Attributes:
        colorinterp: per band; empty: GDAL's default (a combination GDAL refuses, as some inputs'
            are, is also left to GDAL's default rather than failing the write).
        colormap: band 1's colour table (class codes), code -> RGBA.
        descriptions / units: per band; empty strings are not written.
        band_tags: per band, metadata items (class names...).
        tags: dataset metadata items (the model, the task...).
        nodata: the nodata value of every band, or None (an internal mask, if any, marks invalid pixels).
    """

    colorinterp: tuple[ColorInterp, ...] = ()
    colormap: Mapping[int, tuple[int, ...]] | None = None
    descriptions: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    band_tags: tuple[Mapping[str, str], ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    nodata: float | None = None

    def with_tags(self, **tags: str) -> BandMetadata:
        """The same, with ``tags`` added to (or replacing) the dataset tags."""
        return replace(self, tags={**self.tags, **tags})

    def write(self, dst: Any) -> None:
        """Write it all into the open dataset ``dst`` (nodata goes into the profile: :mod:`.cog`)."""
        if self.colorinterp:
            with contextlib.suppress(Exception):  # a combination GDAL refuses keeps GDAL's default
                dst.colorinterp = list(self.colorinterp)
        if self.colormap is not None:
            dst.write_colormap(1, dict(self.colormap))
        for b, text in enumerate(self.descriptions, 1):
            if text:
                dst.set_band_description(b, text)
        if any(self.units):
            dst.units = self.units
        for b, t in enumerate(self.band_tags, 1):
            if t:
                dst.update_tags(b, **t)
        if self.tags:
            dst.update_tags(**self.tags)

    @classmethod
    def of_values(cls, out_stats: Any, count: int, tags: Mapping[str, str]) -> BandMetadata:
        """A translation's output: RGB colour interpretation for a 3-band byte picture; for class
        codes a colour table (QGIS draws the band paletted), the band described, the class names
        as band tags (``CLASS_<code>=name``) and as JSON (``GEOPIX_CLASSES``); band names
        (probabilities) and units; ``tags``; the values' nodata."""
        classes: ClassTable | None = getattr(out_stats, "class_table", None)
        if classes is not None:
            return cls((ColorInterp.palette,), classes.colormap(), ("class code",), (),
                       ({f"CLASS_{c}": n for c, n in zip(classes.codes, classes.names, strict=True)},),
                       {"GEOPIX_CLASSES": json.dumps(classes.to_dict()["classes"]), **tags}, out_stats.nodata)
        picture = count == 3 and out_stats.dtype == "uint8"
        rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue) if picture else ()
        units = (out_stats.units,) * count if out_stats.units else ()
        return cls(rgb, None, tuple(getattr(out_stats, "band_names", ())), units, (), dict(tags), out_stats.nodata)

    @classmethod
    def like(cls, src: Any, bands: tuple[int, ...], tags: Mapping[str, str]) -> BandMetadata:
        """Bands ``bands`` of the open dataset ``src`` as they are: colour interpretation,
        descriptions, units and nodata; ``tags``."""
        return cls(tuple(src.colorinterp[b - 1] for b in bands), None,
                   tuple(src.descriptions[b - 1] or "" for b in bands), tuple(src.units[b - 1] or "" for b in bands),
                   (), dict(tags), src.nodata)

    @classmethod
    def record(cls, states: Mapping[int, str], colors: Mapping[int, tuple[int, ...]], description: str,
               tags: Mapping[str, str]) -> BandMetadata:
        """A raster of pixel states drawn as classes: ``states`` code -> name, ``colors`` code -> RGBA."""
        return cls((ColorInterp.palette,), colors, (description,), (), ({f"CLASS_{c}": n for c, n in states.items()},),
                   {"GEOPIX_CLASSES": json.dumps([{"code": c, "name": n} for c, n in states.items()]), **tags})

    @classmethod
    def read(cls, src: Any, drop: tuple[str, ...] = ()) -> BandMetadata:
        """What the open dataset ``src`` says about its bands (dataset tags ``drop`` left out)."""
        palette = src.colorinterp[0] == ColorInterp.palette
        return cls(tuple(src.colorinterp), src.colormap(1) if palette else None,
                   tuple(d or "" for d in src.descriptions), tuple(u or "" for u in src.units),
                   tuple(src.tags(b) for b in range(1, src.count + 1)),
                   {k: v for k, v in src.tags().items() if k not in drop}, src.nodata)
