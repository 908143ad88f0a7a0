"""Interruptions and full disks: real subprocesses killed at a known point.

Ctrl-C is a SIGINT to the whole process group (as a terminal sends it, DataLoader workers
included); ``kill -9`` is SIGKILL to the main process. Full disks are small tmpfs mounts.
"""

from __future__ import annotations

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

from geo_pix2pix.checkpoint import load_checkpoint

from ..conftest import sha256, smooth_image, write_raster

GEOPIX = [sys.executable, "-m", "geo_pix2pix.cli.main"]
SMALL = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--device", "cpu", "--val-fraction", "0",
         "--val-every", "100000"]


def _pair(tmp: Path) -> tuple[Path, Path]:
    img = smooth_image(192, 192, 3, seed=8)
    return write_raster(tmp / "sat.tif", img), write_raster(tmp / "map.tif", (255 - img).astype(np.uint8))


def _steps(run: Path) -> list[int]:
    if not (run / "metrics.csv").exists():
        return []
    with open(run / "metrics.csv") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 120) -> None:  # noqa: ANN001
    t0 = time.time()
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _start(args: list, **kw) -> subprocess.Popen:  # noqa: ANN003
    return subprocess.Popen([*GEOPIX, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, **kw)


def test_ctrl_c_during_training_saves_a_checkpoint_and_resume_continues(tmp_path) -> None:
    sat, mp = _pair(tmp_path)
    run = tmp_path / "run"
    p = _start(["-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "100000",
                "--checkpoint-every", "100000", "--workers", "1", *SMALL])
    _wait_for(lambda: len(_steps(run)) >= 3, p)
    os.killpg(p.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole group
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "interrupted at step" in err and f"geopix train --resume {run}" in err and "Traceback" not in err
    step = load_checkpoint(run / "checkpoint.pt")["step"]
    assert step >= 3 and _steps(run) == list(range(1, step + 1))
    r = subprocess.run([*GEOPIX, "-q", "train", "--resume", str(run), "--steps", str(step + 2)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _steps(run) == list(range(1, step + 3))  # no duplicated or missing step


def test_kill_9_during_training_loses_at_most_one_checkpoint_interval(tmp_path) -> None:
    sat, mp = _pair(tmp_path)
    run = tmp_path / "run"
    p = _start(["-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "100000",
                "--checkpoint-every", "4", "--workers", "0", *SMALL])
    _wait_for(lambda: (run / "checkpoint.pt").exists() and len(_steps(run)) >= 6, p)
    p.kill()  # SIGKILL: no handler runs
    p.communicate(timeout=60)
    saved = load_checkpoint(run / "checkpoint.pt")["step"]
    assert saved % 4 == 0 and saved >= 4
    target = max(_steps(run)) + 2
    r = subprocess.run([*GEOPIX, "-q", "train", "--resume", str(run), "--steps", str(target)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert _steps(run) == list(range(1, target + 1))
    assert load_checkpoint(run / "checkpoint.pt")["step"] == target


@pytest.mark.parametrize("existing", [False, True])
def test_kill_9_during_translate_leaves_out_untouched(tmp_path, tiny_model, existing) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(1536, 1536, 3, seed=2))
    out = tmp_path / "out.tif"
    if existing:
        out.write_bytes(b"the previous good result")
    p = _start(["-q", "translate", region, out, "--model", tiny_model, "--batch-size", "1",
                *(["--overwrite"] if existing else [])])
    _wait_for(lambda: any(q.name.endswith(".partial") for q in tmp_path.iterdir()), p)
    time.sleep(0.3)
    p.kill()
    p.communicate(timeout=60)
    if existing:
        assert out.read_bytes() == b"the previous good result"
    else:
        assert not out.exists()
    assert any(q.name.endswith(".partial") for q in tmp_path.iterdir())  # the killed run's leftovers
    r = subprocess.run([*GEOPIX, "translate", region, out, "--model", tiny_model, "--overwrite"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "removed a stale temporary file" in r.stderr
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".partial")]
    with rasterio.open(out) as o:
        assert o.shape == (1536, 1536)


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
