"""Checking COG creation options (``--co KEY=VALUE``) against what the GDAL in use accepts.

GDAL's COG driver ignores an option it does not know, with at most a warning that rasterio does
not show: ``--co COMPRES=ZSTD`` (a typo) would silently write a DEFLATE file. So geopix asks the
GDAL library that rasterio runs on for the driver's creation option list (an XML document, the
``DMD_CREATIONOPTIONLIST`` of ``gdalinfo --format COG``) and refuses unknown keys, values outside
a key's list of choices and non-numeric values of numeric keys, naming what is valid.

The list is read through ``ctypes`` from rasterio's own extension module, whose symbol lookup
reaches the libgdal it is linked against (bundled in a wheel or the system's), so the check always
describes the GDAL that will write the file. Where that lookup is impossible the options are passed
on unchecked, as before.
"""

from __future__ import annotations

import functools
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from geo_pix2pix.tiles.errors import CreationOptionError

__all__ = ["CreationOption", "cog_creation_options", "check_creation_options"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreationOption:
    """One creation option of a GDAL driver: its type (``int``, ``float``, ``boolean``,
    ``string``, ``string-select``) and, for ``string-select``, the values it accepts."""

    name: str
    type: str
    choices: tuple[str, ...] = ()


@functools.cache
def cog_creation_options() -> dict[str, CreationOption] | None:
    """The COG driver's creation options by upper-case name, or ``None`` if GDAL cannot be asked."""
    import ctypes

    import rasterio
    import rasterio._base

    try:
        lib = ctypes.CDLL(rasterio._base.__file__)
        lib.GDALGetDriverByName.restype = ctypes.c_void_p
        lib.GDALGetDriverByName.argtypes = [ctypes.c_char_p]
        lib.GDALGetDriverCreationOptionList.restype = ctypes.c_char_p
        lib.GDALGetDriverCreationOptionList.argtypes = [ctypes.c_void_p]
        with rasterio.Env():  # registers the drivers
            driver = lib.GDALGetDriverByName(b"COG")
            xml = lib.GDALGetDriverCreationOptionList(driver) if driver else None
        root = ET.fromstring(xml.decode()) if xml else None
    except (OSError, AttributeError, ET.ParseError) as exc:
        log.debug("could not read the COG driver's creation options (%s); --co is not checked", exc)
        return None
    if root is None:
        return None
    options = {}
    for opt in root.iter("Option"):
        name = (opt.get("name") or "").upper()
        if name:
            select = opt.get("type") == "string-select"
            choices = tuple(v.text for v in opt.findall("Value") if v.text) if select else ()
            options[name] = CreationOption(name, opt.get("type") or "string", choices)
    return options


def check_creation_options(options: Mapping[str, str]) -> dict[str, str]:
    """``options`` with upper-case keys, checked against the COG driver's list.

    Raises:
        CreationOptionError: for an unknown key, a value not among a key's choices, or a
            non-numeric value of a numeric key; the message lists what is valid.
    """
    checked = {str(k).upper(): str(v) for k, v in options.items()}
    known = cog_creation_options()
    if known is None:
        return checked
    for key, value in checked.items():
        opt = known.get(key)
        if opt is None:
            raise CreationOptionError(f"--co {key}={value}: the COG driver has no creation option {key}; "
                                      f"valid ones: {', '.join(sorted(known))}")
        if opt.choices and value.upper() not in {c.upper() for c in opt.choices}:
            raise CreationOptionError(f"--co {key}={value}: {key} takes one of {', '.join(opt.choices)}")
        if opt.type in ("int", "float") and not _is_number(value, opt.type):
            kind = "an integer" if opt.type == "int" else "a number"
            raise CreationOptionError(f"--co {key}={value}: {key} takes {kind}")
    return checked


def _is_number(value: str, kind: str) -> bool:
    try:
        int(value) if kind == "int" else float(value)
    except ValueError:
        return False
    return True
