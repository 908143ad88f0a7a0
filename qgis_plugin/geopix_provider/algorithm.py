"""The shared base of the geopix algorithms: checks, parameters as command-line arguments, one run.

Every algorithm is a thin class that declares its parameters and turns their values into the
arguments of one ``geopix`` command (:meth:`GeopixAlgorithm.arguments`); this base runs it through
:mod:`.runner` and maps the run onto Processing: JSON progress to the progress bar, training
losses and geopix's messages to the log, cancel to Ctrl-C, and geopix's one-line error (or any
non-zero exit) to a :class:`QgsProcessingException`. A run is never reported as a success unless
geopix exited with 0.
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsMapLayer,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsVectorLayer,
)

from . import executable, runner

#: Vector formats geopix reads as they are; another layer (memory, database, a selection) is exported.
VECTOR_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb", "gml", "kml", "sqlite"]

#: Seconds between two loss lines in the log (the first and the last step are always logged).
LOSS_LOG_INTERVAL = 2.0


class GeopixAlgorithm(QgsProcessingAlgorithm):
    """One geopix command as a Processing algorithm (subclasses set the names and the arguments)."""

    NAME = ""
    DISPLAY = ""
    HELP = ""

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:
        return self.DISPLAY

    def group(self) -> str:
        return ""

    def groupId(self) -> str:
        return ""

    def shortHelpString(self) -> str:
        return self.HELP

    def createInstance(self) -> GeopixAlgorithm:
        return type(self)()

    def flags(self) -> Any:
        return super().flags() | QgsProcessingAlgorithm.FlagCanCancel | QgsProcessingAlgorithm.FlagSupportsBatch

    # -- checks ------------------------------------------------------------------------------
    def geopix(self) -> executable.Check:
        """The configured geopix and whether it runs (cached per executable file)."""
        provider = self.provider()
        setting = provider.executable_setting() if provider is not None else None
        return executable.check(executable.find_executable(setting))

    def canExecute(self) -> tuple[bool, str]:
        """The toolbox refuses to open a run of geopix that is missing or too old, with the reason."""
        found = self.geopix()
        return found.ok, found.message or ""

    def prepareAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> bool:
        found = self.geopix()
        if not found.ok:  # processing.run, qgis_process and models do not ask canExecute()
            raise QgsProcessingException(found.message)
        self._geopix = found
        self.outputs: dict[str, Any] = {}
        return True

    # -- running -----------------------------------------------------------------------------
    def arguments(self, parameters: dict[str, Any], context: QgsProcessingContext,
                  feedback: QgsProcessingFeedback) -> list[str]:
        """The geopix command and its options for these parameter values (absolute paths)."""
        raise NotImplementedError

    def results(self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback,
                outcome: runner.Outcome) -> dict[str, Any]:
        """The algorithm's outputs after a successful run: by default the paths :meth:`output_path`
        resolved for the command."""
        return dict(self.outputs)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        args = self.arguments(parameters, context, feedback)
        outcome = self.execute(args, feedback)
        return self.results(parameters, context, feedback, outcome)

    def execute(self, args: list[str], feedback: QgsProcessingFeedback,
                expected_seconds: float | None = None) -> runner.Outcome:
        """Run ``geopix --progress json ARGS``; raise with geopix's message unless it exited with 0."""
        argv = [self._geopix.executable or "geopix", "--progress", "json", *args]
        feedback.pushCommandInfo(" ".join(shlex.quote(a) for a in argv))
        try:
            outcome = runner.run(argv, _Feedback(feedback, expected_seconds))
        except OSError as exc:  # removed or broken since the check
            raise QgsProcessingException(f"cannot run geopix at {argv[0]}: {exc}") from None
        if outcome.ok:
            return outcome
        if outcome.canceled:
            self.on_canceled(outcome, feedback)
            last = outcome.stderr_tail[-1] if outcome.stderr_tail else "geopix stopped"
            raise QgsProcessingException(f"canceled: {outcome.error or last}")
        raise QgsProcessingException(_message(outcome))

    def on_canceled(self, outcome: runner.Outcome, feedback: QgsProcessingFeedback) -> None:
        """What to tell the user after a cancel stopped geopix (training: how to resume)."""

    # -- parameters shared by several algorithms ---------------------------------------------
    def add_model(self, description: str = "Model (model.safetensors or its run folder)") -> None:
        """A file parameter filtered by ``*``: the default ``*.*`` (like any filter naming an
        extension) makes Processing refuse a run folder, whose name has none."""
        self.addParameter(QgsProcessingParameterFile("MODEL", description, behavior=QgsProcessingParameterFile.File,
                                                     fileFilter="geopix model or run folder (*)"))

    def add_tiling(self) -> None:
        """Tile size, overlap, batch, device, TTA, float32: how translate and inpaint run a model."""
        self.add_advanced(QgsProcessingParameterNumber(
            "TILE_SIZE", "Tile size in pixels [default: the training tile, at least 256]",
            QgsProcessingParameterNumber.Integer, optional=True, minValue=1))
        self.add_advanced(QgsProcessingParameterNumber(
            "OVERLAP", "Overlap of neighbouring tiles in pixels [default: a quarter of the tile]",
            QgsProcessingParameterNumber.Integer, optional=True, minValue=0))
        self.add_advanced(QgsProcessingParameterNumber(
            "BATCH_SIZE", "Tiles per batch", QgsProcessingParameterNumber.Integer, defaultValue=8, minValue=1))
        self.add_device()
        self.addParameter(QgsProcessingParameterBoolean(
            "TTA", "Test-time augmentation (average 8 rotations and mirrors; 8x the compute)", defaultValue=False))
        self.add_advanced(QgsProcessingParameterBoolean("NO_AMP", "Float32 everywhere (no mixed precision)",
                                                        defaultValue=False))

    def add_device(self) -> None:
        self.add_advanced(QgsProcessingParameterString(
            "DEVICE", "Device (auto, cpu, cuda, cuda:N or mps)", defaultValue="auto"))

    def add_overwrite(self) -> None:
        self.addParameter(QgsProcessingParameterBoolean(
            "OVERWRITE", "Replace an existing output", defaultValue=False))

    def add_advanced(self, param: QgsProcessingParameterDefinition) -> None:
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(param)

    # -- parameter values as arguments -------------------------------------------------------
    def tiling_args(self, parameters: dict[str, Any], context: QgsProcessingContext) -> list[str]:
        args = self.option(parameters, context, "TILE_SIZE", "--tile-size", int)
        args += self.option(parameters, context, "OVERLAP", "--overlap", int)
        args += self.option(parameters, context, "BATCH_SIZE", "--batch-size", int)
        args += self.option(parameters, context, "DEVICE", "--device", str)
        args += self.flag(parameters, context, "TTA", "--tta")
        return args + self.flag(parameters, context, "NO_AMP", "--no-amp")

    def option(self, parameters: dict[str, Any], context: QgsProcessingContext, name: str, flag: str,
               kind: type) -> list[str]:
        """``[flag, value]`` when the parameter is given, else nothing (geopix's default applies)."""
        if not given(parameters, name):
            return []
        if kind is int:
            value: Any = self.parameterAsInt(parameters, name, context)
        elif kind is float:
            value = self.parameterAsDouble(parameters, name, context)
        else:
            value = self.parameterAsString(parameters, name, context).strip()
            if not value:
                return []
        return [flag, str(value)]

    def flag(self, parameters: dict[str, Any], context: QgsProcessingContext, name: str, flag: str) -> list[str]:
        return [flag] if given(parameters, name) and self.parameterAsBool(parameters, name, context) else []

    def model_path(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        return absolute(self.parameterAsFile(parameters, "MODEL", context))

    def raster_path(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> str | None:
        """The file of a raster layer parameter (None when an optional one is not given)."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        return None if layer is None else raster_file(layer)

    def vector_layout(self, layers: list[Any], context: QgsProcessingContext,
                      feedback: QgsProcessingFeedback) -> list[str]:
        """``--layout NAME=PATH`` per vector layer, in drawing order, the class named as the layer; a
        layer geopix cannot read as a file (memory, database, one table of a GeoPackage, a selection)
        is exported to a temporary GeoPackage first."""
        args = []
        for layer in layers:
            if not isinstance(layer, QgsVectorLayer):
                raise QgsProcessingException(f"layout layer '{layer.name()}' is not a vector layer")
            path = absolute(QgsProcessingUtils.convertToCompatibleFormat(
                layer, False, layer.name(), VECTOR_FORMATS, "gpkg", context, feedback))
            name = layer.name().replace("=", "_")
            args += ["--layout", path if Path(path).stem == name else f"{name}={path}"]
        return args

    def output_path(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> str:
        """The file of an output parameter, recorded as the result of that output (resolved once:
        a temporary output gets a new name at each resolution)."""
        if name not in self.outputs:
            self.outputs[name] = absolute(self.parameterAsOutputLayer(parameters, name, context))
        return str(self.outputs[name])


class _Feedback:
    """A :class:`runner.Listener` that reports to Processing's feedback."""

    def __init__(self, feedback: QgsProcessingFeedback, expected_seconds: float | None) -> None:
        self.feedback = feedback
        self.expected = expected_seconds
        self.start = time.monotonic()
        self.phase: str | None = None
        self.logged_at: float | None = None
        self.told = False

    def canceled(self) -> bool:
        if not self.feedback.isCanceled():
            return False
        if not self.told:
            self.told = True
            self.feedback.pushInfo("geopix: canceling (Ctrl-C): training stops after its current step with a "
                                   "checkpoint; other commands remove their partial output")
        return True

    def progress(self, update: runner.Progress) -> None:
        if update.phase != self.phase:  # the progress text also goes to the log: once per phase
            self.phase = update.phase
            self.feedback.setProgressText(f"geopix {update.phase}")
        fraction = update.fraction
        if fraction is None and self.expected:
            fraction = min((time.monotonic() - self.start) / self.expected, 0.99)
        if fraction is not None:
            self.feedback.setProgress(100.0 * fraction)
        if update.message and self._log_due(update):
            total = f"/{update.total}" if update.total else ""
            self.feedback.pushInfo(f"{update.unit} {update.done}{total}: {update.message}")

    def _log_due(self, update: runner.Progress) -> bool:
        now = time.monotonic()
        if self.logged_at is None or now - self.logged_at >= LOSS_LOG_INTERVAL or update.done == update.total:
            self.logged_at = now
            return True
        return False

    def stdout(self, line: str) -> None:
        self.feedback.pushInfo(line)

    def stderr(self, line: str) -> None:
        if line.strip() and not line.startswith(runner.FINAL_LINES):  # the ending itself becomes the exception
            self.feedback.pushConsoleInfo(line)


#: geopix's command-line advice and the parameter that gives it here.
_PARAMETER_OF = (("--overwrite", "OVERWRITE", "Replace an existing output"),
                 ("--force", "FORCE", "Translate a region that looks like the other side of the pair"))


def _message(outcome: runner.Outcome) -> str:
    """geopix's one-line error (its command-line advice named as the parameter to set here), or the
    last thing it said and its exit status."""
    if outcome.error:
        hints = [f" (here: {name}, '{label}')" for flag, name, label in _PARAMETER_OF
                 if flag in outcome.error]
        return outcome.error + "".join(hints[:1])
    last = outcome.stderr_tail[-1] if outcome.stderr_tail else "no message"
    how = f"killed by signal {-outcome.code}" if outcome.code < 0 else f"exit status {outcome.code}"
    return f"geopix failed ({how}): {last}"


def raster_file(layer: QgsMapLayer) -> str:
    """The file of a raster layer. geopix reads files through GDAL; a layer of another provider
    (WMS, PostGIS) is refused by name."""
    if layer.providerType() != "gdal":
        raise QgsProcessingException(f"layer '{layer.name()}' is a {layer.providerType()} layer; geopix reads "
                                     f"raster files: save it as a GeoTIFF first")
    path = QgsProviderRegistry.instance().decodeUri("gdal", layer.source()).get("path") or layer.source()
    return absolute(path)


def given(parameters: dict[str, Any], name: str) -> bool:
    """Whether an optional parameter has a value (Processing passes None or '' for 'not set')."""
    return parameters.get(name) not in (None, "")


def absolute(path: str) -> str:
    """geopix runs without a working directory of QGIS's choosing: every path goes absolute."""
    return os.path.abspath(os.path.expanduser(path)) if path else path
