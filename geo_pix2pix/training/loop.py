"""The training loop: ``fit(config)`` reads top to bottom like a short training script.

Phases: data (align pairs, split, index windows, statistics) -> build (the family's G and D, their
optimisers, the objective of the GAN step) -> resume if asked -> loop (learning rate, batch,
``gan_step``, log, validate, checkpoint) -> finish (model file, curves, the ``latest`` link). The
model family (:mod:`geo_pix2pix.families`) decides the networks, how G draws and its loss terms;
nothing here depends on which family runs.

Exact resume: the windows and augmentations of step ``s`` are drawn from
``numpy.random.default_rng([seed, s])`` (:mod:`~geo_pix2pix.training.batches`), dropout uses torch's global
RNG whose state is checkpointed, the DataLoader has a generator of its own (so starting it does
not consume the global RNG), and the learning rate is a pure function of the step. Training
``2N`` steps straight and ``N`` steps + resume therefore give identical weights on the CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from geo_pix2pix.evaluation.metrics import ImageMetrics
from geo_pix2pix.files.checkpoint import load_checkpoint, restore_training_state, save_checkpoint, training_state
from geo_pix2pix.files.modelfile import save_model
from geo_pix2pix.files.runs import MetricsLog, link_latest, plot_losses, save_sample_grid, write_json
from geo_pix2pix.runtime.device import DevicePlan, plan_device, to_device
from geo_pix2pix.runtime.distributed import (
    StopSignals,
    World,
    agree,
    agree_stop,
    barrier,
    data_parallel,
    device_for,
    gather_rng,
    init_world,
    lost_peer,
    seed_rank_stream,
)
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.errors import Interrupted
from geo_pix2pix.tiles.pairs.dataset import PairWindowDataset
from geo_pix2pix.training.augment import Augment, with_augment
from geo_pix2pix.training.batches import step_loader, with_filled_input
from geo_pix2pix.training.build import ModelSetup, Sides, build_model, build_objective, check_config
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.data import TrainingData, prepare_training
from geo_pix2pix.training.ema import GeneratorAverage
from geo_pix2pix.training.objective import Batch, Networks, Objective
from geo_pix2pix.training.step import StepLosses, gan_step
from geo_pix2pix.training.validation import validate, validation_batches

__all__ = ["fit", "FitResult", "TrainingInterrupted", "ProgressCallback"]

log = logging.getLogger(__name__)


class TrainingInterrupted(Interrupted):
    """Raised when Ctrl-C or SIGTERM stopped training after a checkpoint was saved."""


@dataclass(frozen=True)
class FitResult:
    """Where the run is and how it ended."""

    run_dir: Path
    step: int
    val: ImageMetrics | None


#: Called after every step with the step number (1-based) and its losses.
ProgressCallback = Callable[[int, StepLosses], None]


def _with_epoch_steps(cfg: TrainConfig, data: TrainingData) -> TrainConfig:
    """``--epochs E``: ``steps`` = E passes over the training area (non-overlapping tiles) in
    batches; the result is recorded in config.json, and a resume with ``--steps`` clears ``epochs``."""
    if not cfg.epochs:
        return cfg
    return cfg.with_(steps=max(1, math.ceil(cfg.epochs * data.epoch_windows / cfg.batch_size)))


def _set_frozen(G: torch.nn.Module, frozen: list[torch.nn.Parameter]) -> None:
    """Parameters in ``frozen`` get no gradient (Adam then leaves them bit-identical); the others do."""
    ids = {id(p) for p in frozen}
    for p in G.parameters():
        p.requires_grad_(id(p) not in ids)


@dataclass
class _Run:
    """What the loop needs, prepared on every rank (data, networks, objective, validation batches)."""

    cfg: TrainConfig
    data: TrainingData
    sides: Sides
    model: ModelSetup
    train_ds: PairWindowDataset
    objective: Objective
    balance_record: dict[str, dict[str, float]] | None
    val_batches: list[dict[str, torch.Tensor]]
    make: Callable[..., Batch]
    ema: GeneratorAverage | None

    @property
    def averaged(self) -> nn.Module | None:
        """The averaged generator, if the run keeps one (checkpointed beside G)."""
        return self.ema.module if self.ema is not None else None

    @property
    def published(self) -> nn.Module:
        """The generator the run publishes (validation, samples, model file): the average if there is one."""
        return self.ema.module if self.ema is not None else self.model.G


def _prepare(cfg: TrainConfig, family: Any, options: Any, plan: DevicePlan, resume: bool) -> _Run:
    """Data (align, split, index, statistics) and build (the family's networks, optimisers and
    the objective of the GAN step), before anything is created on disk. The average of G, if
    any, starts from G as built (a warm start included)."""
    data = prepare_training(cfg)
    cfg = _with_epoch_steps(cfg, data)
    sides = Sides.of(cfg, data)
    model = build_model(cfg, family, options, sides, plan, fresh=not resume)
    train_ds = PairWindowDataset(data.specs, data.index, data.imagery_stats, data.map_stats, augment=True)
    objective, balance_record = build_objective(cfg, model, sides, train_ds, data)
    make = with_augment(with_filled_input(family.batches(cfg, options, data, sides.a, sides.b), sides.a,
                                          isinstance(sides.in_stats, ClassTable)), Augment.for_run(cfg, sides),
                        cfg.seed)
    ema = GeneratorAverage(model.G, cfg.ema_decay) if cfg.ema_decay > 0 else None
    return _Run(cfg, data, sides, model, train_ds, objective, balance_record, validation_batches(cfg, data), make,
                ema)


def _distribute(run: _Run, plan: DevicePlan, world: World) -> Networks:
    """The step's networks: under torchrun G and D in DistributedDataParallel (D as G's loss sees
    it unwrapped), and each rank's own dropout/noise stream; alone, as built."""
    model, cfg = run.model, run.cfg
    if not world.distributed:
        return model.nets
    frozen = any(model.family.frozen_parameters(model.G, model.options, s) for s in (0, cfg.steps - 1))
    G, D = data_parallel(model.G, model.D, plan.device.type == "cuda", find_unused=frozen)
    nets = dataclasses.replace(model.nets, G=G, D=D, D_for_G=model.D)
    if cfg.compile:
        # torch.compile of a Module returns a Module (OptimizedModule); its stubs say a callable
        nets = dataclasses.replace(nets, G=cast(nn.Module, torch.compile(G)), D=cast(nn.Module, torch.compile(D)),
                                   D_for_G=cast(nn.Module, torch.compile(model.D)))
    seed_rank_stream(cfg.seed, world.rank)
    return nets


