"""Class metrics for rendered maps: pixels classified by their nearest palette colour.

A palette lists classes, each with one or more representative RGB colours (a rendered map style
uses several shades per class, and two map styles differ). Each pixel takes the class of the
nearest colour (Euclidean in RGB), in both the prediction and the reference; per-class IoU is
``TP / (TP + FP + FN)`` over valid pixels, and mIoU averages it over the classes that occur in
the reference or the prediction.

Palette file (JSON)::

    {"name": "google-maps",
     "classes": [{"name": "roads", "colors": [[255, 255, 255]]}, ...]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo_pix2pix.tiles.encoding.classes import ClassTable, nearest_colour_classes
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.raster import check_input_file

__all__ = ["Palette", "load_palette", "ClassAccumulator"]


@dataclass(frozen=True)
class Palette:
    """Class names and their representative colours."""

    name: str
    classes: tuple[str, ...]
    colors: np.ndarray  # (K, 3) float32
    color_class: np.ndarray  # (K,) class index of each colour

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """``(3, H, W)`` uint8-valued RGB -> ``(H, W)`` class indexes (nearest colour)."""
        return nearest_colour_classes(rgb, self.colors, self.color_class)

    def class_table(self) -> ClassTable:
        """The palette as a class table (codes 1..K, each class drawn in its first colour) that reads
        RGB pixels as classes."""
        return ClassTable.from_palette(self.classes, self.colors, self.color_class)


def load_palette(path: str | os.PathLike[str]) -> Palette:
    """Read and validate a palette JSON file."""
    p = check_input_file(path, "palette")
    try:
        d = json.loads(Path(p).read_text())
        names, colors, owner = [], [], []
        for i, c in enumerate(d["classes"]):
            names.append(str(c["name"]))
            for col in c["colors"]:
                if len(col) != 3 or not all(0 <= float(v) <= 255 for v in col):
                    raise ValueError(f"class {c['name']!r}: colour {col} is not RGB in 0..255")
                colors.append([float(v) for v in col])
                owner.append(i)
    except (ValueError, KeyError, TypeError) as exc:
        raise GeopixError(f"palette {p} is not a valid palette file ({exc}); see examples/palettes/") from None
    if not colors:
        raise GeopixError(f"palette {p} has no colours")
    return Palette(str(d.get("name", Path(p).stem)), tuple(names), np.array(colors, np.float32),
                   np.array(owner, np.int64))


class ClassAccumulator:
    """Confusion matrix over valid pixels; per-class IoU, mIoU and overall accuracy.

    ``classes`` is a :class:`Palette` (pixels of RGB maps classified by nearest colour, :meth:`add`)
    or the class names of a categorical map (class indexes given directly, :meth:`add_indices`).
    """

    def __init__(self, classes: Palette | Sequence[str]) -> None:
        self.palette = classes if isinstance(classes, Palette) else None
        self.names: tuple[str, ...] = classes.classes if isinstance(classes, Palette) else tuple(classes)
        k = len(self.names)
        self.confusion = np.zeros((k, k), np.int64)  # rows: reference class, columns: predicted

    def add(self, fake_rgb: np.ndarray, real_rgb: np.ndarray, valid: np.ndarray) -> None:
        """``(N, 3, H, W)`` RGB in 0..255 for prediction and reference; ``valid`` ``(N, 1, H, W)``."""
        if self.palette is None:
            raise TypeError("RGB pixels need a palette; use add_indices for class indexes")
        for f, r, v in zip(fake_rgb, real_rgb, valid, strict=True):
            self.add_indices(self.palette.classify(f)[None], self.palette.classify(r)[None], v[None])

    def add_indices(self, pred: np.ndarray, ref: np.ndarray, valid: np.ndarray) -> None:
        """Class indexes ``(N, H, W)`` of prediction and reference; ``valid`` ``(N, H, W)`` or ``(N, 1, H, W)``."""
        k = len(self.names)
        v = np.asarray(valid, bool).reshape(np.shape(pred))
        v &= (ref >= 0) & (ref < k)
        self.confusion += np.bincount(ref[v].astype(np.int64) * k + pred[v], minlength=k * k).reshape(k, k)

    def iou(self) -> dict[str, float]:
        """IoU per class (NaN for a class absent from both reference and prediction)."""
        tp = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(union > 0, tp / union, np.nan)
        return {name: float(v) for name, v in zip(self.names, values, strict=True)}

    def miou(self) -> float:
        vals = [v for v in self.iou().values() if not np.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def accuracy(self) -> float:
        """Share of valid pixels whose predicted class is the reference's."""
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else float("nan")
