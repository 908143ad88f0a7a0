"""Load a raster in QGIS (PyQGIS, offscreen) and render it to PNG; print facts as JSON.

Run with the Python that has PyQGIS (Debian's /usr/bin/python3 with python3-qgis), not the
project's virtual environment:  python3 tests/qgis_render.py RASTER OUT.png
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsMapRendererParallelJob, QgsMapSettings, QgsRasterLayer  # noqa: E402
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

raster, png = sys.argv[1], sys.argv[2]
app = QgsApplication([], False)
app.initQgis()
layer = QgsRasterLayer(raster, "geopix")
facts = {"valid": layer.isValid()}
if layer.isValid():
    ext = layer.extent()
    facts.update(crs=layer.crs().authid(), bands=layer.bandCount(), width=layer.width(),
                 height=layer.height(), extent=[ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()],
                 renderer=layer.renderer().type(),
                 colorinterp=[layer.dataProvider().colorInterpretationName(i)
                              for i in range(1, layer.bandCount() + 1)],
                 alpha_band=getattr(layer.renderer(), "alphaBand", lambda: -1)())
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(ext)
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    facts["rendered"] = bool(image.save(png, "PNG"))
print(json.dumps(facts), flush=True)
# exitQgis() segfaults in headless QGIS 3.22 on teardown; the facts are out, so leave at once.
os._exit(0)
