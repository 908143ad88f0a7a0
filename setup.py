"""Package discovery, the one part of the build that pyproject.toml cannot declare.

``tiles/`` and ``cli/`` live at the repository root but install inside the ``geo_pix2pix``
namespace (``geo_pix2pix.tiles``, ``geo_pix2pix.cli``), so geopix claims no generic top-level import
names. setuptools' automatic discovery cannot rename folders, and a hand-written package list
misses every new subpackage (a wheel once shipped without ``geo_pix2pix/families``), so each root
is searched here with ``find_packages`` and mapped to its name. ``tests/test_wheel.py`` checks that
the wheel holds every module of the source tree.
"""

from setuptools import find_packages, setup

#: installed package name -> folder in the repository
ROOTS = {"geo_pix2pix": "geo_pix2pix", "geo_pix2pix.tiles": "tiles", "geo_pix2pix.cli": "cli"}

PACKAGES = [pkg for name, folder in ROOTS.items()
            for pkg in (name, *(f"{name}.{sub}" for sub in find_packages(folder)))]

setup(packages=PACKAGES, package_dir=ROOTS)
