"""Training and translating under torchrun: 2 gloo processes of 1 thread on the CPU, as real
subprocesses started by ``python -m torch.distributed.run``, each with a timeout (a hang fails
the test instead of stalling CI).

Adam and exactness: two ranks average their gradients in one all-reduce, one process sums the
same samples' gradients in one backward; the float sums differ in their last bits. For most
weights that is nothing, but Adam's first steps move every weight by about ``lr * sign(grad)``,
so a weight whose gradient is near zero (a bias before instance norm) may step either way. The
equivalence is therefore measured over the whole network, against what a real difference looks
like: the same run on half the windows.
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
import torch

from tests.conftest import smooth_image, write_raster

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
GEOPIX = ["-m", "geo_pix2pix.cli.main"]
#: A small Pix2PixHD (no dropout: the only randomness is the windows), instance norm everywhere.
SMALL = ["--family", "pix2pixhd", "--tile-size", "64", "--ngf", "8", "--ndf", "8", "--norm", "instance",
         "--d-norm", "instance", "--device", "cpu", "--no-amp", "--val-fraction", "0", "--edge-weight", "0"]
REPO = Path(__file__).resolve().parents[3]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **extra}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def _run(args: list, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*map(str, args)], capture_output=True, text=True, timeout=timeout, check=False,
                              env=_env(**env), cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"hung: no end after {timeout} s: {args}\n{exc.stderr}") from None


def _pair(tmp: Path) -> tuple[Path, Path]:
    img = smooth_image(192, 192, 3, seed=8)
    return write_raster(tmp / "sat.tif", img), write_raster(tmp / "map.tif", (255 - img).astype(np.uint8))


def _steps(run: Path) -> list[int]:
    try:
        with open(run / "metrics.csv") as f:
            return [int(r["step"]) for r in csv.DictReader(f) if r.get("step")]
    except FileNotFoundError:
        return []


def _weights(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    return {n: {k: v.double() for k, v in state[n].items() if v.is_floating_point()} for n in ("G", "D")}


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return sum(float(((a[k] - b[k]) ** 2).sum()) for k in a) ** 0.5


@pytest.mark.parametrize("extra", [[], ["--r1-gamma", 1]], ids=["plain", "r1"])
def test_two_ranks_of_batch_b_train_as_one_process_of_batch_2b(tmp_path: Path, extra: list) -> None:
    # with --r1-gamma, step 1 takes D's R1 penalty's second-order gradient through the DDP wrapper
    sat, mp = _pair(tmp_path)
    common = ["train", "--imagery", sat, "--maps", mp, "--steps", 4, *SMALL, *extra]
    ddp = _run([*TORCHRUN, *GEOPIX, "-q", *common, "--batch-size", 2, "--out", tmp_path / "ddp"])
    assert ddp.returncode == 0, ddp.stderr
    assert ddp.stdout.count("trained to step 4") == 1  # rank 0 reports; the others are silent
    one = _run([sys.executable, *GEOPIX, "-q", *common, "--batch-size", 4, "--out", tmp_path / "one"])
    half = _run([sys.executable, *GEOPIX, "-q", *common, "--batch-size", 2, "--out", tmp_path / "half"])
    assert one.returncode == 0 and half.returncode == 0, one.stderr + half.stderr
    w_ddp, w_one, w_half = (_weights(tmp_path / r) for r in ("ddp", "one", "half"))
    for net in ("G", "D"):
        same, other = _distance(w_ddp[net], w_one[net]), _distance(w_half[net], w_one[net])
        # measured: 0.05 (G) and 0.02 (D) of the distance to the half-batch run
        assert same < 0.15 * other, (net, same, other)
    # rank 0 alone wrote the run directory: the same files as one process's, each step logged once
    names = lambda run: sorted(str(p.relative_to(run)) for p in run.rglob("*"))  # noqa: E731
    assert names(tmp_path / "ddp") == names(tmp_path / "one")
    assert _steps(tmp_path / "ddp") == [1, 2, 3, 4]


def test_a_time_budget_stops_every_rank(tmp_path: Path) -> None:
    sat, mp = _pair(tmp_path)
    r = _run([*TORCHRUN, *GEOPIX, "-q", "train", "--imagery", sat, "--maps", mp, "--time-budget", "4s",
              "--out", tmp_path / "run", *SMALL])
    assert r.returncode == 0, r.stderr  # both ranks ended (torchrun waits for every one)
    step = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"]
    assert step >= 1 and _steps(tmp_path / "run") == list(range(1, step + 1))


def test_ctrl_c_to_the_launcher_leaves_a_resumable_checkpoint(tmp_path: Path) -> None:
    sat, mp = _pair(tmp_path)
    run = tmp_path / "run"
    log = tmp_path / "train.log"
    with open(log, "w") as f:
        args = [*TORCHRUN, *GEOPIX, "-q", "train", "--imagery", sat, "--maps", mp, "--steps", 100000,
                "--checkpoint-every", 100000, "--out", run, *SMALL]
        p = subprocess.Popen([*map(str, args)], stdout=f, stderr=subprocess.STDOUT,
                             env=_env(), cwd=REPO, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    while len(_steps(run)) < 3 and p.poll() is None and time.monotonic() - t0 < 300:
        time.sleep(0.05)
    assert p.poll() is None, log.read_text()
    seen = max(_steps(run))
    p.send_signal(signal.SIGINT)  # to the launcher only: torchrun passes it on to the ranks
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise AssertionError(f"the ranks did not stop after Ctrl-C:\n{log.read_text()}") from None
    out = log.read_text()
    assert p.returncode != 0
    assert "interrupted by Ctrl-C at step" in out, out
    step = torch.load(run / "checkpoint.pt", weights_only=True)["step"]
    assert step >= seen and _steps(run) == list(range(1, step + 1))
    r = _run([*TORCHRUN, *GEOPIX, "-q", "train", "--resume", run, "--steps", step + 2])
    assert r.returncode == 0, r.stderr
    assert _steps(run) == list(range(1, step + 3))


def test_bad_input_on_one_rank_ends_every_rank_with_its_error(tmp_path: Path) -> None:
    sat, mp = _pair(tmp_path)
    r = _run([*TORCHRUN, "-m", "tests.geo_pix2pix.runtime.rank_fault", "train", "--imagery", sat, "--maps", mp,
              "--steps", 3, "--out", tmp_path / "run", *SMALL], timeout=180, GEOPIX_TEST_FAULT="input:1")
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("geopix: error:")]
    assert len(lines) == 2 and len(set(lines)) == 1, r.stderr  # both ranks, the same line
    assert "rank 1:" in lines[0] and "planted on this rank" in lines[0]
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_killed_rank_is_restarted_and_the_run_resumes(tmp_path: Path) -> None:
    sat, mp = _pair(tmp_path)
    run = tmp_path / "run"
    r = _run([*TORCHRUN[:-2], "--nproc-per-node", "2", "--max-restarts", "1", "-m",
              "tests.geo_pix2pix.runtime.rank_fault", "train", "--imagery", sat, "--maps", mp, "--steps", 8,
              "--checkpoint-every", 2, "--out", run, *SMALL],
             timeout=300, GEOPIX_TEST_FAULT="kill:1:5")
    assert r.returncode == 0, r.stderr
    assert "elastic restart 1: resuming" in r.stderr
    assert _steps(run) == list(range(1, 9))  # steps 5.. were trained again from the step-4 checkpoint, logged once
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 8


def test_translate_under_torchrun_equals_one_process(tiny_model: Path, tmp_path: Path) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(300, 260, 3, seed=9))
    one, two = tmp_path / "one.tif", tmp_path / "two.tif"
    r1 = _run([sys.executable, *GEOPIX, "-q", "translate", region, one, "--model", tiny_model, "--tile-size", 64])
    r2 = _run([*TORCHRUN, *GEOPIX, "-q", "translate", region, two, "--model", tiny_model, "--tile-size", 64])
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    with rasterio.open(one) as a, rasterio.open(two) as b:
        assert a.read().tobytes() == b.read().tobytes() and (a.transform, a.crs) == (b.transform, b.crs)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the parts' folder is gone


def test_resume_under_torchrun_is_exact(tmp_path: Path) -> None:
    """Pix2Pix with dropout: each rank draws its own masks, and the checkpoint keeps every rank's
    RNG, so 2 + 2 steps with a resume give the weights of 4 straight, bit for bit."""
    sat, mp = _pair(tmp_path)
    common = ["train", "--imagery", sat, "--maps", mp, "--tile-size", 64, "--ngf", 8, "--ndf", 8, "--device", "cpu",
              "--no-amp", "--val-fraction", 0, "--batch-size", 2]
    straight = _run([*TORCHRUN, *GEOPIX, "-q", *common, "--steps", 4, "--out", tmp_path / "straight"])
    part = _run([*TORCHRUN, *GEOPIX, "-q", *common, "--steps", 4, "--stop-at", 2, "--out", tmp_path / "resumed"])
    assert straight.returncode == 0 and part.returncode == 0, straight.stderr + part.stderr
    rest = _run([*TORCHRUN, *GEOPIX, "-q", "train", "--resume", tmp_path / "resumed"])
    assert rest.returncode == 0, rest.stderr
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])
    state = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert len(state["rng_ranks"]) == 2 and not torch.equal(*state["rng_ranks"])  # each rank its own stream


def test_one_rule_seeds_every_rank_s_stream() -> None:
    """seed_rank_stream(seed, rank, step) seeds a run's start (step 0: the seed runs have always
    started from) and a resume on another rank count (its step) alike; streams differ by seed,
    rank and step."""
    from geo_pix2pix.runtime.distributed import seed_rank_stream

    def first(seed: int, rank: int, step: int = 0) -> float:
        seed_rank_stream(seed, rank, step)
        return float(torch.rand(()))

    for seed, rank in ((0, 0), (3, 1), (2**33, 7)):
        torch.manual_seed(int(np.random.SeedSequence([seed, rank]).generate_state(1)[0]))  # the start's rule
        expected = float(torch.rand(()))
        assert first(seed, rank) == expected
    draws = {first(s, r, t) for s in (0, 1) for r in (0, 1) for t in (0, 500)}
    assert len(draws) == 8
