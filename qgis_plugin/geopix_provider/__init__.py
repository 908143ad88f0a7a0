"""geopix Processing provider for QGIS: the geopix command line as toolbox, batch, Model Designer
and qgis_process algorithms.

QGIS's Python cannot import geopix (no torch, and a second GDAL must not load), so nothing here
imports it: every algorithm runs the user's ``geopix`` executable out of process (:mod:`.runner`).
"""


def classFactory(iface):  # the name QGIS calls
    from .plugin import GeopixProviderPlugin

    return GeopixProviderPlugin(iface)
