"""The plugin's runner (no QGIS needed): progress, log lines, environment, errors and cancel.

The child processes are small Python programs that behave like geopix at a known point: they
print ``--progress json`` records and log lines, and wait for the signal the runner sends. Each
waits on the runner, never on a clock: a cancel is asked for only once the child said it is ready.
"""

from __future__ import annotations

import signal
import sys
import textwrap
from pathlib import Path

import pytest
from geopix_provider import runner  # from qgis_plugin/, put on sys.path by conftest.py


class Recorder:
    """A :class:`runner.Listener` that records everything and cancels when told to."""

    def __init__(self, cancel_on: str | None = None) -> None:
        self.updates: list[runner.Progress] = []
        self.out: list[str] = []
        self.err: list[str] = []
        self.cancel_on = cancel_on
        self.asked = 0

    def canceled(self) -> bool:
        ready = self.cancel_on is not None and any(self.cancel_on in line for line in self.err + self.out)
        self.asked += ready
        return ready

    def progress(self, update: runner.Progress) -> None:
        self.updates.append(update)

    def stdout(self, line: str) -> None:
        self.out.append(line)

    def stderr(self, line: str) -> None:
        self.err.append(line)


def child(tmp_path: Path, body: str) -> list[str]:
    """``[python, script]`` for a child program with ``body`` (signal, sys, json, time imported)."""
    script = tmp_path / "child.py"
    script.write_text("import json, os, signal, sys, time\n" + textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(script)]


def test_progress_records_log_lines_and_stdout_are_told_apart(tmp_path) -> None:
    argv = child(tmp_path, """
        for done in range(4):
            print(json.dumps({"phase": "train", "done": done, "total": 3, "unit": "step",
                              "message": f"D={done}", "values": {"D": done}}), file=sys.stderr, flush=True)
        print("geopix: map kind: rendered", file=sys.stderr)
        print("{not json", file=sys.stderr)
        print("wrote /tmp/carte_été_地图.tif")
    """)
    rec = Recorder()
    outcome = runner.run(argv, rec)
    assert outcome.ok and outcome.code == 0 and not outcome.canceled and outcome.error is None
    assert [(u.phase, u.done, u.total, u.fraction) for u in rec.updates] == [
        ("train", 0, 3, 0.0), ("train", 1, 3, 1 / 3), ("train", 2, 3, 2 / 3), ("train", 3, 3, 1.0)]
    assert rec.updates[-1].values == {"D": 3} and rec.updates[-1].message == "D=3"
    assert rec.err == ["geopix: map kind: rendered", "{not json"]  # a line that is no record is a log line
    assert rec.out == ["wrote /tmp/carte_été_地图.tif"] == list(outcome.stdout)  # UTF-8 both ways


def test_geopix_errors_and_the_last_lines_are_kept(tmp_path) -> None:
    argv = child(tmp_path, """
        for i in range(30):
            print(f"line {i}", file=sys.stderr)
        print("geopix: error: region not found: /data/x.tif", file=sys.stderr)
        sys.exit(1)
    """)
    outcome = runner.run(argv, Recorder())
    assert outcome.code == 1 and not outcome.ok and not outcome.canceled
    assert outcome.error == "geopix: error: region not found: /data/x.tif"
    assert len(outcome.stderr_tail) == runner.TAIL and outcome.stderr_tail[-2] == "line 29"


