"""The walk-through of docs/user-guide/qgis.md, headless, as a new user would do it in QGIS.

Run with QGIS's Python (Debian's /usr/bin/python3), after ``make qgis-plugin``:
    QT_QPA_PLATFORM=offscreen python3 qgis_plugin/try_it.py WORKDIR GEOPIX [TRAIN_STEPS [INPAINT_BUDGET]]
(default 200 steps and 5m)
It installs the zip into a fresh profile, points the provider at GEOPIX, trains a model on the
bundled pix2pix "maps" pairs from the toolbox algorithm, translates Charlotte, trains an inpainting model,
chains inpaint -> translate -> reproject in a Processing model (saved as a .model3) and renders the
results through PyQGIS as PNGs. Not part of the plugin zip.
"""

import glob
import os
import shutil
import sys
import zipfile

work, geopix = os.path.abspath(sys.argv[1]), sys.argv[2]
train_steps = int(sys.argv[3]) if len(sys.argv) > 3 else 200
inpaint_budget = sys.argv[4] if len(sys.argv) > 4 else "5m"
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
data = os.path.join(repo, "examples", "data")
os.makedirs(work, exist_ok=True)
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = os.path.join(work, "profile")  # a fresh profile
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["GDAL_PAM_ENABLED"] = "NO"  # no .aux.xml statistics left beside the repository's samples
sys.path.append("/usr/share/qgis/python/plugins")

# -- Plugins > Install from ZIP: the zip unpacked into the profile's plugin folder ------------------
plugins = os.path.join(work, "profile", "profiles", "default", "python", "plugins")
shutil.rmtree(os.path.join(plugins, "geopix_provider"), ignore_errors=True)
os.makedirs(plugins, exist_ok=True)
with zipfile.ZipFile(sorted(glob.glob(os.path.join(repo, "dist", "geopix_provider-*.zip")))[-1]) as zf:
    zf.extractall(plugins)
sys.path.insert(0, plugins)  # QGIS puts the profile's plugin folder on sys.path at start; standalone, we do

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsFeature,
    QgsGeometry,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProject,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor, QImage, QPainter  # noqa: E402

app = QgsApplication([], False)
app.initQgis()
import processing  # noqa: E402
import qgis.utils  # noqa: E402
from processing.core.Processing import Processing  # noqa: E402
from processing.core.ProcessingConfig import ProcessingConfig  # noqa: E402

Processing.initialize()
qgis.utils.plugin_paths = [plugins]
qgis.utils.updateAvailablePlugins()
assert qgis.utils.loadPlugin("geopix_provider") and qgis.utils.startProcessingPlugin("geopix_provider")
# -- Settings > Options > Processing > Providers > geopix ----------------------------------------
ProcessingConfig.setSettingValue("GEOPIX_EXECUTABLE", geopix)
print("provider:", QgsApplication.processingRegistry().providerById("geopix").longName(), flush=True)


class Log(QgsProcessingFeedback):
    """The algorithm dialog's log, printed."""

    def pushInfo(self, text):  # noqa: N802
        print("   ", text, flush=True)

    pushConsoleInfo = pushCommandInfo = pushWarning = pushInfo  # noqa: N815

    def setProgressText(self, text):  # noqa: N802
        print("   [", text, "]", flush=True)


def run(alg, params):
    print(f"\n>>> processing.run({alg!r}, ...)", flush=True)
    return processing.run(alg, params, feedback=Log())


# -- a model trained from the toolbox on the bundled pix2pix "maps" pairs (as `make demo` does), ---
# -- learning the beige map style as its classes, so the output is a class map with their colours --
palette = f"{repo}/examples/palettes/google_maps_pix2pix.json"
maps = run("geopix:train", {"STEPS": train_steps, "OUTPUT": f"{work}/runs/maps", "OVERWRITE": True,
                            "EXTRA_OPTIONS": f"--aligned-dir {data}/maps256 --val-pairs 8 --val-every 100 "
                                             f"--classes-from-palette {palette}"})
# -- a region translated: Charlotte, a city the model has not seen ---------------------------------
charlotte_map = run("geopix:translate", {"INPUT": f"{data}/charlotte_sat.tif", "MODEL": maps["OUTPUT"],
                                         "OUTPUT": f"{work}/charlotte_map.tif", "OVERWRITE": True})["OUTPUT"]

# -- clouds: white blobs painted into a copy of the Charlotte imagery, and their outlines ----------
sat = QgsRasterLayer(f"{data}/charlotte_sat.tif", "charlotte")
ext, crs = sat.extent(), sat.crs()
cloudy = f"{work}/charlotte_cloudy.tif"
shutil.copy(f"{data}/charlotte_sat.tif", cloudy)
centres = [(0.3, 0.35, 16), (0.68, 0.6, 20), (0.45, 0.8, 12)]  # (x, y as fractions, radius in pixels)
px = sat.rasterUnitsPerPixelX()
clouds = QgsVectorLayer(f"Polygon?crs={crs.authid()}", "clouds", "memory")
feats = []
for fx, fy, r in centres:
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(ext.xMinimum() + fx * ext.width(),
                                                     ext.yMaximum() - fy * ext.height())).buffer(r * px, 16))
    feats.append(f)
