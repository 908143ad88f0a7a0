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

Class codes (a translation's classes, a layout, the fill's record) are named twice: inside the
TIFF (the ``GEOPIX_CLASSES`` tag, ``CLASS_<code>`` band tags and the RGB colour map: what any copy
of the file keeps) and, for GDAL and QGIS, as category names, a colour table with alpha and a RAT
in the PAM sidecar ``<output>.aux.xml`` (:meth:`BandMetadata.write_sidecar`), since GDAL's GeoTIFF
and COG drivers keep those nowhere else (:mod:`~geo_pix2pix.tiles.encoding.categories`).

Writing order is fixed (colour interpretation, colour table, descriptions, units, band tags,
dataset tags): GDAL keeps metadata items in the order they were set, so the same meaning gives
the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rasterio.enums import ColorInterp

from geo_pix2pix.tiles.atomic import atomic_path
from geo_pix2pix.tiles.encoding.categories import QML_MARK, Category, pam_xml, qml_path, qml_text, sidecar_path
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
        """A translation's output: class codes as :meth:`of_classes`; RGB colour interpretation for
        a 3-band byte picture; band names (probabilities) and units; ``tags``; the values' nodata."""
        classes: ClassTable | None = getattr(out_stats, "class_table", None)
        if classes is not None:
            return cls.of_classes(classes, "class code", tags)
        picture = count == 3 and out_stats.dtype == "uint8"
        rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue) if picture else ()
        units = (out_stats.units,) * count if out_stats.units else ()
        return cls(rgb, None, tuple(getattr(out_stats, "band_names", ())), units, (), dict(tags), out_stats.nodata)

    @classmethod
    def of_classes(cls, table: ClassTable, description: str, tags: Mapping[str, str]) -> BandMetadata:
        """One band of ``table``'s codes: a colour table (QGIS draws the band paletted), the band
        described, the class names as band tags (``CLASS_<code>=name``) and with their colours as
        JSON (``GEOPIX_CLASSES``, from which :meth:`write_sidecar` names them for GDAL); ``tags``;
        the table's nodata."""
        return cls((ColorInterp.palette,), table.colormap(), (description,), (),
                   ({f"CLASS_{c}": n for c, n in zip(table.codes, table.names, strict=True)},),
                   {"GEOPIX_CLASSES": json.dumps(table.to_dict()["classes"]), **tags}, table.nodata)

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
        classes = [{"code": c, "name": n, "color": list(colors[c])} for c, n in states.items()]
        return cls((ColorInterp.palette,), colors, (description,), (), ({f"CLASS_{c}": n for c, n in states.items()},),
                   {"GEOPIX_CLASSES": json.dumps(classes), **tags})

    @classmethod
    def read(cls, src: Any, drop: tuple[str, ...] = ()) -> BandMetadata:
        """What the open dataset ``src`` says about its bands (dataset tags ``drop`` left out)."""
        palette = src.colorinterp[0] == ColorInterp.palette
        return cls(tuple(src.colorinterp), src.colormap(1) if palette else None,
                   tuple(d or "" for d in src.descriptions), tuple(u or "" for u in src.units),
                   tuple(src.tags(b) for b in range(1, src.count + 1)),
                   {k: v for k, v in src.tags().items() if k not in drop}, src.nodata)

    def categories(self) -> list[Category]:
        """The classes ``GEOPIX_CLASSES`` names: code, name and RGBA (from the tag, else the colour
        table, else opaque grey); empty for bands that hold no class codes."""
        try:
            listed = json.loads(self.tags.get("GEOPIX_CLASSES", "[]"))
            cmap = self.colormap or {}
            return [(int(c["code"]), str(c["name"]),
                     _rgba(c.get("color") or cmap.get(int(c["code"])) or (128, 128, 128, 255))) for c in listed]
        except (ValueError, TypeError, KeyError):
            return []  # a tag damaged by hand names nothing; the TIFF itself is unaffected

    def write_sidecar(self, out: str | os.PathLike[str]) -> None:
        """Write ``<out>.aux.xml`` naming the classes for GDAL and QGIS (category names, colour
        table with alpha, RAT) and QGIS's default style ``<out stem>.qml`` (a legend of the classes
        alone), or remove those left by a file this output replaced: they belong to the file at
        ``out``, and stale ones would rename or recolour its codes. A ``.qml`` geopix did not write
        is the user's style: never replaced nor removed."""
        sidecar, style, classes = sidecar_path(out), qml_path(out), self.categories()
        ours = not style.exists() or _is_ours(style)
        if not classes or max(c[0] for c in classes) > 65535 or min(c[0] for c in classes) < 0:
            for path in (sidecar, style) if ours else (sidecar,):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            return
        with atomic_path(sidecar) as tmp:
            tmp.write_text(pam_xml(classes), encoding="utf-8")
        if ours:
            with atomic_path(style) as tmp:
                tmp.write_text(qml_text(classes), encoding="utf-8")


def _is_ours(style: os.PathLike[str]) -> bool:
    """Whether the QGIS style at ``style`` is one geopix wrote (its first line is the mark)."""
    try:
        with open(style, encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n") == QML_MARK
    except OSError:
        return False


def _rgba(color: Any) -> tuple[int, int, int, int]:
    values = [int(v) for v in color]
    return (values[0], values[1], values[2], values[3] if len(values) > 3 else 255)
