"""What QGIS shows of class rasters: run by Debian's ``/usr/bin/python3`` (PyQGIS), headless.

``legend_driver.py OUT.json RASTER...`` loads each raster as QGIS does when a file is opened, and
writes per raster: the renderer, its classes (code, label, colour, alpha), the legend's labels, and
what GDAL (the same GDAL QGIS uses) reads: category names and the RAT's row count. With
``--png PNG`` it also renders the first raster beside its legend (the picture in the user guide).
"""

import json
import sys


def describe(path):
    from osgeo import gdal
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(path, "layer")
    renderer = layer.renderer()
    classes = [[int(c.value), c.label, c.color.name(), c.color.alpha()] for c in renderer.classes()] \
        if renderer.type() == "paletted" else []
    ds = gdal.Open(path)  # kept: a band outlives its dataset only in Python
    band = ds.GetRasterBand(1)
    rat = band.GetDefaultRAT()
    return {"valid": layer.isValid(), "renderer": renderer.type(), "classes": classes,
            "legend": [label for label, _ in renderer.legendSymbologyItems()],
            "gdal_categories": list(band.GetCategoryNames() or []), "gdal_rat_rows": rat.GetRowCount() if rat else 0}


def render(path, png, size=360, panel=190):
    from qgis.core import QgsMapRendererCustomPainterJob, QgsMapSettings, QgsRasterLayer
    from qgis.PyQt.QtCore import QRect, QSize, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter

    layer = QgsRasterLayer(path, "layer")
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor("white"))
    image = QImage(size + panel, size, QImage.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.start()
    job.waitForFinished()
    painter.setFont(QFont("DejaVu Sans", 10))
    painter.drawText(QRect(size + 10, 8, panel - 12, 20), Qt.AlignLeft, "QGIS legend")
    for i, (label, colour) in enumerate(layer.renderer().legendSymbologyItems()[:12]):
        top = 36 + i * 24
        painter.fillRect(QRect(size + 10, top, 18, 16), colour)
        painter.drawRect(QRect(size + 10, top, 18, 16))
        painter.drawText(QRect(size + 36, top, panel - 40, 18), Qt.AlignLeft, label)
    painter.end()
    image.save(png)


def main(argv):
    from qgis.core import QgsApplication

    png = None
    if "--png" in argv:
        i = argv.index("--png")
        png = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    out, paths = argv[0], argv[1:]
    app = QgsApplication([], False)
    app.initQgis()
    try:
        result = {p: describe(p) for p in paths}
        if png:
            render(paths[0], png)
    finally:
        app.exitQgis()
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1:])
