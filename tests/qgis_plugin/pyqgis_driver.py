"""Run test cases through the geopix provider in one headless PyQGIS session; write their results.

Run with the Python that has PyQGIS (Debian's /usr/bin/python3), not the project's environment:
    python3 pyqgis_driver.py PLUGIN_ROOT CASES.json RESULTS.json
Each case is a dict with an ``id`` and a ``kind``:
- ``run``: ``processing.run(alg, params)``; optional ``cancel_when_progress`` (cancel at the first
  progress strictly between 0 and 100 %), ``steps_after`` (``[case id, n]``: STEPS = the step that
  case was interrupted at, plus n);
- ``dialogs``: build the algorithm's dialog, batch dialog and Model Designer parameters dialog;
- ``gui_run``: as the algorithm dialog runs it: outputs loaded into the project on completion, with
  the algorithm's post-processing; reports the loaded layers' renderers and classes;
- ``layer``: load a raster as QGIS would, report its renderer and classes, render it to ``png``;
- ``model``: a Processing model built from ``children`` (chained by ``from``), run with ``params``.
The results carry what the feedback saw (log, progress, errors), never wall-clock times.
"""

import json
import os
import re
import sys
import traceback

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.append("/usr/share/qgis/python/plugins")
sys.path.insert(0, sys.argv[1])

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

app = QgsApplication([], True)
app.initQgis()

import processing  # noqa: E402
from processing.core.Processing import Processing  # noqa: E402

Processing.initialize()

from geopix_provider.plugin import GeopixProviderPlugin  # noqa: E402

plugin = GeopixProviderPlugin()
plugin.initProcessing()


class Feedback(QgsProcessingFeedback):
    """Records what an algorithm tells the user; cancels itself at the first partial progress if asked."""

    def __init__(self, cancel_when_progress=False):
        super().__init__()
        self.log, self.progress, self.cancel_when_progress = [], [], cancel_when_progress

    def setProgress(self, value):  # noqa: N802
        self.progress.append(round(value, 3))
        if self.cancel_when_progress and 0 < value < 100 and not self.isCanceled():
            self.cancel()
        super().setProgress(value)

    def pushInfo(self, text):  # noqa: N802
        self.log.append(["info", text])

    def pushConsoleInfo(self, text):  # noqa: N802
        self.log.append(["console", text])

    def pushCommandInfo(self, text):  # noqa: N802
        self.log.append(["command", text])

    def pushWarning(self, text):  # noqa: N802
        self.log.append(["warning", text])

    def reportError(self, text, fatal=False):  # noqa: N802
        self.log.append(["error", text])

    def setProgressText(self, text):  # noqa: N802
        self.log.append(["progress", text])


def run_case(case, done):
    params = dict(case["params"])
    if "steps_after" in case:
        earlier, more = case["steps_after"]
        params["STEPS"] = int(re.search(r"interrupted by Ctrl-C at step (\d+)", done[earlier]["error"]).group(1)) + more
    fb = Feedback(case.get("cancel_when_progress", False))
    out = {"params": params}
    try:
        results = processing.run(case["alg"], params, feedback=fb)
        out.update(ok=True, results={k: _plain(v) for k, v in results.items()})
    except Exception as exc:  # noqa: BLE001 (the case records whatever failed)
        out.update(ok=False, error=str(exc))
    out.update(log=fb.log, progress=fb.progress, canceled=fb.isCanceled())
    return out


def gui_run_case(case, done):
    from processing.gui.AlgorithmExecutor import execute
    from processing.gui.Postprocessing import handleAlgorithmResults
    from processing.tools import dataobjects

    alg = QgsApplication.processingRegistry().createAlgorithmById(case["alg"])
    params = dict(case["params"])
    for name in case["load"]:  # "Open output file after running algorithm", as the dialog passes it
        params[name] = QgsProcessingOutputLayerDefinition(params[name], QgsProject.instance())
    fb = Feedback()
    context = dataobjects.createContext(fb)
    ok, results = execute(alg, params, context, fb)
    loaded = ok and handleAlgorithmResults(alg, context, fb, True, params)
    layers = {}
    for layer in QgsProject.instance().mapLayers().values():
        renderer = layer.renderer()
        layers[layer.source()] = {"renderer": renderer.type(), "classes": [
            [c.value, c.color.name(), c.label] for c in renderer.classes()] if renderer.type() == "paletted" else []}
    QgsProject.instance().removeAllMapLayers()
    return {"ok": bool(ok and loaded), "layers": layers, "log": fb.log}


