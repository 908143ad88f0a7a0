"""The tutorial's screenshots: its rasters opened in QGIS and rendered, headless, as QGIS draws them.

Run with the Python that has PyQGIS (Debian's /usr/bin/python3 with python3-qgis), not geopix's
virtual environment, from the repository root after the tutorial's commands:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/scripts/tutorial_screenshots.py docs/images

Each picture is panels of one extent side by side, each panel a QGIS map render of layers
(the translated map also drawn at 55% opacity over the imagery, as you would check it in QGIS).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QGIS computes the stretch statistics through GDAL, which would leave .aux.xml files beside the
# bundled samples: keep them in memory.
os.environ["GDAL_PAM_ENABLED"] = "NO"

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsContrastEnhancement,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRasterMinMaxOrigin,
)
from qgis.PyQt.QtCore import QSize, Qt  # noqa: E402
from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter  # noqa: E402

SIZE, GAP, TITLE = 420, 10, 28


def layer(path: str, opacity: float = 1.0, stretch: bool = False) -> QgsRasterLayer:
    """A raster layer as QGIS adds it; ``stretch``: a grey image stretched over its 2-98% cumulative
    cut, as *Layer Properties > Symbology* offers (16-bit imagery looks black at QGIS's default)."""
    lyr = QgsRasterLayer(path, os.path.basename(path))
    if not lyr.isValid():
        sys.exit(f"QGIS cannot open {path}")
    if stretch:
        lyr.setContrastEnhancement(QgsContrastEnhancement.StretchToMinimumMaximum, QgsRasterMinMaxOrigin.CumulativeCut)
    lyr.setOpacity(opacity)
    return lyr


def render(layers: list[QgsRasterLayer]) -> QImage:
    """One map render, top layer first, over the extent and CRS of the bottom layer."""
    s = QgsMapSettings()
    s.setLayers(layers)
    s.setDestinationCrs(layers[-1].crs())
    s.setExtent(layers[-1].extent())
    s.setOutputSize(QSize(SIZE, SIZE))
    s.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(s)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


def panels(out: str, items: list[tuple[str, list[QgsRasterLayer]]]) -> None:
    image = QImage(len(items) * SIZE + (len(items) - 1) * GAP, SIZE + TITLE, QImage.Format_RGB32)
    image.fill(QColor(255, 255, 255))
    p = QPainter(image)
    p.setFont(QFont("DejaVu Sans", 11))
    for i, (title, layers) in enumerate(items):
        x = i * (SIZE + GAP)
        p.drawText(x, 0, SIZE, TITLE, int(Qt.AlignCenter), title)
        p.drawImage(x, TITLE, render(layers))
    p.end()
    if not image.save(out, "PNG"):
        sys.exit(f"could not write {out}")
    print("wrote", out, flush=True)


def main(folder: str) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    sat, geomap, ref = "examples/data/charlotte_sat.tif", "out/charlotte_map.tif", "examples/data/charlotte_map.tif"
    panels(f"{folder}/tutorial_translate.png", [
        ("charlotte_sat.tif", [layer(sat)]),
        ("out/charlotte_map.tif (geopix)", [layer(geomap)]),
        ("geopix map at 55% over the imagery", [layer(geomap, 0.55), layer(sat)]),
        ("charlotte_map.tif (Google)", [layer(ref)]),
    ])
    pan, filled, record = "examples/data/atlanta_pan.tif", "out/atlanta_filled.tif", "out/atlanta_filled.filled.tif"
    panels(f"{folder}/tutorial_inpaint.png", [
        ("atlanta_pan.tif (2-98% stretch)", [layer(pan, stretch=True)]),
        ("out/atlanta_filled.tif: buildings painted over", [layer(filled, stretch=True)]),
        ("out/atlanta_filled.filled.tif (magenta: filled)", [layer(record)]),
    ])
    # exitQgis() segfaults in headless QGIS 3.22 on teardown; the pictures are written, so leave at once.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
