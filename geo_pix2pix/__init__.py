"""geopix: georeferenced image-to-image translation (Pix2Pix) for satellite imagery and maps.

Subpackages: ``geo_pix2pix.tiles`` (raster geometry and I/O), ``geo_pix2pix.models``
(generators and discriminators), ``geo_pix2pix.cli`` (the ``geopix`` command). Importing this
package is cheap: torch is imported only by the modules that need it.
"""

from ._version import __version__

__all__ = ["__version__"]
