"""``geopix:info``: the description of a model file or a raster, as text."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingOutputString, QgsProcessingParameterBoolean, QgsProcessingParameterFile

from ..algorithm import GeopixAlgorithm, absolute


class Info(GeopixAlgorithm):
    NAME = "info"
    DISPLAY = "Describe model or raster"
    HELP = ("Describes a geopix model (family, direction, bands, tile size, classes, training) or a raster (CRS, "
            "size, pixel size, bands, nodata, bounds). The text is the algorithm's output and is also written "
            "to the log. Runs 'geopix info'.")

    def initAlgorithm(self, config: Any = None) -> None:
        self.addParameter(QgsProcessingParameterFile("INPUT", "Model file or raster",
                                                     behavior=QgsProcessingParameterFile.File,
                                                     fileFilter="All files (*)"))
        self.addParameter(QgsProcessingParameterBoolean("JSON", "As JSON", defaultValue=False))
        self.addOutput(QgsProcessingOutputString("OUTPUT", "Description"))

    def arguments(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        return ["info", absolute(self.parameterAsFile(parameters, "INPUT", context)),
                *self.flag(parameters, context, "JSON", "--json")]

    def results(self, parameters: dict[str, Any], context: Any, feedback: Any, outcome: Any) -> dict[str, Any]:
        return {"OUTPUT": "\n".join(outcome.stdout)}
