"""Class rasters: map kinds, class tables, and the one-hot encoding the networks see.

A map is one of three **kinds**:

- ``categorical``: one band of class *codes* (land cover, rasterised roads), usually with a
  colour table. The codes are labels, not quantities: a value between two codes means nothing.
- ``continuous``: measured values (elevation, NDVI, reflectance) in the raster's units.
- ``rendered``: a picture of a map (3 or 4 uint8 bands), learnt as colours.

:func:`infer_map_kind` decides from the raster (a colour table -> categorical; a one-band integer
raster with few distinct values -> categorical; float, or a one-band integer raster with many
values -> continuous; 3/4-band uint8 -> rendered); the user can override it.

A :class:`ClassTable` lists a categorical map's classes (code, name, colour) in a fixed order; the
class *index* (0..K-1) is the position in that order. It plays the part :class:`~.normalize.BandStats`
plays for other rasters, with the same methods, so the tiler, the datasets and the mosaicker use it
unchanged: ``normalize`` turns a band of codes into K one-hot channels in {-1, +1} (unknown codes
and nodata: all -1; they are masked anyway), ``denormalize`` turns K channels of class scores
(probabilities blended across tile overlaps, never codes) into the code of the arg-max class.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError

__all__ = ["MAP_KINDS", "ClassTable", "PalettedOutput", "ProbabilityOutput", "infer_map_kind", "load_class_table",
           "codec_from_dict", "nearest_colour_classes", "MAX_AUTO_CLASSES"]

MAP_KINDS = ("categorical", "continuous", "rendered")
#: A one-band integer raster without a colour table with at most this many distinct values is
#: taken as classes (a 0/1 road mask, a 12-class land cover written without a palette).
MAX_AUTO_CLASSES = 32


def infer_map_kind(dtype: str, bands: int, has_colors: bool, distinct: int | None) -> str:
    """The kind of a map read as ``bands`` bands of ``dtype``.

    ``has_colors``: the (first) band carries a colour table; ``distinct``: number of distinct
    values among its valid pixels (``None`` if not counted).
    """
    dt = np.dtype(dtype)
    if bands == 1 and has_colors:
        return "categorical"
    if bands == 1 and np.issubdtype(dt, np.integer) and distinct is not None and distinct <= MAX_AUTO_CLASSES:
        return "categorical"
    if bands in (3, 4) and dt == np.uint8:
        return "rendered"
    return "continuous"


@dataclass(frozen=True)
class ClassTable:
    """The classes of a categorical raster, in index order.

    Attributes:
        codes: raster value of each class.
        names: class names (``class <code>`` when nothing names them).
        colors: RGBA colour of each class (from the colour table or the class table file).
        dtype: dtype of the codes written (uint8, or uint16 above 255 classes or codes).
        nodata: code written where the input is invalid; never a class's code.
        rgb_colors / rgb_classes: for a rendered RGB map read as classes (``--classes-from-palette``):
            the palette's colours and the class index of each; the map's pixels are then RGB and each
            takes the class of its nearest colour (:func:`nearest_colour_classes`).
    """

    codes: tuple[int, ...]
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int, int], ...]
    dtype: str = "uint8"
    nodata: int = 255
    rgb_colors: tuple[tuple[float, float, float], ...] = ()
    rgb_classes: tuple[int, ...] = ()

    kind = "categorical"

    def __post_init__(self) -> None:
        if not self.codes:
            raise GeopixError("a class table needs at least one class")
        if len(set(self.codes)) != len(self.codes):
            raise GeopixError(f"class codes must be unique, got {list(self.codes)}")
        if self.nodata in self.codes:
            raise GeopixError(f"the nodata code {self.nodata} is also a class code")

    @classmethod
    def build(cls, codes: list[int], names: dict[int, str] | None = None,
              colors: dict[int, tuple[int, ...]] | None = None, nodata: float | None = None) -> ClassTable:
        """A table for ``codes`` (sorted), naming and colouring what ``names``/``colors`` know.

        Rule: the codes stay uint8 while they fit in 0..255 and leave one code free for nodata
        (GIS clients draw a byte raster's colour table as its legend; a wider type for a 0/255
        mask would list 65,536 entries); otherwise uint16. The output nodata is the map's own
        nodata code if it is usable, else the type's top code (255, 65535) if free, else the
        highest free code below it, so that it lands where a legend ends.

        Classes without a colour get distinct hues, except a binary mask with no colours at all
        (codes 0 and one other, such as a 0/255 road mask): it keeps the black and white of its
        greyscale display, rather than a saturated hue for the background over the imagery.
        """
        codes = sorted({int(c) for c in codes})
        names, colors = names or {}, colors or {}
        if not colors and len(codes) == 2 and codes[0] == 0:
            colors = {0: (0, 0, 0), codes[1]: (255, 255, 255)}
        wide = min(codes) < 0 or max(codes) > 255 or len(codes) > 255
        dtype = "uint16" if wide else "uint8"
        top = 65535 if wide else 255
        if nodata is not None and float(nodata).is_integer() and int(nodata) not in codes and 0 <= nodata <= top:
            nd = int(nodata)
        else:
            taken = set(codes)
            nd = next(c for c in range(top, -1, -1) if c not in taken)
        return cls(tuple(codes), tuple(names.get(c, f"class {c}") for c in codes),
                   tuple(_rgba(colors.get(c, _default_color(i))) for i, c in enumerate(codes)), dtype, nd)

    @classmethod
    def from_palette(cls, names: tuple[str, ...], colors: np.ndarray, color_class: np.ndarray,
                     codes: tuple[int, ...] | None = None) -> ClassTable:
        """The classes of a palette: codes 1..K (or ``codes``), each drawn in its first colour."""
        codes = codes or tuple(range(1, len(names) + 1))
        first = {int(k): tuple(int(round(v)) for v in colors[list(color_class).index(k)]) for k in range(len(names))}
        table = cls.build(list(codes), dict(zip(codes, names, strict=True)), {c: first[i] for i, c in enumerate(codes)})
        rgb = tuple(tuple(float(v) for v in c) for c in colors)  # (K, 3)
        return replace(table, rgb_colors=cast("tuple[tuple[float, float, float], ...]", rgb),
                       rgb_classes=tuple(int(k) for k in color_class))

    @property
    def class_table(self) -> ClassTable:
        """The table whose codes, colours and names an output carries (itself)."""
        return self

    @property
    def bands(self) -> int:
        """Channels the network predicts or reads: one per class."""
        return len(self.codes)

    @property
    def out_bands(self) -> int:
        """Bands written: one band of codes."""
        return 1

    def indices(self, codes: np.ndarray) -> np.ndarray:
        """Class index of every code (``-1`` for a code not in the table)."""
        lut_codes = np.asarray(self.codes, np.int64)
        order = np.argsort(lut_codes)
        flat = np.asarray(codes).astype(np.int64, copy=False)
        pos = np.clip(np.searchsorted(lut_codes[order], flat), 0, len(order) - 1)
        found = lut_codes[order][pos] == flat
        return np.where(found, order[pos], -1)

    def class_indices(self, data: np.ndarray) -> np.ndarray:
        """``(h, w)`` class index of raw map pixels: ``(1, h, w)`` codes (-1 for an unknown code), or
        ``(3, h, w)`` RGB read through the palette."""
        if self.rgb_colors:
            return nearest_colour_classes(data, np.asarray(self.rgb_colors, np.float32), np.asarray(self.rgb_classes))
        return self.indices(data[0])

    def unknown_codes(self, codes: np.ndarray) -> list[int]:
        """Codes in ``codes`` that are not classes of this table, sorted."""
        values = np.unique(np.asarray(codes))
        return [int(v) for v in values[self.indices(values) < 0]]

    def normalize(self, data: np.ndarray) -> np.ndarray:
        """``(1, h, w)`` codes (or ``(3, h, w)`` RGB with a palette) -> ``(K, h, w)`` float32 one-hot in
        {-1, +1} (unknown codes: all -1); a batch ``(N, 1, h, w)`` -> ``(N, K, h, w)``."""
        if data.ndim == 4:
            return np.stack([self.normalize(d) for d in data])
        idx = self.class_indices(data)
        out = np.full((self.bands, *idx.shape), -1.0, np.float32)
        rows, cols = np.nonzero(idx >= 0)
        out[idx[rows, cols], rows, cols] = 1.0
        return out

    def denormalize(self, data: np.ndarray) -> np.ndarray:
        """``(K, h, w)`` class scores -> ``(1, h, w)`` codes of the arg-max class."""
        codes = np.asarray(self.codes, np.dtype(self.dtype))
        return cast(np.ndarray, codes[np.argmax(data, axis=0)][None])

    def colormap(self) -> dict[int, tuple[int, int, int, int]]:
        """GDAL colour table entries: every class's colour, the nodata code transparent."""
        cmap = {c: col for c, col in zip(self.codes, self.colors, strict=True)}
        cmap[self.nodata] = (0, 0, 0, 0)
        return cmap

    def to_rgb(self, scores: np.ndarray) -> np.ndarray:
        """``(K, h, w)`` class scores -> ``(3, h, w)`` uint8 colours of the arg-max class (previews)."""
        rgb = np.asarray([c[:3] for c in self.colors], np.uint8)
        return np.moveaxis(rgb[np.argmax(scores, axis=0)], -1, 0)

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "dtype": self.dtype, "nodata": self.nodata,
             "classes": [{"code": c, "name": n, "color": list(col)}
                         for c, n, col in zip(self.codes, self.names, self.colors, strict=True)]}
        if self.rgb_colors:
            d["palette"] = {"colors": [list(c) for c in self.rgb_colors], "classes": list(self.rgb_classes)}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassTable:
        classes = d["classes"]
        pal = d.get("palette") or {}
        return cls(tuple(int(c["code"]) for c in classes), tuple(str(c["name"]) for c in classes),
                   tuple(_rgba(c["color"]) for c in classes), str(d.get("dtype", "uint8")), int(d.get("nodata", 255)),
                   cast("tuple[tuple[float, float, float], ...]",
                        tuple(tuple(float(v) for v in c) for c in pal.get("colors", ()))),
                   tuple(int(k) for k in pal.get("classes", ())))


