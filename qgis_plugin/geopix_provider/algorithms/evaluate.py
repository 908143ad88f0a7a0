"""``geopix:evaluate``: score a model on an imagery/map pair; the scores as numeric outputs."""

from __future__ import annotations

import json
import os
from typing import Any

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from ..algorithm import GeopixAlgorithm, given

#: numeric output -> key of ``geopix evaluate --json`` (a class model reports "accuracy").
SCORES = {"L1": ("L1",), "PSNR": ("PSNR",), "SSIM": ("SSIM",), "PIXEL_ACCURACY": ("pixel_accuracy", "accuracy"),
          "MIOU": ("mIoU",)}


class Evaluate(GeopixAlgorithm):
    NAME = "evaluate"
    DISPLAY = "Evaluate model"
    HELP = ("Scores a model on an imagery/map pair: L1, PSNR, SSIM, pixel accuracy and, with a palette, per-class "
            "IoU and mIoU. An inpainting model is scored on the imagery alone (holes drawn into it, filled by "
            "geopix and by GDAL FillNodata). The report is written as JSON; the scores are numeric outputs that "
            "a model can use. Runs 'geopix evaluate --json'.")

    def initAlgorithm(self, config: Any = None) -> None:
        self.add_model()
        self.addParameter(QgsProcessingParameterRasterLayer("IMAGERY", "Imagery raster"))
        self.addParameter(QgsProcessingParameterRasterLayer("MAPS", "Map raster (not for inpainting models)",
                                                            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "PALETTE", "Palette JSON for per-class IoU and mIoU", optional=True, fileFilter="Palette JSON (*.json)"))
        self.addParameter(QgsProcessingParameterEnum(
            "WINDOWS", "Windows scored (val: held out in training; auto: val if the pair was trained on)",
            options=["auto", "val", "all"], defaultValue="auto", usesStaticStrings=True))
        self.add_advanced(QgsProcessingParameterNumber(
            "TILE_SIZE", "Window side in pixels [default: the tile translate would use]",
            QgsProcessingParameterNumber.Integer, optional=True, minValue=1))
        self.add_advanced(QgsProcessingParameterNumber(
            "BATCH_SIZE", "Windows per batch", QgsProcessingParameterNumber.Integer, defaultValue=8, minValue=1))
        self.add_device()
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT", "Report", "JSON files (*.json)"))
        for name in SCORES:
            self.addOutput(QgsProcessingOutputNumber(name, name.replace("_", " ").lower()))

    def arguments(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        self.report = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        args = ["evaluate", "--json", "--model", self.model_path(parameters, context),
                "--imagery", self.raster_path(parameters, "IMAGERY", context) or ""]
        maps = self.raster_path(parameters, "MAPS", context)
        args += ["--maps", maps] if maps else []
        if given(parameters, "PALETTE"):
            args += ["--palette", self.parameterAsFile(parameters, "PALETTE", context)]
        args += self.option(parameters, context, "WINDOWS", "--windows", str)
        args += self.option(parameters, context, "TILE_SIZE", "--tile-size", int)
        args += self.option(parameters, context, "BATCH_SIZE", "--batch-size", int)
        return args + self.option(parameters, context, "DEVICE", "--device", str)

    def results(self, parameters: dict[str, Any], context: Any, feedback: Any, outcome: Any) -> dict[str, Any]:
        text = "\n".join(outcome.stdout)
        try:
            report = json.loads(text)
        except ValueError:
            raise QgsProcessingException(f"geopix evaluate printed no JSON report: {text[-200:]}") from None
        tmp = f"{self.report}.partial"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, self.report)
        return {"OUTPUT": self.report, **scores(report)}


def scores(report: Any) -> dict[str, float | None]:
    """The numeric outputs of a report: a translation model's scores, or an inpainting model's
    geopix rows averaged over the hole sizes (None where the report has no such score)."""
    if isinstance(report, list):
        rows = [r for r in report if r.get("method") == "geopix"]
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("PSNR", "SSIM") if rows and all(k in r for r in rows)}
        return {name: mean.get(name) for name in SCORES}
    return {name: next((float(report[k]) for k in keys if report.get(k) is not None), None)
            for name, keys in SCORES.items()}