def test_the_environment_is_cleaned_of_qgis_settings(tmp_path) -> None:
    """A PYTHONHOME leaked from QGIS would stop the child's Python from starting at all."""
    argv = child(tmp_path, """
        names = ["PYTHONHOME", "PYTHONPATH", "GDAL_DATA", "GDAL_DRIVER_PATH", "PROJ_LIB", "PROJ_DATA"]
        print(json.dumps({n: os.environ.get(n) for n in names + ["PYTHONIOENCODING", "KEEP_ME"]}))
    """)
    qgis = {"PATH": "/usr/bin:/bin", "KEEP_ME": "1", "PYTHONHOME": str(tmp_path / "qgis-python"),
            "PYTHONPATH": "/usr/share/qgis/python", "GDAL_DATA": "/usr/share/gdal", "GDAL_DRIVER_PATH": "/x",
            "PROJ_LIB": "/usr/share/proj", "PROJ_DATA": "/usr/share/proj"}
    outcome = runner.run(argv, Recorder(), env=runner.clean_environment(qgis))
    import json

    assert outcome.ok, outcome.stderr_tail
    seen = json.loads(outcome.stdout[0])
    assert seen == {**{n: None for n in runner.DROPPED_VARIABLES}, "PYTHONIOENCODING": "utf-8", "KEEP_ME": "1"}


def test_cancel_sends_ctrl_c_and_reports_how_geopix_stopped(tmp_path) -> None:
    """SIGINT first: geopix finishes its step, checkpoints, says so and exits 130."""
    argv = child(tmp_path, """
        def stop(signum, frame):
            print("geopix: interrupted by Ctrl-C at step 3 (after the step); checkpoint saved in run",
                  file=sys.stderr, flush=True)
            sys.exit(130)
        signal.signal(signal.SIGINT, stop)
        print("ready", file=sys.stderr, flush=True)
        while True:
            time.sleep(0.01)
    """)
    rec = Recorder(cancel_on="ready")
    outcome = runner.run(argv, rec)
    assert outcome.canceled and outcome.code == 130 and rec.asked >= 1
    assert outcome.error is not None and "checkpoint saved" in outcome.error


@pytest.mark.parametrize(("ignored", "code"), [(["SIGINT"], -signal.SIGTERM),
                                               (["SIGINT", "SIGTERM"], -signal.SIGKILL)])
def test_a_child_deaf_to_ctrl_c_gets_sigterm_then_sigkill(tmp_path, ignored, code) -> None:
    argv = child(tmp_path, f"""
        for name in {ignored!r}:
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        print("ready", file=sys.stderr, flush=True)
        while True:
            time.sleep(0.01)
    """)
    outcome = runner.run(argv, Recorder(cancel_on="ready"), interrupt_grace=0.2, terminate_grace=0.2)
    assert outcome.canceled and outcome.code == code


def test_ctrl_c_reaches_geopix_even_when_qgis_ignores_it(tmp_path) -> None:
    """A QGIS started in the background ignores SIGINT, and a child would inherit that (Python keeps an
    ignored SIGINT ignored); the runner restores the default, so the child stops on the SIGINT
    (Python exits by it when its KeyboardInterrupt is not caught), not on the later SIGTERM."""
    argv = child(tmp_path, """
        print("ready", file=sys.stderr, flush=True)
        while True:
            time.sleep(0.01)
    """)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        outcome = runner.run(argv, Recorder(cancel_on="ready"), interrupt_grace=30.0)
    finally:
        signal.signal(signal.SIGINT, before)
    assert outcome.canceled and outcome.code == -signal.SIGINT


def test_a_finished_run_is_not_reported_canceled_when_nobody_asked(tmp_path) -> None:
    outcome = runner.run(child(tmp_path, "sys.exit(3)"), Recorder())
    assert outcome.code == 3 and not outcome.canceled and outcome.error is None


def test_progress_lines_are_parsed_defensively() -> None:
    assert runner.parse_progress('{"phase": "merge", "done": 2, "total": null}') == runner.Progress("merge", 2, None)
    assert runner.parse_progress('{"phase": "x", "done": 5, "total": 0}').fraction is None
    assert runner.parse_progress('{"phase": "x", "done": 7, "total": 5}').fraction == 1.0
    for line in ('{"phase": "x"}', '{"done": "many"}', "[1, 2]", "geopix: note", "{"):
        assert runner.parse_progress(line) is None
