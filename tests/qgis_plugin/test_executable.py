"""Which geopix the provider runs and the one-line reasons it refuses one (no QGIS needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from geopix_provider import executable  # from qgis_plugin/, put on sys.path by conftest.py

from tests.qgis_plugin.conftest import GEOPIX


def fake(folder: Path, script: str, name: str = "geopix") -> str:
    """An executable shell script standing in for a geopix."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return str(path)


def test_the_setting_wins_then_the_environment_variable_then_path(tmp_path) -> None:
    on_path = fake(tmp_path / "bin", "echo")
    chosen = fake(tmp_path / "env", "echo")
    env = {"PATH": str(tmp_path / "bin")}
    assert executable.find_executable(None, env) == on_path
    assert executable.find_executable("", {**env, executable.ENV_VAR: chosen}) == chosen
    assert executable.find_executable("/opt/geopix/bin/geopix", {**env, executable.ENV_VAR: chosen}) == \
        "/opt/geopix/bin/geopix"
    assert executable.find_executable(None, {"PATH": str(tmp_path / "nothing")}) is None


def test_the_real_geopix_passes_the_check() -> None:
    found = executable.check(GEOPIX)
    from geo_pix2pix._version import __version__

    assert found.ok and found.version == __version__ and found.message is None


@pytest.mark.parametrize(("script", "message"), [
    ("echo 'geopix, version 0.0.9'", "is version 0.0.9; the provider needs 0.1.0 or newer"),
    ("echo \"geopix: error: No such option: --progress (see 'geopix --help')\" >&2; exit 2",
     "is too old (no --progress json)"),
    ("echo 'Traceback: ModuleNotFoundError: torch' >&2; exit 1", "is not a working geopix (Traceback: "),
])
def test_an_old_or_broken_geopix_is_refused_in_one_line(tmp_path, script, message) -> None:
    path = fake(tmp_path, script)
    found = executable.check(path)
    assert not found.ok and message in found.message and path in found.message
    assert "\n" not in found.message and "Providers > geopix" in found.message


def test_missing_and_unrunnable_executables_are_named(tmp_path) -> None:
    found = executable.check(None)
    assert not found.ok and "not found on PATH" in found.message and executable.ENV_VAR in found.message
    missing = str(tmp_path / "nope" / "geopix")
    assert f"{missing} does not exist" in executable.check(missing).message
    text = tmp_path / "notes"
    text.write_text("not a program\n")
    found = executable.check(str(text))
    assert not found.ok and "cannot run geopix" in found.message


def test_the_check_runs_once_per_version_of_the_file(tmp_path) -> None:
    count = tmp_path / "count"
    path = fake(tmp_path / "bin", f"echo x >> {count}; echo 'geopix, version 0.1.0'")
    assert executable.check(path).ok and executable.check(path).ok
    assert count.read_text().count("x") == 1
    fake(tmp_path / "bin", f"echo x >> {count}; echo 'geopix, version 0.0.1'")  # upgraded (here: downgraded)
    os.utime(path, (1, 1))
    assert not executable.check(path).ok and count.read_text().count("x") == 2


def test_versions_are_read_from_clicks_version_line() -> None:
    assert executable.parse_version("geopix, version 0.1.0") == (0, 1, 0)
    assert executable.parse_version("geopix, version 1.2.0rc1") == (1, 2, 0)
    assert executable.parse_version("geopix 1.2") is None
