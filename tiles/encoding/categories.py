"""Class names as GDAL and QGIS read them: the PAM sidecar ``<raster>.aux.xml``.

GDAL reads a band's *category names* (``GDALGetRasterCategoryNames``, index = code) and its
*raster attribute table* (RAT) through its persistent auxiliary metadata (PAM). The GeoTIFF and
COG drivers keep neither inside the TIFF: GDAL itself writes them to ``<raster>.aux.xml``, and
rasterio has no writer for them, so geopix writes that XML itself. QGIS's paletted renderer labels
each colour-table entry with the category name of its code (a number where none is given), and a
TIFF colour map always has 256 (uint8) or 65,536 (uint16) entries with no alpha; a PAM colour
table overrides it, so the sidecar also carries a colour table that ends at the highest class
code, with each class's alpha (codes that are no class are transparent).

What survives a copy of the TIFF alone is inside it: the ``GEOPIX_CLASSES`` tag (code, name,
colour of every class) and the RGB colour map. The sidecar is derived from them
(:meth:`~geo_pix2pix.tiles.mosaic.metadata.BandMetadata.write_sidecar`).

QGIS 3.22 lists every colour-table entry in the legend, so a 0/255 mask still shows 256 items
(254 of them transparent and numbered). QGIS loads a file's default style ``<raster stem>.qml``
when it opens the raster, so geopix also writes one (:func:`qml_text`): a paletted renderer of the
classes alone, by name and in their colours. It is geopix's own (:data:`QML_MARK`): a ``.qml``
without that mark is the user's style and is left alone.

Reading (:func:`read_categories`) takes names from a map's category names, then from a RAT's
name column for codes still unnamed, so that a map named in GDAL (by QGIS, ArcGIS or
``gdal_edit``) trains a model whose outputs carry the same names.
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

__all__ = ["QML_MARK", "Category", "pam_xml", "qml_path", "qml_text", "read_categories", "sidecar_path"]

#: One class: its code, name and RGBA colour.
Category = tuple[int, str, tuple[int, int, int, int]]

# GDALRATFieldType and GDALRATFieldUsage values (gdal.h).
_INTEGER, _STRING = 0, 2
_NAME, _MIN, _MINMAX, _RED, _GREEN, _BLUE, _ALPHA = 2, 3, 5, 6, 7, 8, 9
_TRANSPARENT = (0, 0, 0, 0)


def sidecar_path(raster: str | os.PathLike[str]) -> Path:
    """Where GDAL looks for a raster's PAM: ``<raster>.aux.xml``."""
    return Path(f"{os.fspath(raster)}.aux.xml")


#: The first line of a QGIS style geopix wrote: only such a file is replaced or removed.
QML_MARK = "<!-- geopix: the classes of the raster beside this file -->"


def qml_path(raster: str | os.PathLike[str]) -> Path:
    """Where QGIS looks for a raster's default style: ``<raster stem>.qml`` beside it."""
    return Path(raster).with_suffix(".qml")


def qml_text(classes: Sequence[Category], band: int = 1) -> str:
    """A QGIS style (QML) with a paletted renderer of ``classes`` alone (value, colour, alpha,
    name): the legend QGIS shows is the classes, not every code up to the highest one."""
    root = ET.Element("qgis", version="3.22.0", styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band=str(band), opacity="1",
                             alphaBand="-1", nodataColor="")
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for code, name, (r, g, b, a) in sorted(classes):
        ET.SubElement(palette, "paletteEntry", value=str(code), color=f"#{r:02x}{g:02x}{b:02x}",
                      alpha=str(a), label=name)
    ET.indent(root)
    doctype = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
    return f"{QML_MARK}\n{doctype}\n{ET.tostring(root, encoding='unicode')}\n"


