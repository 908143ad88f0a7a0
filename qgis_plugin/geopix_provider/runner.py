"""Run the ``geopix`` command line out of process, the way QGIS needs it (no QGIS imports here).

QGIS's Python has no torch and must not load a second GDAL, so the provider runs the user's own
``geopix`` executable and talks to it through its command line only:

- an argument list, never a shell string, so paths with spaces or quotes need no escaping;
- an environment cleaned of what QGIS sets for itself (:func:`clean_environment`);
- ``--progress json`` on stderr, one JSON object per update, read line by line on two threads
  (stdout and stderr), so the caller's loop stays free to notice a cancel at once even while
  geopix prints nothing;
- cancel as a terminal's Ctrl-C: SIGINT to the whole process group (training finishes its step and
  checkpoints, translate removes its partial output), then SIGTERM, then SIGKILL, each after a grace
  period. On POSIX the child is spawned with SIGINT and SIGTERM at their default actions and in a
  process group of its own: a QGIS started in the background ignores SIGINT, and an ignored signal
  would stay ignored in geopix, which could then never be interrupted cleanly.

Callers see a :class:`Listener` (cancel flag, progress, log lines) and get an :class:`Outcome`.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Protocol

__all__ = ["Progress", "Listener", "Outcome", "run", "clean_environment", "DROPPED_VARIABLES"]

#: Variables QGIS sets for its own Python, GDAL and PROJ; in geopix's environment they make a venv
#: interpreter import QGIS's site-packages, or rasterio's GDAL read another GDAL's data and plugins
#: and its PROJ a proj.db of another version.
DROPPED_VARIABLES = ("PYTHONHOME", "PYTHONPATH", "GDAL_DATA", "GDAL_DRIVER_PATH", "PROJ_LIB", "PROJ_DATA")

#: How often the loop looks at the cancel flag and the child, in seconds (Processing asks for at
#: most 0.1 s between looks).
POLL = 0.05

#: stderr lines kept for the log when geopix fails.
TAIL = 20

#: Seconds to keep reading after geopix exited, for output still in the pipes.
STREAM_WAIT = 5.0


@dataclass(frozen=True)
class Progress:
    """One ``--progress json`` record: ``done`` of ``total`` (None: open-ended) ``unit`` in ``phase``."""

    phase: str
    done: int
    total: int | None
    unit: str = "it"
    message: str | None = None
    values: dict[str, object] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """Share done in [0, 1], or None when the total is not known."""
        if not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)


class Listener(Protocol):
    """What the runner tells its caller, always on the caller's own thread."""

    def canceled(self) -> bool: ...

    def progress(self, update: Progress) -> None: ...

    def stdout(self, line: str) -> None: ...

    def stderr(self, line: str) -> None: ...


#: How geopix's one-line ending begins: a refusal or failure, or an interruption (Ctrl-C, SIGTERM).
FINAL_LINES = ("geopix: error:", "geopix: interrupted")


@dataclass(frozen=True)
class Outcome:
    """How a run ended: the exit status (negative: killed by that signal), whether the caller
    canceled it, geopix's one-line error or interruption if it printed one, the last stderr lines and all of stdout."""

    code: int
    canceled: bool
    error: str | None
    stderr_tail: tuple[str, ...]
    stdout: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.code == 0