@contextlib.contextmanager
def _peers(world: World) -> Iterator[None]:
    """Under torchrun, a collective broken by a rank that died becomes one line (torchrun reports
    the dead rank and, with --max-restarts, restarts them all)."""
    try:
        yield
    except RuntimeError as exc:
        err = lost_peer(exc)
        if err is None:
            raise
        raise err from None


def fit(cfg: TrainConfig, resume: bool = False, progress: bool = True,
        on_step: ProgressCallback | None = None) -> FitResult:
    """Train (or continue) a model of ``cfg.family`` as configured; returns where the run ended.

    ``on_step(step, losses)`` is called after every step (progress bars, notebooks, pipelines).
    Under torchrun every rank calls it; rank 0 alone writes the run directory
    (:mod:`geo_pix2pix.runtime.distributed`).
    """
    # -- set-up: the checks, the device, then data and networks on every rank --------------
    world = init_world(cfg.device)
    family, options = check_config(cfg)
    out = Path(cfg.out)
    plan = plan_device(device_for(cfg.device), cfg.amp)
    log.info("training %s on %s%s", family.name, plan.describe(),
             f", rank {world.rank} of {world.size}" if world.distributed else "")
    run = agree(lambda: _prepare(cfg, family, options, plan, resume))
    cfg, model = run.cfg, run.model
    nets = _distribute(run, plan, world)

    # -- the run directory (rank 0), the checkpoint to resume from, the schedule -------------
    cuda = plan.device.type == "cuda"
    start, spent_before, metrics = _open_run(run, out, world, resume, cuda)
    elapsed = _Clock(spent_before)
    budget = cfg.time_budget
    end = _end_step(cfg)
    loader = step_loader(cfg, run.data, run.train_ds, plan, start, end, world.rank, world.size)
    bar = _progress_bar(progress and world.is_main, None if budget else end, start)

    # -- the loop: learning rate, batch, step, record; every rank stops after the same step ----
    step, last_val, now = start, None, spent_before  # now: rank 0's elapsed seconds, agreed after each step
    signals = StopSignals()
    model.G.train()
    model.D.train()
    with signals.installed(), _peers(world):
        for step_i, batch in zip(range(start, end), loader, strict=False):  # the loop ends at `last`
            lr = _lr_at(cfg, step_i, now if world.distributed else elapsed())
            losses = _train_step(run, nets, plan, options, world, step_i, batch, lr)
            step = step_i + 1
            now, stop = agree_stop(elapsed(), signals.requested is not None)
            last = step == end or (budget is not None and now >= budget) or stop
            val = _record(run, plan, out, metrics, step, {"step": step, "lr": lr, **losses.as_row()}, last, now, cuda)
            last_val = val if val is not None else last_val
            # the postfix first, without its own redraw: update() redraws at the bar's interval (at most
            # every 30 s into a log file), while set_postfix's default refresh would redraw every step
            bar.set_postfix(losses.postfix(), refresh=False)
            bar.update(1)
            if on_step is not None:
                on_step(step, losses)
            if last:
                break
        bar.close()
        _checkpoint(run, out, metrics, step, now, cuda)  # the last step's, whatever ended the run
    _close_run(out, metrics)
    if signals.requested is not None:
        raise _interrupted(signals.requested, step, out)
    return FitResult(out, step, last_val)


