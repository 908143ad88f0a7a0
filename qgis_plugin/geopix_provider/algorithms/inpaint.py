"""``geopix:inpaint``: fill the holes of a raster layer (clouds, stripes, nodata) with a trained model."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..algorithm import VECTOR_FORMATS, GeopixAlgorithm, given


class Inpaint(GeopixAlgorithm):
    NAME = "inpaint"
    DISPLAY = "Inpaint raster holes"
    HELP = ("Fills the holes of a raster layer with a model trained with 'geopix train --task inpaint': its own "
            "nodata, alpha and NaN pixels, or the holes given as polygons (e.g. clouds) or as a mask raster "
            "(non-zero = hole). Holes wider than twice Max hole stay nodata. The second output records which "
            "pixels were filled (0 kept, 1 filled, 2 hole too large, 3 input nodata outside the holes). "
            "Runs 'geopix inpaint'.")

    def initAlgorithm(self, config: Any = None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Input raster"))
        self.add_model("Inpainting model (model.safetensors or its run folder)")
        self.addParameter(QgsProcessingParameterFeatureSource(
            "HOLES", "Holes as polygons [default: the raster's own nodata]", [QgsProcessing.TypeVectorPolygon],
            optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "HOLES_MASK", "Holes as a mask raster (non-zero = hole)", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "MAX_HOLE", "Max hole: farthest distance to a known pixel, in pixels [default: 24]",
            QgsProcessingParameterNumber.Double, optional=True, minValue=0))
        self.add_tiling()
        self.add_overwrite()
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Filled raster"))
        self.addParameter(QgsProcessingParameterRasterDestination("RECORD", "Filled-pixels record"))

    def arguments(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        args = ["inpaint", self.raster_path(parameters, "INPUT", context) or "",
                self.output_path(parameters, "OUTPUT", context), "--model", self.model_path(parameters, context),
                "--record", self.output_path(parameters, "RECORD", context)]
        mask = self.raster_path(parameters, "HOLES_MASK", context)
        if given(parameters, "HOLES") and mask:
            raise QgsProcessingException("give the holes as polygons or as a mask raster, not both")
        if given(parameters, "HOLES"):
            args += ["--holes", self.parameterAsCompatibleSourceLayerPath(parameters, "HOLES", context, VECTOR_FORMATS,
                                                                          "gpkg", feedback)]
        elif mask:
            args += ["--holes", mask]
        args += self.option(parameters, context, "MAX_HOLE", "--max-hole", float)
        args += self.tiling_args(parameters, context)
        return args + self.flag(parameters, context, "OVERWRITE", "--overwrite")
