"""``make qgis-plugin``: the zip QGIS installs, and what the plugin may import (no QGIS needed)."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import geopix_provider.runner  # noqa: F401  (leaves __pycache__ in the source, which the zip must skip)

from geo_pix2pix._version import __version__
from tests.conftest import REPO
from tests.qgis_plugin.conftest import PLUGIN_ROOT

SOURCE = PLUGIN_ROOT / "geopix_provider"


def _make(dist: Path) -> Path:
    r = subprocess.run(["make", "-s", "-C", str(REPO), "qgis-plugin", f"DIST={dist}", f"PYTHON={sys.executable}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1])


def test_the_zip_has_one_plugin_folder_with_geopixs_version(tmp_path) -> None:
    zipped = _make(tmp_path / "a")
    assert zipped == tmp_path / "a" / f"geopix_provider-{__version__}.zip"
    with zipfile.ZipFile(zipped) as zf:
        names = zf.namelist()
        meta = configparser.ConfigParser()
        meta.read_string(zf.read("geopix_provider/metadata.txt").decode("utf-8"))
    assert {n.split("/")[0] for n in names} == {"geopix_provider"}
    assert "geopix_provider/__init__.py" in names and "geopix_provider/algorithms/train.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    sources = {f"geopix_provider/{p.relative_to(SOURCE).as_posix()}" for p in SOURCE.rglob("*.py")
               if "__pycache__" not in p.parts}
    assert sources <= set(names)
    general = meta["general"]
    assert general["version"] == __version__ and general["hasProcessingProvider"] == "yes"
    assert general["qgisMinimumVersion"] == "3.22" and general["name"] == "geopix"
    assert list(tmp_path.glob("a/.*")) == []  # written through a temporary name, none left


def test_the_same_sources_give_the_same_bytes(tmp_path) -> None:
    assert _make(tmp_path / "a").read_bytes() == _make(tmp_path / "b").read_bytes()


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports of a module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_plugin_imports_only_the_standard_library_and_qgis() -> None:
    """QGIS's Python has no geopix, torch or rasterio to offer (osgeo is QGIS's own GDAL); the runner
    and the executable check need not even QGIS (they are tested without it)."""
    allowed = set(sys.stdlib_module_names) | {"qgis", "processing", "osgeo"}
    for path in SOURCE.rglob("*.py"):
        assert _imports(path) <= allowed, (path, _imports(path) - allowed)
    for name in ("runner.py", "executable.py"):
        assert _imports(SOURCE / name) <= set(sys.stdlib_module_names), name


def test_the_plugin_is_not_in_the_wheel(monkeypatch) -> None:
    """setup.py's discovery (what the wheel holds) finds geopix's packages and nothing of the plugin."""
    import setuptools

    seen = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    monkeypatch.chdir(REPO)
    exec(compile((REPO / "setup.py").read_text(), str(REPO / "setup.py"), "exec"), {"__name__": "setup"})
    assert "geo_pix2pix.cli" in seen["packages"]
    assert not [p for p in seen["packages"] if "qgis" in p or "provider" in p]
    assert "qgis_plugin" not in seen["package_dir"].values()