def clean_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) without :data:`DROPPED_VARIABLES`, with Python's own
    streams in UTF-8 (geopix prints paths, which may be any script) and unbuffered."""
    out = {k: v for k, v in (os.environ if env is None else env).items() if k not in DROPPED_VARIABLES}
    out.update(PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    return out


def parse_progress(line: str) -> Progress | None:
    """The record of a ``--progress json`` line, or None when the line is a log message."""
    if not line.startswith("{"):
        return None
    try:
        rec = json.loads(line)
        return Progress(phase=str(rec.get("phase") or ""), done=int(rec["done"]),
                        total=None if rec.get("total") is None else int(rec["total"]),
                        unit=str(rec.get("unit") or "it"), message=rec.get("message"),
                        values=dict(rec.get("values") or {}))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def run(argv: list[str], listener: Listener, env: dict[str, str] | None = None,
        interrupt_grace: float = 60.0, terminate_grace: float = 10.0) -> Outcome:
    """Run ``argv`` (``argv[0]`` an absolute path; paths in it absolute too), reporting to
    ``listener`` until it exits.

    When ``listener.canceled()`` turns true: SIGINT, then SIGTERM after ``interrupt_grace`` seconds
    (a training step and its checkpoint must fit in it), then SIGKILL after ``terminate_grace``.
    """
    child = _Child(argv, clean_environment() if env is None else env)
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
    for stream, name in ((child.stdout, "stdout"), (child.stderr, "stderr")):
        threading.Thread(target=_read, args=(stream, name, lines), daemon=True).start()
    seen = _Seen(listener)
    stop = _Escalation(child, interrupt_grace, terminate_grace)
    open_streams, code, exited_at = 2, None, 0.0
    # until geopix exits and both streams end; a grandchild that keeps them open (a stuck
    # DataLoader worker) is waited for a few seconds after geopix itself exited, not forever
    while code is None or (open_streams and time.monotonic() - exited_at < STREAM_WAIT):
        try:
            name, line = lines.get(timeout=POLL)
            if line is None:
                open_streams -= 1
            else:
                seen.line(name, line)
        except queue.Empty:
            pass
        if code is None:
            if listener.canceled():
                stop.advance()
            code, exited_at = child.poll(), time.monotonic()
    return Outcome(code, stop.started, seen.error, tuple(seen.tail), tuple(seen.stdout))


class _Seen:
    """What the run printed so far, each line handed on to the listener as it comes."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.stdout: list[str] = []
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL)
        self.error: str | None = None

    def line(self, stream: str, line: str) -> None:
        if stream == "stdout":
            self.stdout.append(line)
            self.listener.stdout(line)
            return
        update = parse_progress(line)
        if update is not None:
            self.listener.progress(update)
            return
        if line.strip():
            self.tail.append(line)
        if line.startswith(FINAL_LINES):
            self.error = line
        self.listener.stderr(line)


def _read(stream: IO[bytes], name: str, lines: queue.Queue[tuple[str, str | None]]) -> None:
    """Hand each line of ``stream`` to the loop, decoded as UTF-8, then None at its end."""
    with stream:
        for raw in stream:
            lines.put((name, raw.decode("utf-8", errors="replace").rstrip("\r\n")))
    lines.put((name, None))


class _Escalation:
    """SIGINT, SIGTERM, SIGKILL: each sent once, the next only when its grace period is over."""

    def __init__(self, child: _Child, interrupt_grace: float, terminate_grace: float) -> None:
        self.child = child
        self.steps = [(signal.SIGINT, interrupt_grace), (signal.SIGTERM, terminate_grace),
                      (getattr(signal, "SIGKILL", signal.SIGTERM), 0.0)]
        self.started = False
        self.next_at = 0.0

    def advance(self) -> None:
        now = time.monotonic()
        if not self.steps or (self.started and now < self.next_at):
            return
        sig, grace = self.steps.pop(0)
        self.started = True
        self.next_at = now + grace
        self.child.signal(sig)


class _Child:
    """The geopix process: on POSIX spawned with SIGINT/SIGTERM at their defaults in a new process
    group (signals go to the group, DataLoader workers included, as a terminal's Ctrl-C would);
    elsewhere a plain subprocess, stopped by terminate, then kill."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.status: int | None = None
        self.posix = os.name == "posix"
        if not self.posix:  # pragma: no cover (the provider is tested on Linux)
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE,
                                         creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
            self.stdout, self.stderr = self.proc.stdout, self.proc.stderr
            return
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        try:
            self.pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setpgroup=0,
                                      setsigdef=(signal.SIGINT, signal.SIGTERM))
        except OSError:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        self.stdout, self.stderr = os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb")

    def poll(self) -> int | None:
        if not self.posix:  # pragma: no cover
            return self.proc.poll()
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def wait(self) -> int:
        if not self.posix:  # pragma: no cover
            return self.proc.wait()
        if self.status is None:
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.status

    def signal(self, sig: int) -> None:
        if not self.posix:  # pragma: no cover
            (self.proc.kill if sig == getattr(signal, "SIGKILL", None) else self.proc.terminate)()
            return
        if self.poll() is None:  # never signal a group whose leader is reaped: its id may be reused
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
