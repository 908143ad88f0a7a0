"""Interruptions and full disks: real subprocesses killed at a known point.

Ctrl-C is a SIGINT to the whole process group (as a terminal sends it, DataLoader workers
included); ``kill -9`` is SIGKILL to the main process. Full disks are small tmpfs mounts.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from geo_pix2pix.files.checkpoint import load_checkpoint
from tests.conftest import sha256, smooth_image, write_raster

GEOPIX = [sys.executable, "-m", "geo_pix2pix.cli.main"]
SMALL = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--device", "cpu", "--val-fraction", "0",
         "--val-every", "100000"]


def _pair(tmp: Path) -> tuple[Path, Path]:
    img = smooth_image(192, 192, 3, seed=8)
    return write_raster(tmp / "sat.tif", img), write_raster(tmp / "map.tif", (255 - img).astype(np.uint8))


def _steps(run: Path) -> list[int]:
    """Steps logged in metrics.csv. While training runs, rows reach the file in buffered chunks that
    may end mid-row: a torn last row reads as a prefix of its step number, never as a later step."""
    try:
        with open(run / "metrics.csv") as f:
            return [int(r["step"]) for r in csv.DictReader(f) if r.get("step")]
    except FileNotFoundError:
        return []


def _partials(out: Path) -> list[Path]:
    """The temporary files a translate to ``out`` writes beside it (tiles/atomic.py, tiles/mosaic/mosaicker.py)."""
    return sorted(out.parent.glob(f".{out.name}.*.partial"))


class Proc:
    """A ``geopix`` subprocess in its own process group, its output in a file (a pipe nobody reads
    could fill up and stall it)."""

    def __init__(self, args: list, log: Path) -> None:
        self.log = log
        with open(log, "w") as f:
            # SIGINT as a terminal leaves it: a test run started as a background job inherits
            # SIGINT ignored, and Ctrl-C would then never reach the child
            self.p = subprocess.Popen([*GEOPIX, *map(str, args)], stdout=f, stderr=subprocess.STDOUT,
                                      start_new_session=True,
                                      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, cond, what: str, timeout: float = 600) -> bool:
        """Wait until ``cond()`` holds (True) or the process ends first (False). The timeout is a
        safety net only: it fails the test, saying what was awaited."""
        t0 = time.monotonic()
        while not cond():
            if self.p.poll() is not None:
                return bool(cond())
            if time.monotonic() - t0 > timeout:
                self.kill_group()
                raise AssertionError(f"waited {timeout:.0f} s for {what}; it did not happen. Output:\n{self.output()}")
            time.sleep(0.01)
        return True

    def wait_while_running(self, cond, what: str, timeout: float = 600) -> None:
        if not self.wait_for(cond, what, timeout):
            raise AssertionError(f"the process ended ({self.p.returncode}) before {what}:\n{self.output()}")

    def finish(self, what: str, timeout: float = 600) -> int:
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(f"waited {timeout:.0f} s for {what}; it did not end. "
                                 f"Output:\n{self.output()}") from None

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=60)


def _geopix(args: list, what: str, timeout: float = 600) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*GEOPIX, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"waited {timeout:.0f} s for {what}; it did not end") from None


def test_ctrl_c_during_training_saves_a_checkpoint_and_resume_continues(tmp_path) -> None:
    sat, mp = _pair(tmp_path)
    run = tmp_path / "run"
    p = Proc(["-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "100000",
              "--checkpoint-every", "100000", "--workers", "1", "--batch-size", "1", *SMALL], tmp_path / "train.log")
    # No checkpoint is due before step 100000: the one found afterwards is Ctrl-C's.
    p.wait_while_running(lambda: len(_steps(run)) >= 3, "3 rows in metrics.csv (training under way)")
    seen = max(_steps(run))
    os.killpg(p.p.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole group
    code = p.finish("training to stop after Ctrl-C")
    err = p.output()
    assert code == 130, err
    assert "geopix: interrupted by Ctrl-C at step" in err and f"geopix train --resume {run}" in err
    # an interruption is not an error: one wording for every command
    assert "error" not in err.splitlines()[-1] and "Traceback" not in err
    step = load_checkpoint(run / "checkpoint.pt")["step"]
    assert step >= seen and _steps(run) == list(range(1, step + 1))  # every step it trained, saved
    r = _geopix(["-q", "train", "--resume", run, "--stop-at", step + 2], "the resumed training")
    assert r.returncode == 0, r.stderr
    assert _steps(run) == list(range(1, step + 3))  # no duplicated or missing step
    # Ctrl-C lets the step under way finish: the resumed run is the uninterrupted one, bit for bit
    straight = tmp_path / "straight"
    r = _geopix(["-q", "train", "--imagery", sat, "--maps", mp, "--out", straight, "--steps", 100000,
                 "--stop-at", step + 2,
                 "--checkpoint-every", "100000", "--workers", "1", "--batch-size", "1", *SMALL], "the straight run")
    assert r.returncode == 0, r.stderr
    a, b = (load_checkpoint(d / "checkpoint.pt")["G"] for d in (run, straight))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_during_training_stops_after_the_step_with_a_checkpoint(tmp_path) -> None:
    """A batch scheduler (SLURM, Kubernetes) sends SIGTERM before it kills: the run ends cleanly."""
    sat, mp = _pair(tmp_path)
    run = tmp_path / "run"
    p = Proc(["-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "100000",
              "--checkpoint-every", "100000", "--workers", "0", *SMALL], tmp_path / "train.log")
    p.wait_while_running(lambda: len(_steps(run)) >= 2, "2 rows in metrics.csv (training under way)")
    p.p.send_signal(signal.SIGTERM)
    code = p.finish("training to stop after SIGTERM")
    err = p.output()
    assert code == 128 + signal.SIGTERM, err
    assert "geopix: interrupted by SIGTERM at step" in err and "Traceback" not in err
    step = load_checkpoint(run / "checkpoint.pt")["step"]
    assert step >= 2 and _steps(run) == list(range(1, step + 1))


def test_kill_9_during_training_loses_at_most_one_checkpoint_interval(tmp_path) -> None:
    sat, mp = _pair(tmp_path)
    run = tmp_path / "run"
    p = Proc(["-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "100000",
              "--checkpoint-every", "4", "--workers", "0", *SMALL], tmp_path / "train.log")
    p.wait_while_running(lambda: (run / "checkpoint.pt").exists() and len(_steps(run)) >= 6,
                         "a checkpoint and 6 rows in metrics.csv")
    seen = max(_steps(run))  # steps it had trained by now, at least
    p.p.kill()  # SIGKILL: no handler runs
    p.finish("the killed training to end")
    assert p.p.returncode == -signal.SIGKILL
    saved = load_checkpoint(run / "checkpoint.pt")["step"]
    assert saved % 4 == 0 and saved >= 4
    assert saved >= seen - 4  # at most one interval of steps lost (4: killed while checkpointing step saved+4)
    target = max(_steps(run)) + 2
    r = _geopix(["-q", "train", "--resume", run, "--steps", target], "the resumed training")
    assert r.returncode == 0, r.stderr
    assert _steps(run) == list(range(1, target + 1))
    assert load_checkpoint(run / "checkpoint.pt")["step"] == target


#: Sides of the region translate is killed in: the next one (4x the work) only where translate
#: finished before the kill landed.
KILL_SIDES = (1536, 3072, 6144)


@pytest.mark.parametrize("existing", [False, True])
def test_kill_9_during_translate_leaves_out_untouched(tmp_path, tiny_model, existing) -> None:
    """SIGKILL as soon as translate's first temporary file appears beside the output, i.e. while it is
    writing. Should it have got to the end first (a fast machine), that is seen (it exited by itself,
    or the output is the complete new raster) and tried again on a region 4 times larger."""
    out = tmp_path / "out.tif"
    base = smooth_image(KILL_SIDES[0], KILL_SIDES[0], 3, seed=2)
    outcomes = []
    for side in KILL_SIDES:
        reps = side // KILL_SIDES[0]
        region = write_raster(tmp_path / f"region{side}.tif", np.tile(base, (1, reps, reps)))
        for q in _partials(out):
            q.unlink()
        out.unlink(missing_ok=True)
        if existing:
            out.write_bytes(b"the previous good result")
        p = Proc(["-q", "translate", region, out, "--model", tiny_model, "--batch-size", "1",
                  *(["--overwrite"] if existing else [])], tmp_path / f"translate{side}.log")
        if p.wait_for(lambda: bool(_partials(out)), f"a temporary file beside {out} (translate writing)"):
            p.p.kill()  # SIGKILL: no handler runs, nothing is cleaned up
        code = p.finish("the killed translate to end")
        assert code in (0, -signal.SIGKILL), p.output()
        replaced = out.exists() and (not existing or out.read_bytes() != b"the previous good result")
        if code == -signal.SIGKILL and not replaced:
            break  # killed mid-way
        # It got to the end before the kill landed: only the complete new output may be there then.
        assert replaced, f"translate exited {code} without writing {out}:\n{p.output()}"
        try:
            with rasterio.open(out) as o:
                complete = o.shape == (side, side) and o.read(window=((side - 64, side), (0, side))).any()
        except rasterio.errors.RasterioIOError:
            complete = False
        assert complete, f"translate (exit {code}) left an incomplete {out}: it writes the output in place"
        outcomes.append(f"{side}x{side}: exit {code}, output replaced")
    else:
        pytest.fail("translate was never killed before it had replaced the output (" + "; ".join(outcomes)
                    + "): it finished before the kill could land even on the largest region, or it writes "
                    "the output in place")
    if existing:
        assert out.read_bytes() == b"the previous good result"
    else:
        assert not out.exists()
    assert _partials(out)  # the killed run's leftovers
    r = _geopix(["translate", region, out, "--model", tiny_model, "--overwrite"], "the translate after the kill")
    assert r.returncode == 0, r.stderr
    assert "removed a stale temporary file" in r.stderr
    assert not _partials(out) and not [q for q in tmp_path.iterdir() if q.name.endswith(".partial")]
    with rasterio.open(out) as o:
        assert o.shape == (side, side)


def test_full_disk_during_translate_keeps_the_previous_output(tmp_path, tiny_model, geopix, small_disk) -> None:
    disk = small_disk("1m")
    noise = np.random.default_rng(0).integers(0, 256, (3, 1024, 1024), dtype=np.uint8)  # incompressible
    region = write_raster(tmp_path / "region.tif", noise)
    out = disk / "out.tif"
    out.write_bytes(b"previous")
    before = sha256(region)
    r = geopix("translate", region, out, "--model", tiny_model, "--overwrite")
    assert r.code == 1 and "Traceback" not in r.err
    assert f"could not write {out}" in r.err and "is the disk full?" in r.err
    assert out.read_bytes() == b"previous"
    assert sorted(q.name for q in disk.iterdir()) == ["out.tif"]  # temporary files removed
    assert sha256(region) == before


def test_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, geopix, small_disk) -> None:
    sat, mp = _pair(tmp_path)
    disk = small_disk("16m")
    run = disk / "run"
    assert geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "4", "--stop-at", "2",
                  "--workers", "0", *SMALL).code == 0
    ckpt = sha256(run / "checkpoint.pt")
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - 64 * 1024))  # leave 64 KiB
    r = geopix("-q", "train", "--resume", run)
    assert r.code == 1 and "Traceback" not in r.err
    assert "is the disk full" in r.err or "no space left" in r.err
    assert sha256(run / "checkpoint.pt") == ckpt and load_checkpoint(run / "checkpoint.pt")["step"] == 2
    assert not [q for q in run.iterdir() if q.name.endswith(".partial")]
