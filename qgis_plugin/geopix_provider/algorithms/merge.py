"""``geopix:merge``: the parts of a sharded translate into one Cloud Optimized GeoTIFF."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterDestination,
)

from ..algorithm import GeopixAlgorithm, absolute, given


class Merge(GeopixAlgorithm):
    NAME = "merge"
    DISPLAY = "Merge translate shards"
    HELP = ("Joins the parts written by 'geopix translate --shard I/N' (as layers, or a folder of them) into the "
            "Cloud Optimized GeoTIFF, with overviews, that one translate of the whole region writes, pixel for "
            "pixel. A missing or foreign part is named. Runs 'geopix merge'.")

    def initAlgorithm(self, config: Any = None) -> None:
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "INPUT", "Parts (raster files)", QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "FOLDER", "Or the folder of the parts", behavior=QgsProcessingParameterFile.Folder, optional=True))
        self.add_overwrite()
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Merged raster"))

    def arguments(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        parts = [absolute(layer.source()) for layer in self.parameterAsLayerList(parameters, "INPUT", context)] \
            if given(parameters, "INPUT") else []
        if given(parameters, "FOLDER"):
            parts.append(absolute(self.parameterAsFile(parameters, "FOLDER", context)))
        if not parts:
            raise QgsProcessingException("give the parts to merge: as layers, or their folder")
        return ["merge", self.output_path(parameters, "OUTPUT", context), *parts,
                *self.flag(parameters, context, "OVERWRITE", "--overwrite")]
