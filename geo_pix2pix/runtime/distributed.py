"""Running as one of several processes under torchrun (torch.distributed).

geopix has no launcher of its own: ``torchrun`` starts the processes, sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` (and ``TORCHELASTIC_RESTART_COUNT`` after an elastic restart) and
runs the rendezvous; :func:`init_world` reads that environment and joins the process group (NCCL
on CUDA, each process on ``cuda:LOCAL_RANK``; gloo on CPU). Without torchrun the world is one
process and nothing here does anything, so ``geopix train`` alone behaves as it always did.

Every decision that ends or changes a run is *collective*, so no process waits forever for one
that has left:

* errors a user can cause (a raster missing on one node, a bad option) are gathered
  (:func:`agree`, :func:`on_main`): every rank raises the same one-line error;
* stopping (a time budget, Ctrl-C, SIGTERM from a scheduler or from torchrun) is agreed at step
  boundaries (:class:`StopSignals`, :func:`agree_stop`): all ranks stop after the same step;
* a rank that dies is torchrun's to notice: it stops the others and, with ``--max-restarts``,
  starts them again, and ``geopix train`` then resumes from the last checkpoint.
"""

from __future__ import annotations

import atexit
import datetime
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar, cast

import numpy as np
import torch
import torch.distributed as dist

from geo_pix2pix.tiles.errors import GeopixError, environment_error, one_line

__all__ = ["World", "world", "init_world", "launched", "agree", "on_main", "agree_stop", "StopSignals",
           "barrier", "device_for", "data_parallel", "gather_rng", "seed_rank_stream", "lost_peer", "TRAIN_TIMEOUT"]

T = TypeVar("T")

#: How long a collective waits for the slowest rank while training (a validation pass or a
#: checkpoint written by rank 0 while the others wait). A dead rank is torchrun's to notice.
TRAIN_TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    restarts: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run directory and the merged output."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched() -> bool:
    """Whether torchrun (or another torch.distributed launcher) started this process."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def world() -> World:
    """This process's :class:`World`, from the process group if it was joined, else one process."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)),
                 int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0)))


def device_for(name: str) -> str:
    """The device this rank runs on: ``cuda:LOCAL_RANK`` when several processes share a node's
    GPUs (``auto`` or ``cuda`` asked), else ``name``."""
    if launched() and int(os.environ["WORLD_SIZE"]) > 1 and name in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return name


def init_world(device: str = "auto", timeout: datetime.timedelta = TRAIN_TIMEOUT) -> World:
    """Join torchrun's process group (idempotent); one process without torchrun.

    NCCL when this rank runs on a CUDA device, gloo otherwise. Raises a one-line error when the
    environment names a world the process cannot join.
    """
    if not launched() or int(os.environ["WORLD_SIZE"]) <= 1 or dist.is_initialized():
        return world()
    cuda = device_for(device).startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    try:
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout, store=_attempt_store(timeout),
                                rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise GeopixError(f"could not join the torchrun process group ({one_line(str(exc))[:200]})") from None
    atexit.register(_leave_world)
    return world()


def _leave_world() -> None:
    """Leave the process group before the interpreter exits. Left to the C++ destructors at exit,
    gloo's threads were sometimes still running when a rank finished first: the process aborted
    ("terminate called without an active exception", SIGABRT) after its work was done, and
    torchrun reported the run failed (seen 3 times in 5 sharded translates on one CPU core)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _attempt_store(timeout: datetime.timedelta) -> Any:
    """The rendezvous store of this attempt: torchrun's (``MASTER_ADDR:MASTER_PORT``, served by
    its agent or by rank 0), seen through a prefix naming the elastic restart. torchrun keeps one
    store across restarts, so without the prefix the restarted ranks found the dead ranks' gloo
    addresses in it and failed to connect (measured with torch 2.14: "Connection refused")."""
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == str(True)
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), size,
                          is_master=not agent and rank == 0, timeout=timeout)
    return dist.PrefixStore(f"geopix/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def _gather(value: Any) -> list[Any]:
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def _error_line(exc: Exception) -> tuple[str, int]:
    """The one line and exit code every rank reports for ``exc``: a user's error (geopix's own,
    click's, GDAL's or the file system's) as the CLI prints it, anything else as an internal error."""
    err: GeopixError | None
    if isinstance(exc, GeopixError):
        err = exc
    else:
        import click

        if isinstance(exc, click.ClickException):
            return one_line(exc.format_message()), exc.exit_code
        err = environment_error(exc)
    if err is None:
        return f"internal error: {type(exc).__name__}: {one_line(str(exc))}", 1
    return one_line(str(err)), getattr(err, "exit_code", 1)


def _raise_first(errors: list[tuple[str, int] | None]) -> None:
    """Raise the lowest failing rank's error, naming the rank, on this rank (the same line everywhere)."""
    failed = [(r, e) for r, e in enumerate(errors) if e is not None]
    if failed:
        rank, (message, code) = failed[0]
        err = GeopixError(f"rank {rank}: {message}")
        err.exit_code = code
        raise err from None


