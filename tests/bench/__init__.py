"""Tests of the benchmark scripts in bench/ (scripts, not a package: imported by file name)."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from tests.conftest import REPO


def bench_script(name: str) -> ModuleType:
    """bench/NAME.py imported as a module, with bench/ on sys.path only while it imports (its own
    imports of sibling scripts, such as ``from learning import ...``, resolve there)."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)
