"""geopix: georeferenced image-to-image translation (the Pix2Pix family) for imagery and maps.

The Python API (:mod:`geo_pix2pix.api`) is importable from here::

    import geo_pix2pix as geopix

    model = geopix.load_model("runs/demo")
    model.translate("region.tif", "region_map.tif")
    out = model.predict(array, mask=valid)

Subpackages: ``geo_pix2pix.tiles`` (raster geometry and I/O), ``geo_pix2pix.models``
(generators and discriminators), ``geo_pix2pix.families`` (model families),
``geo_pix2pix.cli`` (the ``geopix`` command). Importing this package is cheap: the API's names
are loaded on first use, and torch only by the modules that need it.
"""

from __future__ import annotations

from typing import Any

from geo_pix2pix._version import __version__

__all__ = ["__version__", "Model", "load_model", "fit", "merge", "TrainConfig", "PairSpec", "apply_recipe",
           "GeopixError", "VectorRegion", "LayoutSpec", "Grid", "layout_pairs"]

_LAZY = {
    "Model": "geo_pix2pix.api",
    "load_model": "geo_pix2pix.api",
    "fit": "geo_pix2pix.api",
    "merge": "geo_pix2pix.api",
    "TrainConfig": "geo_pix2pix.training.config",
    "apply_recipe": "geo_pix2pix.training.recipes",
    "PairSpec": "geo_pix2pix.tiles.pairs.pair",
    "GeopixError": "geo_pix2pix.tiles.errors",
    "VectorRegion": "geo_pix2pix.inference.vector_layouts",
    "layout_pairs": "geo_pix2pix.inference.vector_layouts",
    "LayoutSpec": "geo_pix2pix.tiles.encoding.layout",
    "Grid": "geo_pix2pix.tiles.encoding.layout",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'geo_pix2pix' has no attribute {name!r}")