class PalettedOutput:
    """An RGB model's output turned into classes (``translate --palette``): the blended RGB is
    converted to colours as usual, then every pixel takes the code of its nearest palette colour."""

    kind = "categorical"

    def __init__(self, rgb: BandStats, table: ClassTable) -> None:
        if not table.rgb_colors:
            raise GeopixError("a palette output needs a class table made from a palette")
        self.rgb, self.class_table = rgb, table
        self.dtype, self.nodata, self.units = table.dtype, table.nodata, None

    @property
    def bands(self) -> int:
        return self.rgb.bands

    @property
    def out_bands(self) -> int:
        return 1

    def denormalize(self, data: np.ndarray) -> np.ndarray:
        idx = self.class_table.class_indices(self.rgb.denormalize(data))
        return cast(np.ndarray, np.asarray(self.class_table.codes, np.dtype(self.dtype))[idx][None])


class ProbabilityOutput:
    """Per-class probabilities of a class model as a float32 raster (``translate --probabilities``):
    band ``k`` is class ``k``'s probability, blended across tile overlaps like the codes' scores."""

    kind = "probabilities"
    dtype = "float32"
    nodata = float("nan")
    units = None
    class_table = None

    def __init__(self, table: ClassTable) -> None:
        self.table = table

    @property
    def bands(self) -> int:
        return self.table.bands

    @property
    def out_bands(self) -> int:
        return self.table.bands

    @property
    def band_names(self) -> tuple[str, ...]:
        return self.table.names

    def denormalize(self, data: np.ndarray) -> np.ndarray:
        """Scores in [-1, 1] (``2 p - 1``) -> probabilities in [0, 1]."""
        return cast(np.ndarray, np.clip((np.asarray(data, np.float32) + 1.0) * 0.5, 0.0, 1.0))


