"""Which ``geopix`` the provider runs, and whether it can (no QGIS imports here).

The executable is the provider setting when it is set, else the ``GEOPIX_EXECUTABLE`` environment
variable (how ``qgis_process`` and CI point at it without a profile), else ``geopix`` on ``PATH``.
:func:`check` runs ``geopix --progress json --version`` once per executable file version: the one
call proves that it starts, that it is new enough, and that it has the JSON progress the provider
reads, so a toolbox algorithm refuses at once with one line instead of failing deep inside.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from .runner import clean_environment

__all__ = ["ENV_VAR", "MIN_VERSION", "Check", "find_executable", "check", "parse_version"]

ENV_VAR = "GEOPIX_EXECUTABLE"

#: The oldest geopix whose command line this provider speaks (``--progress json``, the flags of
#: every wrapped command).
MIN_VERSION = (0, 1, 0)

#: Where a user sets the executable, named in every message that asks them to.
WHERE = f"Settings > Options > Processing > Providers > geopix (or {ENV_VAR} for qgis_process)"


@dataclass(frozen=True)
class Check:
    """Whether ``executable`` can be run: ``message`` is the one line that says why not."""

    executable: str | None
    version: str | None
    message: str | None

    @property
    def ok(self) -> bool:
        return self.message is None


def find_executable(setting: str | None, env: dict[str, str] | None = None) -> str | None:
    """The absolute path of the geopix to run, or None when none is set or found on PATH."""
    env = dict(os.environ) if env is None else env
    chosen = (setting or "").strip() or env.get(ENV_VAR, "").strip()
    if chosen:
        chosen = os.path.expanduser(chosen)
        found = shutil.which(chosen, path=env.get("PATH")) if os.sep not in chosen else chosen
        return os.path.abspath(found or chosen)
    found = shutil.which("geopix", path=env.get("PATH"))
    return os.path.abspath(found) if found else None


def parse_version(text: str) -> tuple[int, ...] | None:
    """``"geopix, version 0.1.0"`` -> ``(0, 1, 0)``; a pre-release suffix (``0.2.0rc1``) is ignored."""
    m = re.search(r"version\s+(\d+(?:\.\d+)*)", text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


_cache: dict[tuple[str, float], Check] = {}


def check(executable: str | None, timeout: float = 120.0) -> Check:
    """Run ``executable --progress json --version`` (cached per path and modification time)."""
    if executable is None:
        return Check(None, None, f"geopix was not found on PATH: install it in a Python environment of its own "
                                 f"and set its path in {WHERE}")
    try:
        key = (executable, os.stat(executable).st_mtime)
    except OSError:
        return Check(executable, None, f"geopix executable {executable} does not exist: set the right path in {WHERE}")
    if key not in _cache:
        _cache[key] = _run_check(executable, timeout)
    return _cache[key]


def _run_check(executable: str, timeout: float) -> Check:
    try:
        r = subprocess.run([executable, "--progress", "json", "--version"], capture_output=True,
                           env=clean_environment(), stdin=subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        return Check(executable, None, f"cannot run geopix at {executable} ({exc}): set a working geopix in {WHERE}")
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    last = next((ln.strip() for ln in reversed(out.splitlines()) if ln.strip()), "no output")
    need = ".".join(map(str, MIN_VERSION))
    if r.returncode == 2 and "--progress" in out:
        return Check(executable, None, f"geopix at {executable} is too old (no --progress json); the provider needs "
                                       f"geopix {need} or newer: upgrade it, or set a newer one in {WHERE}")
    version = parse_version(out) if r.returncode == 0 else None
    if version is None:
        return Check(executable, None, f"{executable} is not a working geopix ({last}): set a geopix in {WHERE}")
    text = ".".join(map(str, version))
    if version < MIN_VERSION:
        return Check(executable, text, f"geopix at {executable} is version {text}; the provider needs {need} or "
                                       f"newer: upgrade it, or set a newer one in {WHERE}")
    return Check(executable, text, None)