def pam_xml(classes: Sequence[Category], band: int = 1) -> str:
    """The PAM XML that names ``classes`` on ``band``: palette colour interpretation, a colour
    table and category names for codes 0..max (codes that are no class: transparent, unnamed),
    and a thematic RAT with one row per class (value, name, RGBA)."""
    by_code = {code: (name, rgba) for code, name, rgba in classes}
    top = max(by_code)
    root = ET.Element("PAMDataset")
    rb = ET.SubElement(root, "PAMRasterBand", band=str(band))
    ET.SubElement(rb, "ColorInterp").text = "Palette"
    table = ET.SubElement(rb, "ColorTable")
    names = ET.SubElement(rb, "CategoryNames")
    for code in range(top + 1):
        name, rgba = by_code.get(code, ("", _TRANSPARENT))
        ET.SubElement(table, "Entry", {f"c{i + 1}": str(v) for i, v in enumerate(rgba)})
        ET.SubElement(names, "Category").text = name
    rat = ET.SubElement(rb, "GDALRasterAttributeTable", tableType="thematic")
    fields = (("Value", _INTEGER, _MINMAX), ("Class", _STRING, _NAME), ("Red", _INTEGER, _RED),
              ("Green", _INTEGER, _GREEN), ("Blue", _INTEGER, _BLUE), ("Alpha", _INTEGER, _ALPHA))
    for i, (fname, ftype, usage) in enumerate(fields):
        fd = ET.SubElement(rat, "FieldDefn", index=str(i))
        ET.SubElement(fd, "Name").text = fname
        ET.SubElement(fd, "Type").text = str(ftype)
        ET.SubElement(fd, "Usage").text = str(usage)
    for row, (code, (name, rgba)) in enumerate(sorted(by_code.items())):
        r = ET.SubElement(rat, "Row", index=str(row))
        for value in (code, name, *rgba):
            ET.SubElement(r, "F").text = str(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def read_categories(raster: str | os.PathLike[str], band: int = 1) -> dict[int, str]:
    """Class names of ``band`` that GDAL would read from the raster's PAM sidecar: category names
    (index = code; empty ones skipped), then a RAT's name column for codes still unnamed. ``{}``
    without a sidecar, or one GDAL could not read either (a damaged file names no class)."""
    path = sidecar_path(raster)
    if not path.is_file():
        return {}
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return {}
    node = next((b for b in root.iter("PAMRasterBand") if b.get("band", "1") == str(band)), None)
    if node is None:
        return {}
    names = {i: (c.text or "").strip() for i, c in enumerate(node.findall("CategoryNames/Category"))}
    names = {code: name for code, name in names.items() if name}
    for code, name in _rat_names(node.find("GDALRasterAttributeTable")).items():
        names.setdefault(code, name)
    return names


def _rat_names(rat: ET.Element | None) -> dict[int, str]:
    """code -> name of a RAT: the name column (usage Name, else the first string column) against
    the value column (usage MinMax or Min, else a column called ``value``), or the row's own value
    where the table is linearly binned (``Row0Min`` + row x ``BinSize``)."""
    if rat is None:
        return {}
    defs = {int(f.get("index", -1)): (f.findtext("Name", "").lower(), int(f.findtext("Type", "-1")),
                                     int(f.findtext("Usage", "-1"))) for f in rat.findall("FieldDefn")}
    name_col = next((i for i, d in defs.items() if d[2] == _NAME), None)
    if name_col is None:
        name_col = next((i for i, d in defs.items() if d[1] == _STRING), None)
    value_col = next((i for i, d in defs.items() if d[2] in (_MINMAX, _MIN) or d[0] == "value"), None)
    if name_col is None:
        return {}
    row0, size = float(rat.findtext("Row0Min", "0")), float(rat.findtext("BinSize", "1"))
    out: dict[int, str] = {}
    for row in rat.findall("Row"):
        cells = [f.text or "" for f in row.findall("F")]
        with contextlib.suppress(ValueError, IndexError):
            value = float(cells[value_col]) if value_col is not None else row0 + int(row.get("index", -1)) * size
            if value.is_integer() and cells[name_col].strip():
                out[int(value)] = cells[name_col].strip()
    return out