#: An array of one library: ``numpy.ndarray`` or ``torch.Tensor``.
ArrayT = TypeVar("ArrayT")


def nearest_colour_classes(pixels: ArrayT, colors: ArrayT, color_class: ArrayT) -> ArrayT:
    """``(..., C, H, W)`` pixels -> ``(..., H, W)`` class index of each pixel's nearest colour.

    The one palette classifier of geopix: metrics, training targets and ``translate --palette``
    (numpy), the class-balanced L1 and the palette head's targets (torch) all call it.

    Rule: nearest is Euclidean in the pixels' space (RGB values, or the network's normalised
    space), so anti-aliased edges between two classes go to the nearer one; a tie goes to the
    first colour. Since ``|p - c|^2 = |p|^2 - 2 p.c + |c|^2`` and ``|p|^2`` is the same for every
    colour, the nearest colour has the largest ``p.c - |c|^2 / 2``: one contraction over the
    channels (a 1x1 convolution) rather than a ``(..., K, C, H, W)`` difference tensor. On
    integer RGB values and palettes every term is exact in float32, so the classes do not depend
    on the order in which a library sums.

    Args:
        pixels: numpy array or torch tensor, computed in float32.
        colors: ``(K, C)`` colours, and ``color_class`` ``(K,)`` the class index of each, in the
            pixels' library (and device).
    """
    xp = _array_module(pixels)  # numpy or torch, found from the type: this module never imports torch
    x, c, owner = xp.asarray(pixels, dtype=xp.float32), cast(Any, colors), cast(Any, color_class)
    score = xp.einsum("...chw,kc->...khw", x, c) - 0.5 * (c * c).sum(1)[:, None, None]
    return cast(ArrayT, owner[score.argmax(-3)])


