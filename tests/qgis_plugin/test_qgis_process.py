"""``qgis_process`` with the built zip unpacked into a fresh plugin path and a fresh profile.

Debian 12's ``/usr/bin/qgis_process`` is a wrapper that passes ``--noversioncheck``, which its
QGIS 3.22 ``qgis_process`` rejects; the tests call ``qgis_process.bin`` itself (docs/user-guide/qgis.md).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import zipfile

import numpy as np
import pytest
import rasterio

from tests.conftest import EXAMPLES
from tests.qgis_plugin.conftest import PLUGIN_ROOT, QGIS_PROCESS, need_qgis, qgis_env

ALGORITHMS = ["translate", "inpaint", "translate_layout", "evaluate", "merge", "train", "info"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The zip of ``make qgis-plugin`` unpacked as QGIS's "Install from ZIP" would, in a fresh
    plugin folder and profile; the plugin enabled the way a headless user enables it."""
    need_qgis("qgis_process")
    spec = importlib.util.spec_from_file_location("geopix_plugin_build", PLUGIN_ROOT / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    tmp = tmp_path_factory.mktemp("qgis_process")
    with zipfile.ZipFile(build.build(tmp / "dist")) as zf:
        zf.extractall(tmp / "plugins")
    env = qgis_env(tmp, QGIS_PLUGINPATH=str(tmp / "plugins"))
    r = _qgis_process(env, "plugins", "enable", "geopix_provider")
    assert r.returncode == 0, r.stdout + r.stderr
    return tmp, env


def _qgis_process(env, *args, timeout=600):
    return subprocess.run([QGIS_PROCESS, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_list_shows_every_algorithm(installed) -> None:
    _, env = installed
    r = _qgis_process(env, "plugins")
    assert "* geopix_provider" in r.stdout  # loaded, with a Processing provider
    listed = _qgis_process(env, "list").stdout
    for name in ALGORITHMS:
        assert f"geopix:{name}\t" in listed


def test_run_translate_writes_the_pixels_geopix_writes(installed, tiny_model, geopix) -> None:
    tmp, env = installed
    src, out, ref = EXAMPLES / "houston_sat.tif", tmp / "map.tif", tmp / "ref.tif"
    r = _qgis_process(env, "--json", "run", "geopix:translate", "--", f"INPUT={src}", f"MODEL={tiny_model}",
                      f"OUTPUT={out}", "DEVICE=cpu", "TILE_SIZE=128")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert json.loads(r.stdout)["results"]["OUTPUT"] == str(out)
    assert geopix("-q", "translate", src, ref, "--model", tiny_model, "--device", "cpu", "--tile-size", "128").code == 0
    with rasterio.open(out) as a, rasterio.open(ref) as b:
        assert np.array_equal(a.read(), b.read()) and a.transform == b.transform


def test_without_a_geopix_the_run_is_refused_in_one_line(installed, tiny_model) -> None:
    tmp, env = installed
    env = {**env, "PATH": "/usr/bin:/bin"}
    env.pop("GEOPIX_EXECUTABLE")
    r = _qgis_process(env, "run", "geopix:info", "--", f"INPUT={tiny_model / 'model.safetensors'}")
    assert r.returncode != 0
    assert "geopix was not found on PATH: install it in a Python environment of its own and set its path in " \
           "Settings > Options > Processing > Providers > geopix (or GEOPIX_EXECUTABLE for qgis_process)" in r.stderr
