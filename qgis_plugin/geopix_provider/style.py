"""Class maps as QGIS shows them: a paletted layer of geopix's classes, by name, in their colours.

geopix writes a class map's colour table (which QGIS alone already draws as a paletted layer, but
with all 256 codes in the legend, named by number) and its classes as the ``GEOPIX_CLASSES``
metadata item (code, name, colour). When Processing loads such an output into the project, the
post-processor here gives it a paletted renderer of just those classes, labelled with their names.
"""

from __future__ import annotations

import json
from typing import Any

from qgis.core import (
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
)
from qgis.PyQt.QtGui import QColor


def classes_of(path: str) -> list[dict[str, Any]]:
    """The ``GEOPIX_CLASSES`` of a raster written by geopix (empty for any other raster)."""
    from osgeo import gdal  # QGIS's own GDAL, already loaded by QGIS

    ds = gdal.Open(path)
    text = ds.GetMetadataItem("GEOPIX_CLASSES") if ds is not None else None
    try:
        classes = json.loads(text) if text else []
    except ValueError:
        return []
    return [c for c in classes if isinstance(c, dict) and {"code", "name", "color"} <= set(c)]


class ClassStyle(QgsProcessingLayerPostProcessorInterface):
    """Sets the paletted renderer of geopix's classes on a class map Processing loads."""

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: Any) -> None:  # noqa: N802
        if not isinstance(layer, QgsRasterLayer) or layer.bandCount() != 1:
            return
        classes = classes_of(layer.source())
        if not classes:
            return
        entries = [QgsPalettedRasterRenderer.Class(int(c["code"]), QColor(*c["color"][:4]), str(c["name"]))
                   for c in classes]  # RGBA where recorded: a transparent class (the record's "kept") stays so
        layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, entries))
        layer.triggerRepaint()


#: One instance for every output: Processing keeps only a pointer to a post-processor, so it must
#: outlive the algorithm that attached it.
CLASS_STYLE = ClassStyle()


def style_on_load(context: QgsProcessingContext, path: str) -> None:
    """Have ``path`` styled by its classes if Processing loads it when the algorithm completes."""
    if context.willLoadLayerOnCompletion(path):
        context.layerToLoadOnCompletionDetails(path).setPostProcessor(CLASS_STYLE)
