"""`geopix train --time-budget`: training stops by itself, with the learning-rate schedule laid
over the budget (a real clock through a real process, and a virtual clock for exact figures)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from geo_pix2pix.files.checkpoint import load_checkpoint
from geo_pix2pix.files.modelfile import read_meta
from tests.cli.conftest import SMALL, metric_rows


def _budget_run(tmp_path, tiny_pair, name: str, budget: str, *extra):
    sat, mp = tiny_pair
    return ["-q", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / name, "--time-budget", budget,
            "--val-every", "1000", *extra, *SMALL]


def _assert_complete_run(run) -> list[dict[str, str]]:
    """The run directory a finished run leaves: rows 1..N once each, model, checkpoint and curves at N."""
    rows = metric_rows(run)
    n = len(rows)
    assert n >= 1 and [r["step"] for r in rows] == [str(i) for i in range(1, n + 1)]
    for name in ["model.safetensors", "checkpoint.pt", "loss.png", "config.json"]:
        assert (run / name).is_file(), name
    assert rows[-1]["val_L1"]  # validated at the end
    assert read_meta(run).step == n and load_checkpoint(run / "checkpoint.pt")["step"] == n
    return rows


def test_time_budget_stops_training_by_itself_and_leaves_a_complete_run(tmp_path, tiny_pair) -> None:
    """The real clock, through a real process. Nothing here depends on how fast a step is: the run
    must stop by itself (the timeout is only a safety net against a budget that never ends it), not
    before the budget was spent, with a learning rate that falls with the time spent (--decay-start 0:
    lr = lr0 * (1 - elapsed / budget) at the start of each step, so any time that passes shows)."""
    run = tmp_path / "budget"
    cmd = [sys.executable, "-m", "geo_pix2pix.cli.main", *map(str, _budget_run(tmp_path, tiny_pair, "budget", "3s",
                                                                              "--decay-start", "0"))]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("waited 600 s for a --time-budget 3s run to stop by itself; it did not")
    assert r.returncode == 0, r.stderr
    rows = _assert_complete_run(run)
    assert load_checkpoint(run / "checkpoint.pt")["elapsed"] >= 3.0  # stopped by the budget, not before it
    lr0 = json.loads((run / "config.json").read_text())["lr"]
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] < lr0  # the schedule runs on the time spent, not on a step count (10**9 steps: no visible decay)
    assert lrs == sorted(lrs, reverse=True) and len(set(lrs)) == len(lrs)  # falls at every step
    # Every step but the last began before the budget was spent (the loop stops at the first step that
    # ends past it), so the rate reaches 0 at most on the last row: training does not run on past it.
    assert all(lr > 0 for lr in lrs[:-1]) and lrs[-1] >= 0


class _StepClock:
    """The clock of geo_pix2pix.training.loop's time budget, made virtual: it stands still while a step runs
    and moves on by exactly one second when the step's weights are updated (torch's global
    optimizer-step hook, on the first optimizer that steps: one update of it per training step), so a
    budget buys a known number of steps on any machine. The real time module serves everything else."""

    def __init__(self) -> None:
        self.now = 0.0
        self._ticker: object | None = None

    def monotonic(self) -> float:
        return self.now

    def after_optimizer_step(self, opt, args, kwargs) -> None:
        if self._ticker is None:
            self._ticker = opt
        if opt is self._ticker:
            if self.now >= 1000:
                raise AssertionError("the time budget did not stop training after 1000 one-second steps")
            self.now += 1.0

    def __getattr__(self, name: str):
        return getattr(time, name)


def test_time_budget_lays_the_lr_schedule_over_the_budget(tmp_path, geopix, tiny_pair, monkeypatch) -> None:
    """Several steps, and the schedule of --decay-start 0.5 laid over 10 s, exactly: with one-second
    steps a 10 s budget runs steps 1-10 (step 10 ends at 10 s), and step k starts at k-1 seconds."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    import geo_pix2pix.training.loop as train_mod

    clock = _StepClock()
    monkeypatch.setattr(train_mod, "time", clock)
    hook = register_optimizer_step_post_hook(clock.after_optimizer_step)
    try:
        r = geopix(*_budget_run(tmp_path, tiny_pair, "budget", "10s", "--decay-start", "0.5"))
    finally:
        hook.remove()
    assert r.code == 0, r.err
    run = tmp_path / "budget"
    rows = _assert_complete_run(run)
    assert len(rows) == 10
    assert load_checkpoint(run / "checkpoint.pt")["elapsed"] == 10.0  # spent time is saved, for --resume
    lr0 = json.loads((run / "config.json").read_text())["lr"]
    expected = [lr0] * 6 + [lr0 * f for f in (0.8, 0.6, 0.4, 0.2)]  # constant to half-way, then linear to 0
    assert [float(r["lr"]) for r in rows] == pytest.approx(expected, rel=1e-5)
