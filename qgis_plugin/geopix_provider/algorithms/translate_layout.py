"""``geopix:translate_layout``: a SPADE model paints imagery from vector layers (or a class raster)."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterExtent,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..algorithm import GeopixAlgorithm, given


class TranslateLayout(GeopixAlgorithm):
    NAME = "translate_layout"
    DISPLAY = "Translate class layout (SPADE)"
    HELP = ("Paints synthetic imagery with a SPADE model from a class layout: vector layers burnt onto a grid (the "
            "grid of a reference raster, or an extent, CRS and pixel size), each layer one class named as the "
            "layer (or one class per value of Class field), later layers drawn over earlier ones; or a class "
            "raster as it is. Style and Seed choose the look of a model with a style encoder. Runs 'geopix "
            "translate --layout'.")

    def initAlgorithm(self, config: Any = None) -> None:
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "LAYERS", "Vector layers of the layout (class = layer name)", QgsProcessing.TypeVectorAnyGeometry,
            optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "CLASS_RASTER", "Or a class raster (instead of vector layers)", optional=True))
        self.add_model("SPADE model (model.safetensors or its run folder)")
        self.addParameter(QgsProcessingParameterString(
            "CLASS_FIELD", "Class field (one class per value, for layers that have it)", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "ALL_TOUCHED", "Burn every pixel a feature touches", defaultValue=False))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "LIKE", "Grid: the grid of this raster", optional=True))
        self.addParameter(QgsProcessingParameterExtent("EXTENT", "Grid: extent", optional=True))
        self.addParameter(QgsProcessingParameterCrs("CRS", "Grid: CRS [default: the extent's]", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "RESOLUTION", "Grid: pixel size in CRS units", QgsProcessingParameterNumber.Double, optional=True,
            minValue=0))
        self.add_tiling()
        self.add_advanced(QgsProcessingParameterRasterLayer(
            "STYLE", "Paint in the style of this reference image", optional=True))
        self.add_advanced(QgsProcessingParameterNumber(
            "SEED", "Paint in a random style drawn with this seed", QgsProcessingParameterNumber.Integer,
            optional=True))
        self.add_overwrite()
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Painted raster"))

    def arguments(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        layers = self.parameterAsLayerList(parameters, "LAYERS", context) if given(parameters, "LAYERS") else []
        classes = self.raster_path(parameters, "CLASS_RASTER", context)
        if bool(layers) == bool(classes):
            raise QgsProcessingException("give the layout as vector layers or as a class raster (one of the two)")
        out = self.output_path(parameters, "OUTPUT", context)
        if classes:
            args = ["translate", classes, out]
        else:
            args = ["translate", out, *self.vector_layout(layers, context, feedback)]
            args += self.option(parameters, context, "CLASS_FIELD", "--class-field", str)
            args += self.flag(parameters, context, "ALL_TOUCHED", "--all-touched")
            args += self._grid(parameters, context)
        args += ["--model", self.model_path(parameters, context), *self.tiling_args(parameters, context)]
        style = self.raster_path(parameters, "STYLE", context)
        args += ["--style", style] if style else []
        args += self.option(parameters, context, "SEED", "--seed", int)
        return args + self.flag(parameters, context, "OVERWRITE", "--overwrite")

    def _grid(self, parameters: dict[str, Any], context: Any) -> list[str]:
        """``--like RASTER`` or ``--bounds ... --res ... --crs ...`` from the grid parameters."""
        like = self.raster_path(parameters, "LIKE", context)
        if like:
            return ["--like", like]
        if not (given(parameters, "EXTENT") and given(parameters, "RESOLUTION")):
            raise QgsProcessingException("vector layers need a grid: a reference raster, or an extent and a pixel "
                                         "size")
        crs = (self.parameterAsCrs(parameters, "CRS", context) if given(parameters, "CRS")
               else self.parameterAsExtentCrs(parameters, "EXTENT", context))
        if not crs.isValid():
            raise QgsProcessingException("the grid needs a CRS: set CRS or give the extent with one")
        box = self.parameterAsExtent(parameters, "EXTENT", context, crs)
        return ["--bounds", *(repr(v) for v in (box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum())),
                "--res", repr(self.parameterAsDouble(parameters, "RESOLUTION", context)), "--crs", crs_text(crs)]


def crs_text(crs: QgsCoordinateReferenceSystem) -> str:
    """An EPSG code where the CRS has one, else its WKT (rasterio reads either)."""
    if crs.authid().upper().startswith("EPSG:"):
        return crs.authid()
    return crs.toWkt(QgsCoordinateReferenceSystem.WKT2_2019)
