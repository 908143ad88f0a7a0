"""MkDocs hook: the Sphinx roles of geopix's docstrings, shown as code in the API reference.

The docstrings name objects the Sphinx way (``:class:`~geo_pix2pix.files.modelfile.ModelMeta```),
which help() and IDEs show as written, and which mkdocstrings leaves as text: ``:class:`` before a
code span. This drops the role and, as Sphinx does for ``~``, keeps only the last name.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    tilde, name = match.groups()
    return f"<code>{name.rsplit('.', 1)[-1] if tilde else name}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub(_code, html)