def _train_step(run: _Run, nets: Networks, plan: DevicePlan, options: Any, world: World, step_i: int,
                batch: dict[str, torch.Tensor], lr: float) -> StepLosses:
    """One optimiser step of G and D at learning rate ``lr``, then the average's update: the
    family's frozen parameters and D's learning-rate factor first, the batch made on the device."""
    model = run.model
    _set_lr(model.opts, lr, model.family.d_lr_factor(options))
    _set_frozen(model.G, model.family.frozen_parameters(model.G, options, step_i))
    made = run.make(to_device(batch, plan), step_i, world.rank, world.size)
    losses = gan_step(nets, model.opts, made, run.objective, plan.autocast(), step_i)
    if run.ema is not None:
        run.ema.update(model.G, step_i)
    return losses


class _Clock:
    """Seconds the run has trained: before this process (from the checkpoint) and since."""

    def __init__(self, before: float) -> None:
        self.before, self.t0 = before, time.monotonic()

    def __call__(self) -> float:
        return self.before + time.monotonic() - self.t0


def _lr_at(cfg: TrainConfig, step: int, spent: float) -> float:
    """The learning rate of ``step``. Under a time budget it follows the time ``spent``: this
    process's clock alone, rank 0's as agreed after the last step under torchrun (every rank must
    step with the same rate)."""
    return cfg.lr_at(step) if cfg.time_budget is None else cfg.lr_at_fraction(spent / cfg.time_budget)


def _end_step(cfg: TrainConfig) -> int:
    """The step after which training ends at the latest (a time budget ends it by time)."""
    steps_total = cfg.steps if cfg.time_budget is None else 10**9
    return min(steps_total, cfg.stop_at) if cfg.stop_at else steps_total


def _progress_bar(shown: bool, total: int | None, start: int) -> Any:
    from geo_pix2pix.runtime.progress import progress_bar

    return progress_bar(disable=not shown, total=total, initial=start, unit="step", desc="train")


