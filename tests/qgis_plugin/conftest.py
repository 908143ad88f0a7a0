"""Fixtures of the QGIS provider tests: the plugin's source, the geopix under test, PyQGIS runs.

The QGIS-free modules of the plugin (runner, executable, build) are tested with the project's
Python. Whatever needs QGIS runs in Debian's ``/usr/bin/python3`` (PyQGIS) or ``qgis_process``,
headless, as subprocesses; they are skipped where QGIS is not installed, and fail in CI, which
installs it (.ci/run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

PLUGIN_ROOT = REPO / "qgis_plugin"
SYSTEM_PYTHON = "/usr/bin/python3"
QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # not /usr/bin/qgis_process: see docs/user-guide/qgis.md
DRIVER = Path(__file__).with_name("pyqgis_driver.py")

#: The geopix the plugin runs: the console script beside the Python running the tests.
GEOPIX = str(Path(sys.executable).with_name("geopix"))

if str(PLUGIN_ROOT) not in sys.path:  # the plugin's QGIS-free modules, imported as QGIS would
    sys.path.insert(0, str(PLUGIN_ROOT))


def _has_pyqgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


def need_qgis(what: str = "PyQGIS") -> None:
    """Skip without QGIS, except in CI, where its absence is a broken setup."""
    have = _has_pyqgis() and (what != "qgis_process" or Path(QGIS_PROCESS).exists())
    if not have:
        if os.environ.get("CI"):
            pytest.fail(f"{what} missing in CI: .ci/run installs qgis, python3-qgis and qgis-providers")
        pytest.skip(f"{what} not installed (apt-get install qgis python3-qgis qgis-providers)")


def qgis_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A headless QGIS environment with a fresh profile under ``tmp`` and the geopix under test."""
    env = {k: v for k, v in os.environ.items() if k not in ("QGIS_OPTS", "PYTHONPATH", "PYTHONHOME")}
    # GDAL_PAM_ENABLED=NO: QGIS would otherwise leave .aux.xml statistics beside the repository's samples
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(tmp / "profile"), GEOPIX_EXECUTABLE=GEOPIX,
               XDG_RUNTIME_DIR=str(tmp / "xdg"), GDAL_PAM_ENABLED="NO", **extra)
    (tmp / "xdg").mkdir(mode=0o700, exist_ok=True)
    return env


def drive(tmp: Path, cases: list[dict[str, Any]], timeout: float = 900) -> dict[str, Any]:
    """Run ``cases`` through the plugin in one PyQGIS session (pyqgis_driver.py); their results by id."""
    need_qgis()
    plan, out = tmp / "cases.json", tmp / "results.json"
    plan.write_text(json.dumps(cases))
    r = subprocess.run([SYSTEM_PYTHON, str(DRIVER), str(PLUGIN_ROOT), str(plan), str(out)], capture_output=True,
                       text=True, env=qgis_env(tmp), timeout=timeout)
    if r.returncode != 0 or not out.exists():
        raise AssertionError(f"PyQGIS driver failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return {res["id"]: res for res in json.loads(out.read_text())}
