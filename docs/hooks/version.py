"""MkDocs hook: the site shows the version of ``geo_pix2pix/_version.py``, the one ``geopix --version``
prints, so the docs and the program cannot disagree about which release they describe.

It is read as text (a regular expression over the file), not imported: the docs build needs no
torch and no installed geopix for this.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

VERSION_FILE = Path(__file__).resolve().parents[2] / "geo_pix2pix" / "_version.py"


def read_version() -> str:
    """The ``__version__`` string of ``geo_pix2pix/_version.py``."""
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', VERSION_FILE.read_text(), re.M)
    if match is None:
        raise ValueError(f"no __version__ in {VERSION_FILE}")
    return match.group(1)


def on_config(config: Any, **kwargs: Any) -> Any:
    version = read_version()
    config["extra"]["version"] = version
    config["copyright"] = f"geopix {version} · MIT licence"
    return config


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """``{{ version }}`` in a page becomes the release it documents."""
    return markdown.replace("{{ version }}", read_version())