def _record(run: _Run, plan: DevicePlan, out: Path, metrics: MetricsLog | None, step: int, row: dict[str, Any],
            last: bool, now: float, cuda: bool) -> ImageMetrics | None:
    """After step ``step``: validation (rank 0, every ``val_every`` steps and the last), the
    metrics row, a checkpoint every ``checkpoint_every`` steps (the last one is fit's). Returns
    the validation metrics if it validated."""
    cfg, val = run.cfg, None
    if metrics is not None and (step % cfg.val_every == 0 or last):
        val = _validate_and_sample(run, plan, out, step, row)
    if metrics is not None:
        metrics.write(row)
    if step % cfg.checkpoint_every == 0 and not last:
        _checkpoint(run, out, metrics, step, now, cuda)
    return val


def _set_lr(opts: Any, lr: float, d_lr_factor: float) -> None:
    """G's learning rate ``lr``, D's ``lr * d_lr_factor`` (TTUR)."""
    for opt, factor in ((opts.G, 1.0), (opts.D, d_lr_factor)):
        for group in opt.param_groups:
            group["lr"] = lr * factor


def _checkpoint(run: _Run, out: Path, metrics: MetricsLog | None, step: int, spent: float, cuda: bool) -> None:
    """Checkpoint and model file at ``step`` (rank 0 writes; collective: every rank calls it at the
    same steps, since it gathers every rank's RNG state)."""
    m = run.model
    rng = gather_rng()
    if metrics is not None:  # rank 0
        save_checkpoint(out / "checkpoint.pt", training_state(m.G, m.D, m.opts.G, m.opts.D, m.opts.scaler, step,
                                                              spent, cuda, rng, G_ema=run.averaged))
        save_model(out / "model.safetensors", run.published.state_dict(), m.meta(run.cfg, run.data, run.sides, step))
        metrics.flush()


def _close_run(out: Path, metrics: MetricsLog | None) -> None:
    """After the last checkpoint: curves and the latest link (rank 0), so the run directory is
    complete before any rank reports the run finished."""
    if metrics is not None:
        plot_losses(metrics.rows(), out / "loss.png")
        metrics.close()
        link_latest(out)
    barrier()


def _open_run(run: _Run, out: Path, world: World, resume: bool, cuda: bool) -> tuple[int, float, MetricsLog | None]:
    """The run directory (made and written by rank 0) and, with ``resume``, the checkpoint (loaded by
    every rank); returns the first step, the seconds trained before and rank 0's metrics log."""
    main = world.is_main
    if main:
        out.mkdir(parents=True, exist_ok=True)
    metrics = MetricsLog(out / "metrics.csv", run.objective.term_names()) if main else None
    start, spent_before = 0, 0.0  # seconds of training before this process count for --time-budget
    if resume:
        m = run.model
        start, spent_before = agree(lambda: restore_training_state(
            load_checkpoint(out / "checkpoint.pt"), m.G, m.D, m.opts.G, m.opts.D, m.opts.scaler, cuda, world.rank,
            world.size, seed=run.cfg.seed, G_ema=run.averaged))
        if metrics is not None:
            metrics.truncate_after(start)
        log.info("resuming %s at step %d", out, start)
    if main:
        write_json(out / "config.json", run.cfg.to_dict())
        if run.balance_record is not None:
            write_json(out / "class_balance.json", run.balance_record)
    return start, spent_before, metrics


def _validate_and_sample(run: _Run, plan: DevicePlan, out: Path, step: int, row: dict[str, Any]) -> ImageMetrics:
    """Validation metrics into ``row``, and the sample grid of ``step`` (rank 0, unwrapped G)."""
    table = run.sides.out_stats if isinstance(run.sides.out_stats, ClassTable) else None
    val, (ins, fakes, reals) = validate(run.published, run.val_batches, run.make, plan, table)
    row.update(val_L1=val.L1, val_PSNR=val.PSNR, val_SSIM=val.SSIM, val_pixel_accuracy=val.pixel_accuracy)
    (out / "samples").mkdir(exist_ok=True)
    save_sample_grid(out / "samples" / f"step_{step:06d}.png", ins[:4], fakes[:4], reals[:4],
                     table.to_rgb if table is not None else None)
    return val


def _interrupted(signum: int, step: int, out: Path) -> TrainingInterrupted:
    return TrainingInterrupted(f"at step {step} (after the step); checkpoint saved in {out}; continue with: "
                               f"geopix train --resume {out}", signum)
