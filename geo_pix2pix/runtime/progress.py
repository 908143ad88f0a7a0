"""Progress reports: a tqdm bar for people, one JSON object a line for programs, or nothing.

The ``geopix`` group picks the mode once per process (``--progress bar|json|none``, see
:func:`set_mode`); every command then gets its reporter from :func:`progress_bar`, so a command
never knows which one it writes to.

- ``bar``: tqdm on stderr. On a terminal it refreshes ten times a second; when stderr is a file or
  a pipe (CI, nohup, ``make demo > log``) at most every 30 seconds, so logs get a few lines, not
  thousands.
- ``json``: every update is one line on stderr, ``{"phase", "done", "total", "unit", "message"}``
  plus ``"values"`` (a training step's losses as numbers), for programs that drive geopix (the
  QGIS provider, pipelines) and must not scrape a bar. Lines that are not JSON objects on the same
  stream are geopix's log messages.
- ``none``: no progress at all; log messages and errors still go to stderr.

A reporter asked for with ``disable=True`` (``-q``, a training rank other than 0) reports nothing
in any mode.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable
from typing import Any, Literal, get_args

__all__ = ["progress_bar", "follow", "counting", "deferred_progress", "set_mode", "get_mode", "JsonProgress", "Mode",
           "NOTICE"]

#: Log level of notices: what geopix decided for the user (a map kind it inferred, a recipe it
#: applied). Shown by default, hidden by ``-q`` (errors only); between INFO and WARNING.
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

Mode = Literal["bar", "json", "none"]
MODES: tuple[str, ...] = get_args(Mode)

_mode: Mode = "bar"


def set_mode(mode: Mode) -> None:
    """Make every later :func:`progress_bar` of this process a bar, JSON lines or nothing. A
    process-wide setting, because progress is a property of the process's stderr, not of a command."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"progress mode {mode!r} is not one of {', '.join(MODES)}")
    _mode = mode


def get_mode() -> Mode:
    """The mode :func:`set_mode` chose (``bar`` until it is called)."""
    return _mode


def progress_bar(disable: bool = False, **kw: Any) -> Any:
    """A reporter in the process's mode with tqdm's interface (``total``, ``n``, ``update``,
    ``set_postfix``, ``close``, a context manager); ``disable`` silences it."""
    if _mode == "json" and not disable:
        return JsonProgress(phase=kw.get("desc"), total=kw.get("total"), initial=kw.get("initial", 0),
                            unit=kw.get("unit", "it"))
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(disable=disable or _mode == "none", file=sys.stderr, dynamic_ncols=tty,
                mininterval=0.1 if tty else 30.0, **kw)


class JsonProgress:
    """tqdm's interface, reporting each update as one JSON line on stderr.

    The first line is written when it is made (``done`` = its initial count), so a reader learns
    the phase before the first unit is finished; then one line per :meth:`update`. The postfix of
    :meth:`set_postfix` (training's losses) rides on the next update: as ``message``, the text a
    bar would show, and as ``values``, numbers where the text is one.
    """

    def __init__(self, phase: str | None, total: int | None, initial: int = 0, unit: str = "it") -> None:
        self.phase, self.total, self.n, self.unit = phase, total, initial, unit
        self._postfix: dict[str, Any] = {}
        self._emit()

    def update(self, n: int = 1) -> None:
        self.n += n
        self._emit()

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        """Values shown with the next update (``refresh`` is tqdm's, there is nothing to redraw)."""
        self._postfix = {**(ordered_dict or {}), **kwargs}

    def close(self) -> None:
        """Nothing to tear down: every update is already written."""

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _emit(self) -> None:
        record: dict[str, Any] = {"phase": self.phase, "done": self.n, "total": self.total, "unit": self.unit,
                                  "message": ", ".join(f"{k}={v}" for k, v in self._postfix.items()) or None}
        if self._postfix:
            record["values"] = {k: _number(v) for k, v in self._postfix.items()}
        sys.stderr.write(json.dumps(record) + "\n")
        sys.stderr.flush()


def _number(value: Any) -> Any:
    """A postfix value as a number where it is one (tqdm postfixes are often preformatted text); a
    NaN or infinite loss stays text, since JSON has no number for it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else str(value)


def follow(bar: Any) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback (translate's, merge's) that moves ``bar`` to ``done`` of ``total``."""
    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return progress


class deferred_progress:  # noqa: N801 (used like a function, as progress_bar is)
    """A ``progress(done, total)`` callback whose reporter is made on its first call, and a context
    manager that closes it.

    Library code calls ``progress(0, total)`` once its checks have passed and the work starts, so
    a refused command (an existing output, a tile too large) draws no bar before its one-line
    error, and the bar starts with its total known.
    """

    def __init__(self, disable: bool = False, **kw: Any) -> None:
        self._disable, self._kw = disable, kw
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = progress_bar(disable=self._disable, total=total, **self._kw)
        bar = self._bar
        bar.total = total
        if done != bar.n:
            bar.update(done - bar.n)

    def __enter__(self) -> deferred_progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def counting(progress: Callable[[int, int], None], total: int) -> Callable[[int], None]:
    """The mosaicker's ``progress(n)`` (tiles finished since the last call) as a caller's
    ``progress(done, total)``: the running count of ``total``."""
    done = 0

    def count(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    return count