def agree(fn: Callable[[], T]) -> T:
    """Run ``fn`` on every rank; if it fails on any rank, every rank raises that error (the lowest
    failing rank's), as one line naming the rank. One process: ``fn()``."""
    if not world().distributed:
        return fn()
    result: T | None = None
    mine: tuple[str, int] | None = None
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 (reported by every rank as one line, below)
        mine = _error_line(exc)
    _raise_first(_gather(mine))
    return result  # type: ignore[return-value]


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and give every rank its result (or its error): for what must
    happen once (checking and creating the run directory, naming it after the time)."""
    w = world()
    if not w.distributed:
        return fn()
    box: list[Any] = [None]
    if w.is_main:
        try:
            box[0] = ("ok", fn())
        except Exception as exc:  # noqa: BLE001
            box[0] = ("error", _error_line(exc))
            dist.broadcast_object_list(box, src=0)
            raise  # rank 0 reports its own error as it is
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        _raise_first([value])
    return cast(T, value)


def data_parallel(G: torch.nn.Module, D: torch.nn.Module, cuda: bool, find_unused: bool
                  ) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``G`` and ``D`` wrapped in DistributedDataParallel: gradients are averaged over the ranks
    in backward, so every rank takes the same optimiser step and the weights stay identical (DDP
    broadcasts rank 0's at the start). On CUDA batch norm becomes SyncBatchNorm (statistics over
    the global batch); on a CPU, where SyncBatchNorm does not run, each rank normalises its own
    batch (a warning says so: instance or spectral norm behave the same at any rank count).
    ``find_unused``: some of G's parameters get no gradient at times (Pix2PixHD's fixed global phase).
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    w = world()
    if cuda:
        G = torch.nn.SyncBatchNorm.convert_sync_batchnorm(G)
        D = torch.nn.SyncBatchNorm.convert_sync_batchnorm(D)
    elif w.is_main and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                           for net in (G, D) for m in net.modules()):
        import logging

        logging.getLogger(__name__).warning(
            "batch norm under torchrun on CPUs normalises each rank's own batch (SyncBatchNorm runs on GPUs only), "
            "so results depend on the number of ranks; --norm instance --d-norm instance (or spectral) do not")
    ids = [w.local_rank] if cuda else None
    return DDP(G, device_ids=ids, find_unused_parameters=find_unused), DDP(D, device_ids=ids)


def gather_rng() -> list[torch.Tensor]:
    """Every rank's torch CPU RNG state (dropout, style noise), for rank 0's checkpoint."""
    state = torch.get_rng_state()
    return _gather(state) if world().distributed else [state]


def seed_rank_stream(seed: int, rank: int, step: int = 0) -> None:
    """Seed this rank's own torch RNG stream (dropout, style noise) for training from ``step`` on,
    from ``numpy.random.SeedSequence([seed, rank, step])``: at the start of a run under torchrun
    (step 0), and when a resume cannot continue the saved streams (another rank count). One rule
    for both, so no two ranks, runs or resume points share a stream. At step 0 it is the seed of
    ``[seed, rank]`` (SeedSequence pads short entropy with zeros), which runs have started from."""
    torch.manual_seed(int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0]))


def lost_peer(exc: BaseException) -> GeopixError | None:
    """A one-line error for a collective that failed because another rank died (gloo's
    "Connection closed by peer", NCCL's errors), or None for anything else."""
    text = str(exc)
    if not world().distributed or not isinstance(exc, RuntimeError) or not any(
            k in text for k in ("Connection closed by peer", "Connection reset by peer", "NCCL", "gloo")):
        return None
    return GeopixError(f"rank {world().rank}: another rank stopped mid-step (see torchrun's report for which and "
                       f"why); with --max-restarts torchrun starts the ranks again and the run resumes from its last "
                       f"checkpoint ({one_line(text)[:120]})")


def barrier() -> None:
    """Wait for every rank (nothing with one process)."""
    if world().distributed:
        dist.barrier()


def agree_stop(elapsed: float, stop: bool) -> tuple[float, bool]:
    """Rank 0's elapsed training time and whether any rank asks to stop: every rank gets the
    same pair, so the learning rate (a function of time under ``--time-budget``) and the decision
    to end after this step are the same everywhere."""
    w = world()
    if not w.distributed:
        return elapsed, stop
    t = torch.tensor([elapsed if w.is_main else 0.0, 1.0 if stop else 0.0], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t[0]), bool(t[1] > 0)


class StopSignals:
    """Ctrl-C and SIGTERM, turned into a request to stop after the current step.

    A step is never cut in half: the run stops at a step boundary (agreed among ranks, see
    :func:`agree_stop`) with a checkpoint, so a resume continues exactly. A second Ctrl-C
    interrupts at once. Installed only in the main thread (signals are delivered there).
    """

    def __init__(self) -> None:
        self.requested: int | None = None  # the signal received

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signum

    @contextmanager
    def installed(self) -> Iterator[StopSignals]:
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        before = {s: h for s, h in before.items() if h is not signal.SIG_IGN}  # nohup: stay deaf
        for s in before:
            signal.signal(s, self._handler)
        try:
            yield self
        finally:
            for s, h in before.items():
                signal.signal(s, h)