def dialogs_case(case, done):
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    from processing.modeler.ModelerParametersDialog import ModelerParametersDialog

    registry = QgsApplication.processingRegistry()
    built = []
    for name, make in (("dialog", AlgorithmDialog), ("batch", BatchAlgorithmDialog),
                       ("modeler", lambda alg: ModelerParametersDialog(alg, QgsProcessingModelAlgorithm()))):
        dlg = make(registry.createAlgorithmById(case["alg"]))
        built.append(name)
        dlg.deleteLater()
    can, why = registry.createAlgorithmById(case["alg"]).canExecute()
    return {"ok": True, "built": built, "can_execute": can, "why": why}


def layer_case(case, done):
    layer = QgsRasterLayer(case["path"], "geopix")
    out = {"valid": layer.isValid()}
    if not layer.isValid():
        return out
    renderer = layer.renderer()
    out.update(renderer=renderer.type(), bands=layer.bandCount())
    if renderer.type() == "paletted":
        out["classes"] = [[c.value, c.color.name(), c.label] for c in renderer.classes()]
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(layer.width(), layer.height()))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    out["rendered"] = bool(job.renderedImage().save(case["png"], "PNG"))
    return out


def model_case(case, done):
    """A Processing model of ``children`` (each ``{"id", "alg", "params", "from": {PARAM: [child, OUTPUT]},
    "outputs": {NAME: OUTPUT}}``), run with ``params`` (``child:NAME`` for its outputs)."""
    model = QgsProcessingModelAlgorithm(case.get("name", "chain"), "geopix tests")
    for spec in case["children"]:
        child = QgsProcessingModelChildAlgorithm(spec["alg"])
        child.setChildId(spec["id"])
        child.setDescription(spec["id"])
        for name, value in spec.get("params", {}).items():
            child.addParameterSources(name, [QgsProcessingModelChildParameterSource.fromStaticValue(value)])
        for name, (source, output) in spec.get("from", {}).items():
            child.addParameterSources(name, [QgsProcessingModelChildParameterSource.fromChildOutput(source, output)])
        outputs = {}
        for name, output in spec.get("outputs", {}).items():
            o = QgsProcessingModelOutput(name, name)
            o.setChildId(spec["id"])
            o.setChildOutputName(output)
            outputs[name] = o
        child.setModelOutputs(outputs)
        model.addChildAlgorithm(child)
    model.updateDestinationParameters()
    if case.get("save"):
        model.toFile(case["save"])
    fb = Feedback()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    try:
        results = processing.run(model, case["params"], feedback=fb, context=context)
        return {"ok": True, "results": {k: _plain(v) for k, v in results.items()}, "log": fb.log,
                "parameters": [p.name() for p in model.parameterDefinitions()]}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc), "log": fb.log,
                "parameters": [p.name() for p in model.parameterDefinitions()]}


def _plain(value):
    if hasattr(value, "source"):  # a layer processing.run loaded for us
        return value.source()
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


KINDS = {"run": run_case, "gui_run": gui_run_case, "dialogs": dialogs_case, "layer": layer_case, "model": model_case}

with open(sys.argv[2]) as f:
    cases = json.load(f)
done = {}
for case in cases:
    try:
        result = KINDS[case["kind"]](case, done)
    except Exception:  # noqa: BLE001 (a crash in one case is that case's result)
        result = {"ok": False, "crash": traceback.format_exc()}
    done[case["id"]] = {"id": case["id"], **result}
with open(sys.argv[3], "w") as f:
    json.dump(list(done.values()), f, indent=1)
sys.stdout.flush()
# exitQgis() segfaults in headless QGIS 3.22 on teardown; the results are written, so leave at once.
os._exit(0)
