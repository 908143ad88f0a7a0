"""``geopix:train``: train a model from raster layers (or a pairs file), or continue a run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..algorithm import GeopixAlgorithm, absolute, given, raster_file


class Train(GeopixAlgorithm):
    NAME = "train"
    DISPLAY = "Train model"
    HELP = ("Trains a Pix2Pix-family model on imagery and map layers (paired in order), a pairs CSV or, for "
            "SPADE, vector layout layers; Task inpaint learns to fill holes from imagery alone. Training runs for "
            "Steps or a Time budget (e.g. 20m). Progress goes to the progress bar, the losses to the log. Cancel "
            "stops it as Ctrl-C does: the current step finishes and a checkpoint is written; run the algorithm "
            "again on the same run folder with Resume checked to continue. Further 'geopix train' options (see "
            "'geopix train --help') go in Extra options. Runs 'geopix train'.")

    def initAlgorithm(self, config: Any = None) -> None:
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "IMAGERY", "Imagery layers", QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "MAPS", "Map layers (paired in order with the imagery)", QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "PAIRS", "Or a pairs CSV (imagery,map rows)", optional=True, fileFilter="CSV (*.csv)"))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "LAYOUT", "SPADE: vector layout layers (class = layer name)", QgsProcessing.TypeVectorAnyGeometry,
            optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "TASK", "Task", options=["translate", "inpaint"], defaultValue="translate", usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterEnum(
            "FAMILY", "Family [default: pix2pix; inpaint for the inpaint task]",
            options=["pix2pix", "pix2pixhd", "spade", "inpaint"], optional=True, usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterEnum(
            "DIRECTION", "Direction", options=["sat2map", "map2sat"], defaultValue="sat2map",
            usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterNumber(
            "STEPS", "Steps [default: 1000]", QgsProcessingParameterNumber.Integer, optional=True, minValue=1))
        self.addParameter(QgsProcessingParameterString(
            "TIME_BUDGET", "Or a time budget (e.g. 20m, 90s, 1h30m)", optional=True))
        self.add_advanced(QgsProcessingParameterNumber(
            "TILE_SIZE", "Training tile side in pixels [default: by recipe]", QgsProcessingParameterNumber.Integer,
            optional=True, minValue=32))
        self.add_advanced(QgsProcessingParameterNumber(
            "BATCH_SIZE", "Tiles per step [default: by recipe]", QgsProcessingParameterNumber.Integer,
            optional=True, minValue=1))
        self.add_advanced(QgsProcessingParameterFile(
            "INIT_FROM", "Start the generator from this run folder's (an inpaint run on imagery without maps, or "
            "another city's model; the same network)", behavior=QgsProcessingParameterFile.Folder, optional=True))
        self.add_device()
        self.add_advanced(QgsProcessingParameterString(
            "EXTRA_OPTIONS", "Extra options of 'geopix train', e.g. --ngf 16 --lambda-l1 200", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "RESUME", "Resume: continue the run in the run folder from its last checkpoint", defaultValue=False))
        self.add_overwrite()
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Run folder"))
        self.addOutput(QgsProcessingOutputFile("MODEL", "Model file"))
        self.addOutput(QgsProcessingOutputNumber("STEP", "Steps trained"))

    def arguments(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        self.run_dir = absolute(self.parameterAsFileOutput(parameters, "OUTPUT", context))
        self.resume = self.parameterAsBool(parameters, "RESUME", context)
        args = ["train", "--resume", self.run_dir] if self.resume else ["train", "--out", self.run_dir,
                                                                          *self._data(parameters, context, feedback)]
        args += self.option(parameters, context, "STEPS", "--steps", int)
        args += self.option(parameters, context, "TIME_BUDGET", "--time-budget", str)
        if not self.resume:
            args += self.option(parameters, context, "TILE_SIZE", "--tile-size", int)
            args += self.option(parameters, context, "BATCH_SIZE", "--batch-size", int)
            args += self.flag(parameters, context, "OVERWRITE", "--overwrite")
            if given(parameters, "INIT_FROM"):
                args += ["--init-from", absolute(self.parameterAsFile(parameters, "INIT_FROM", context))]
        args += self.option(parameters, context, "DEVICE", "--device", str)
        extra = self.parameterAsString(parameters, "EXTRA_OPTIONS", context) if given(parameters, "EXTRA_OPTIONS") \
            else ""
        try:
            args += shlex.split(extra)  # split as a shell would, never run by one
        except ValueError as exc:
            raise QgsProcessingException(f"Extra options: {exc} in {extra!r}") from None
        self.budget = None if self.resume else seconds(self.parameterAsString(parameters, "TIME_BUDGET", context))
        return args

    def _data(self, parameters: dict[str, Any], context: Any, feedback: Any) -> list[str]:
        """The training data: imagery/map layers, a pairs CSV or layout layers, as train's options."""
        args = []
        for name, flag in (("IMAGERY", "--imagery"), ("MAPS", "--maps")):
            for layer in self.parameterAsLayerList(parameters, name, context) if given(parameters, name) else []:
                args += [flag, raster_file(layer)]
        if given(parameters, "PAIRS"):
            args += ["--pairs", absolute(self.parameterAsFile(parameters, "PAIRS", context))]
        if given(parameters, "LAYOUT"):
            layers = self.parameterAsLayerList(parameters, "LAYOUT", context)
            args += self.vector_layout(layers, context, feedback)
        args += ["--task", self.parameterAsString(parameters, "TASK", context) or "translate"]
        args += self.option(parameters, context, "FAMILY", "--family", str)
        return args + self.option(parameters, context, "DIRECTION", "--direction", str)

    def execute(self, args: list[str], feedback: Any, expected_seconds: float | None = None) -> Any:
        return super().execute(args, feedback, expected_seconds=self.budget)

    def on_canceled(self, outcome: Any, feedback: Any) -> None:
        if (Path(self.run_dir) / "checkpoint.pt").exists():
            feedback.pushInfo(f"geopix: the run is saved in {self.run_dir}: run geopix:train again with this run "
                              f"folder and Resume checked (more Steps or a longer Time budget) to continue")

    def results(self, parameters: dict[str, Any], context: Any, feedback: Any, outcome: Any) -> dict[str, Any]:
        step = next((int(m.group(1)) for line in outcome.stdout if (m := re.search(r"trained to step (\d+)", line))),
                    None)
        return {"OUTPUT": self.run_dir, "MODEL": str(Path(self.run_dir) / "model.safetensors"), "STEP": step}


def seconds(text: str | None) -> float | None:
    """A time budget as geopix reads it (``20m``, ``90s``, ``1h30m``, plain seconds), for the
    progress bar only: geopix itself validates it and says what is wrong."""
    text = (text or "").strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
