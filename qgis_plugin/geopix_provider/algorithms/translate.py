"""``geopix:translate``: a raster layer through a trained model into a georeferenced raster."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..algorithm import GeopixAlgorithm, given
from ..style import style_on_load

DTYPES = ["float32", "float64", "uint8", "uint16", "int16", "int32", "uint32"]


class Translate(GeopixAlgorithm):
    NAME = "translate"
    DISPLAY = "Translate raster"
    HELP = ("Runs a trained geopix model over a raster layer (satellite imagery to a map, or a map to synthetic "
            "imagery) and writes a Cloud Optimized GeoTIFF on the same grid. Class maps are written with their "
            "colour table and load as paletted layers. SPADE models paint in the style of a reference image "
            "(Style) or of a random draw (Seed). Runs 'geopix translate'.")

    def initAlgorithm(self, config: Any = None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Input raster"))
        self.add_model()
        self.add_tiling()
        self.add_advanced(QgsProcessingParameterString(
            "BANDS", "Bands of the input to read, e.g. 1,2,3 [default: the model's input bands]", optional=True))
        self.add_advanced(QgsProcessingParameterEnum(
            "OUTPUT_DTYPE", "Data type of a measured-value output [default: float32]", options=DTYPES,
            optional=True, usesStaticStrings=True))
        self.add_advanced(QgsProcessingParameterFile(
            "PALETTE", "Palette JSON: write an RGB model's map as classes with the palette as colour table",
            optional=True, fileFilter="Palette JSON (*.json)"))
        self.add_advanced(QgsProcessingParameterRasterLayer(
            "STYLE", "SPADE with a style encoder: paint in the style of this reference image", optional=True))
        self.add_advanced(QgsProcessingParameterNumber(
            "SEED", "SPADE with a style encoder: paint in a random style drawn with this seed",
            QgsProcessingParameterNumber.Integer, optional=True))
        self.add_advanced(QgsProcessingParameterBoolean(
            "FORCE", "Translate a region that looks like the other side of the pair (refused otherwise)",
            defaultValue=False))
        self.add_overwrite()
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Translated raster"))

    def arguments(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        args = ["translate", self.raster_path(parameters, "INPUT", context) or "",
                self.output_path(parameters, "OUTPUT", context), "--model", self.model_path(parameters, context)]
        args += self.tiling_args(parameters, context)
        args += self.option(parameters, context, "BANDS", "--bands", str)
        args += self.option(parameters, context, "OUTPUT_DTYPE", "--output-dtype", str)
        if given(parameters, "PALETTE"):
            args += ["--palette", self.parameterAsFile(parameters, "PALETTE", context)]
        style = self.raster_path(parameters, "STYLE", context)
        args += ["--style", style] if style else []
        args += self.option(parameters, context, "SEED", "--seed", int)
        args += self.flag(parameters, context, "FORCE", "--force")
        return args + self.flag(parameters, context, "OVERWRITE", "--overwrite")

    def results(self, parameters: dict[str, Any], context: Any, feedback: Any, outcome: Any) -> dict[str, Any]:
        style_on_load(context, self.outputs["OUTPUT"])  # a class map loads with its classes by name
        return dict(self.outputs)