def _array_module(array: Any) -> Any:
    """The library of ``array`` (``numpy`` for an ndarray, ``torch`` for a tensor): the rule above
    uses only functions both spell alike (``asarray``, ``einsum``, ``float32``)."""
    return sys.modules[type(array).__module__.partition(".")[0]]


def codec_from_dict(d: dict[str, Any]) -> BandStats | ClassTable:
    """The value encoding a model file records for one side: a class table or band statistics."""
    return ClassTable.from_dict(d) if d.get("kind") == "categorical" else BandStats.from_dict(d)


def load_class_table(path: str | os.PathLike[str]) -> tuple[list[int], dict[int, str], dict[int, tuple[int, ...]]]:
    """Codes, names and colours from a class table file.

    JSON: ``{"classes": [{"code": 1, "name": "water", "color": [0, 197, 255]}, ...]}`` (``color``
    optional, RGB or RGBA); CSV: ``code,name[,r,g,b]`` rows, an optional header.
    """
    from geo_pix2pix.tiles.raster import check_input_file

    p = Path(check_input_file(path, "class table"))
    codes: list[int] = []
    names: dict[int, str] = {}
    colors: dict[int, tuple[int, ...]] = {}
    try:
        if p.suffix.lower() == ".json":
            for c in json.loads(p.read_text())["classes"]:
                code = int(c["code"])
                codes.append(code)
                names[code] = str(c.get("name", f"class {code}"))
                if c.get("color") is not None:
                    colors[code] = _rgba(c["color"])
        else:
            import csv

            with open(p, newline="") as f:
                for row in csv.reader(f):
                    if not row or row[0].strip().startswith("#") or row[0].strip().lower() == "code":
                        continue
                    code = int(row[0])
                    codes.append(code)
                    names[code] = row[1].strip() if len(row) > 1 and row[1].strip() else f"class {code}"
                    if len(row) >= 5:
                        colors[code] = _rgba([int(v) for v in row[2:6]])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise GeopixError(f"class table {p} is not valid ({exc}); expected JSON {{\"classes\": [{{\"code\": 1, "
                          "\"name\": \"water\", \"color\": [0, 197, 255]}}]}} or CSV rows code,name,r,g,b") from None
    if not codes:
        raise GeopixError(f"class table {p} lists no classes")
    if len(set(codes)) != len(codes):
        raise GeopixError(f"class table {p} lists a code twice")
    return codes, names, colors


def _rgba(color: Any) -> tuple[int, int, int, int]:
    values = [int(v) for v in color]
    if len(values) not in (3, 4) or not all(0 <= v <= 255 for v in values):
        raise GeopixError(f"colour {color} is not RGB(A) in 0..255")
    return (values[0], values[1], values[2], values[3] if len(values) == 4 else 255)


def _default_color(i: int) -> tuple[int, int, int]:
    """Distinct colours for classes without one (golden-angle hues)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65, 0.9)
    return (round(r * 255), round(g * 255), round(b * 255))