clouds.dataProvider().addFeatures(feats)
opts = QgsVectorFileWriter.SaveVectorOptions()
opts.driverName = "GPKG"
QgsVectorFileWriter.writeAsVectorFormatV3(clouds, f"{work}/clouds.gpkg", QgsProject.instance().transformContext(),
                                          opts)  # radii under inpaint's default max hole (24 px)
from osgeo import gdal  # noqa: E402  (QGIS's own GDAL: burning the blobs white into the copy)

ds = gdal.Open(cloudy, gdal.GA_Update)
gdal.Rasterize(ds, f"{work}/clouds.gpkg", bands=[1, 2, 3], burnValues=[250, 250, 250])
ds = None

# -- an inpainting model, from the toolbox ---------------------------------------------------------
inpainter = run("geopix:train", {"IMAGERY": [f"{data}/houston_sat.tif"], "TASK": "inpaint",
                                 "TIME_BUDGET": inpaint_budget, "OUTPUT": f"{work}/runs/inpaint", "OVERWRITE": True})

# -- the Model Designer chain: inpaint -> translate -> reproject (a QGIS algorithm on the result) --
model = QgsProcessingModelAlgorithm("cloud-free map", "geopix")


def child(cid, alg, static=(), chained=(), outputs=()):
    c = QgsProcessingModelChildAlgorithm(alg)
    c.setChildId(cid)
    c.setDescription(cid)
    for name, value in dict(static).items():
        c.addParameterSources(name, [QgsProcessingModelChildParameterSource.fromStaticValue(value)])
    for name, (source, output) in dict(chained).items():
        c.addParameterSources(name, [QgsProcessingModelChildParameterSource.fromChildOutput(source, output)])
    outs = {}
    for name, output in dict(outputs).items():
        o = QgsProcessingModelOutput(name, name)
        o.setChildId(cid)
        o.setChildOutputName(output)
        outs[name] = o
    c.setModelOutputs(outs)
    model.addChildAlgorithm(c)


child("inpaint", "geopix:inpaint", {"INPUT": cloudy, "MODEL": inpainter["OUTPUT"], "HOLES": f"{work}/clouds.gpkg"},
      outputs={"filled": "OUTPUT"})
child("translate", "geopix:translate", {"MODEL": maps["OUTPUT"]}, {"INPUT": ("inpaint", "OUTPUT")},
      outputs={"map": "OUTPUT"})
child("reproject", "gdal:warpreproject", {"TARGET_CRS": "EPSG:4326", "RESAMPLING": 0},
      {"INPUT": ("translate", "OUTPUT")}, outputs={"map_wgs84": "OUTPUT"})
model.updateDestinationParameters()
model.toFile(f"{work}/cloud_free_map.model3")
print(f"\n>>> model {work}/cloud_free_map.model3: {[p.name() for p in model.parameterDefinitions()]}", flush=True)
chain = processing.run(model, {"inpaint:filled": f"{work}/charlotte_filled.tif",
                               "translate:map": f"{work}/charlotte_cloudfree_map.tif",
                               "reproject:map_wgs84": f"{work}/charlotte_cloudfree_map_wgs84.tif"}, feedback=Log())
print("model results:", {k: str(v) for k, v in chain.items()}, flush=True)


# -- PyQGIS renders: the layers as QGIS draws them -------------------------------------------------
def render(path, size=512):
    layer = QgsRasterLayer(path, os.path.basename(path))
    s = QgsMapSettings()
    s.setLayers([layer])
    s.setDestinationCrs(layer.crs())
    s.setExtent(layer.extent())
    s.setOutputSize(QSize(size, size))
    s.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(s)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


def side_by_side(paths, png, size=512, gap=8):
    out = QImage(len(paths) * size + (len(paths) - 1) * gap, size, QImage.Format_RGB32)
    out.fill(QColor(255, 255, 255))
    painter = QPainter(out)
    for i, path in enumerate(paths):
        painter.drawImage(i * (size + gap), 0, render(path, size))
    painter.end()
    out.save(png, "PNG")
    print("rendered", png, flush=True)


side_by_side([f"{data}/charlotte_sat.tif", charlotte_map, f"{data}/charlotte_map.tif"], f"{work}/qgis_translate.png",
             size=400)
side_by_side([cloudy, f"{work}/charlotte_filled.tif", f"{work}/charlotte_cloudfree_map.tif"],
             f"{work}/qgis_inpaint_translate.png", size=400)
os._exit(0)  # exitQgis() segfaults in headless QGIS 3.22 on teardown
