"""The wheel built from the checkout holds every module and works when installed on its own.

An editable install (what ``make test`` uses) imports from the source tree and hides a wheel that
lacks a package or a module that works only because the editable import hook loaded something.
So the checkout's build inputs are copied aside (the build writes ``build/`` and ``*.egg-info``
beside its sources, and a stale ``build/lib`` in the checkout would leak into the wheel), built
into a wheel, and the wheel installed into a fresh virtual environment with pip (which writes the
``geopix`` console script). The dependencies are this environment's own, reached through a
``.pth`` file written after the install, so the test runs offline and pip never sees the editable
install. Commands run from a folder outside the repository, so the source tree cannot be imported
by accident, and the environment is asked where ``geo_pix2pix`` came from.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from geo_pix2pix._version import __version__
from tests.conftest import smooth_image, write_raster
from tests.test_layers import REPO, package_roots

#: what setuptools reads to build the wheel, besides the package folders
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "LICENSE")
SMALL = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--workers", "0", "--device", "cpu",
         "--val-fraction", "0"]


def source_files(repo: Path = REPO) -> set[str]:
    """Every module (and ``py.typed``) of the source tree, as its path inside the installed package."""
    files = set()
    for package, folder in package_roots(repo).items():
        prefix = package.replace(".", "/")
        for path in (repo / folder).rglob("*"):
            if path.is_file() and (path.suffix == ".py" or path.name == "py.typed") \
                    and "__pycache__" not in path.parts:
                files.add(f"{prefix}/{path.relative_to(repo / folder).as_posix()}")
    return files


def _run(cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built, offline and without build isolation, from a copy of the checkout's build inputs."""
    if int(version("setuptools").split(".")[0]) < 77:  # pyproject.toml's license field needs it
        pytest.fail(f"setuptools {version('setuptools')} cannot build geopix; the test extra installs >=77")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, src / name)
    for folder in package_roots().values():
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
          "-w", tmp / "dist", src], cwd=tmp)
    (built,) = (tmp / "dist").glob("geopix-*.whl")
    return built


def test_the_wheel_holds_every_module_of_the_source_tree(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    expected = source_files()
    assert {"geo_pix2pix/__init__.py", "geo_pix2pix/tiles/__init__.py", "geo_pix2pix/cli/main.py",
            "geo_pix2pix/py.typed"} <= expected
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"
    assert not {n for n in names if n.endswith(".py")} - expected, "the wheel holds modules the tree lacks"


def _dependency_dirs() -> list[str]:
    """This interpreter's site-packages folders (where torch, rasterio and the rest are installed)."""
    dirs = [*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    dirs += [p for p in sys.path if p.endswith("site-packages")]  # those a .pth file added
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed (no editable install anywhere in it)."""
    env = tmp_path_factory.mktemp("env") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", env], cwd=env.parent)
    py = env / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "--no-deps", "--no-index", wheel],
         cwd=env.parent)
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=env.parent).strip())
    # after the install, so pip never sees (nor uninstalls) the geopix of the environment running the tests
    (purelib / "_geopix_test_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    return env


def test_the_installed_wheel_trains_translates_and_describes(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"  # outside the repository: the source tree is not on sys.path
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    py, geopix = installed / "bin" / "python", installed / "bin" / "geopix"
    where = _run([py, "-c", "import sys, geo_pix2pix, geo_pix2pix.tiles, geo_pix2pix.cli.main as m; "
                  "print(geo_pix2pix.__file__, geo_pix2pix.tiles.__file__, m.__file__); "
                  "print([type(f).__name__ for f in sys.meta_path])"], cwd=work, env=env)
    files, finders = where.splitlines()
    purelib = _run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=work, env=env).strip()
    assert all(f.startswith(purelib + "/geo_pix2pix/") for f in files.split()), where
    assert "Editable" not in finders, where

    assert _run([geopix, "--version"], cwd=work, env=env).strip() == f"geopix, version {__version__}"
    img = smooth_image(128, 128, 3, seed=3)
    write_raster(work / "sat.tif", img)
    write_raster(work / "map.tif", (255 - img).astype(np.uint8))
    _run([geopix, "-q", "train", "--imagery", "sat.tif", "--maps", "map.tif", "--out", "run", "--steps", "2", *SMALL],
         cwd=work, env=env)
    assert (work / "run" / "model.safetensors").is_file()
    _run([geopix, "-q", "translate", "sat.tif", "out.tif", "--model", "run"], cwd=work, env=env)
    info = " ".join(_run([geopix, "info", "out.tif"], cwd=work, env=env).split())
    assert "crs: EPSG:32618 size: 128 x 128 pixels, 3 band(s)" in info, info
    model = " ".join(_run([geopix, "info", "run"], cwd=work, env=env).split())
    assert f"geopix {__version__}" in model and "trained: 2 steps" in model, model
