"""Vector layers as the class layout of training pairs and of translate regions.

:mod:`geo_pix2pix.tiles.encoding.layout` burns layers onto a grid; this module decides which grid and which
classes. For training, each imagery raster's own grid, with the classes the layers define, written
into the run directory (``layouts/``) so that the run can be resumed, its inputs opened in QGIS, and
its class table (``layouts/classes.json``) recorded in the model file. For translate, the grid the
user names (``--like`` or ``--bounds/--res/--crs``) with the model's classes, written to a
temporary directory beside the output and removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.tiles.atomic import atomic_path, mkdtemp_beside
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.layout import Grid, LayoutSpec, layout_classes, layout_table, write_layout
from geo_pix2pix.tiles.errors import GeopixError

__all__ = ["VectorRegion", "layout_pairs", "burnt_region"]


@dataclass(frozen=True)
class VectorRegion:
    """A translate region given as vector layers over a grid (``--layout`` with ``--like`` or
    ``--bounds/--res/--crs``)."""

    layout: LayoutSpec
    grid: Grid


def layout_pairs(imagery: Sequence[str], spec: LayoutSpec, directory: str | os.PathLike[str]
                 ) -> tuple[list[tuple[str, str]], str]:
    """Burn ``spec`` onto every imagery raster's grid; returns the (imagery, layout raster) pairs
    and the path of the class table file, all under ``directory``."""
    table = layout_table(layout_classes(spec))  # reads every layer: one that cannot be read leaves no folder
    d = Path(directory)
    created = next((p for p in reversed([d, *d.parents]) if not p.exists()), None)
    d.mkdir(parents=True, exist_ok=True)
    pairs = []
    try:
        for i, path in enumerate(imagery):
            out = d / f"{i:02d}-{Path(path).stem}.tif"
            write_layout(spec, Grid.like(path), out, table)
            pairs.append((str(path), str(out)))
    except BaseException:  # a refused layout (no feature on a grid) leaves no folder behind either
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    classes = d / "classes.json"
    rows = [json.dumps({"code": c, "name": n, "color": list(col)}) for c, n, col in
            zip(table.codes, table.names, table.colors, strict=True)]
    with atomic_path(classes) as tmp:  # the class table file format (README), one class a line
        tmp.write_text('{"classes": [\n  ' + ",\n  ".join(rows) + "\n]}\n")
    return pairs, str(classes)


def model_layout_table(meta: ModelMeta) -> ClassTable:
    """The classes a model reads its layout as; refused for a model that reads no class codes."""
    table = meta.input_stats
    if not isinstance(table, ClassTable) or table.rgb_colors:
        raise GeopixError(f"this model reads {'a rendered map' if isinstance(table, ClassTable) else 'imagery'}, "
                          "not a class layout: vector layers (--layout) are for models trained on class codes")
    return table


@contextmanager
def burnt_region(region: VectorRegion, meta: ModelMeta, beside: str | os.PathLike[str]) -> Iterator[Path]:
    """The layout burnt with the model's classes into a temporary raster beside ``beside``."""
    table = model_layout_table(meta)
    d = mkdtemp_beside(Path(beside))
    try:
        path = d / "layout.tif"
        write_layout(region.layout, region.grid, path, table)
        yield path
    finally:
        shutil.rmtree(d, ignore_errors=True)
