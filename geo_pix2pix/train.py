"""The training loop: ``fit(config)`` reads top to bottom like a short training script.

Phases: data (align pairs, split, index windows, statistics) -> build (the family's G and D, their
optimisers, the loss weights) -> resume if asked -> loop (learning rate, batch, ``gan_step``, log,
validate, checkpoint) -> finish (model file, curves, the ``latest`` link). The model family
(:mod:`geo_pix2pix.families`) decides the networks and the loss terms; nothing here depends on
which family runs.

Exact resume: the windows and augmentations of step ``s`` are drawn from
``numpy.random.default_rng([seed, s])`` (:class:`StepBatchSampler`), dropout uses torch's global
RNG whose state is checkpointed, the DataLoader has a generator of its own (so starting it does
not consume the global RNG), and the learning rate is a pure function of the step. Training
``2N`` steps straight and ``N`` steps + resume therefore give identical weights on the CPU.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from geo_pix2pix.balance import categorical_balance, palette_balance
from geo_pix2pix.build import ModelSetup, Sides, build_model, check_config
from geo_pix2pix.checkpoint import load_checkpoint, restore_training_state, save_checkpoint, training_state
from geo_pix2pix.config import TrainConfig
from geo_pix2pix.data import TrainingData, prepare_training
from geo_pix2pix.device import DevicePlan, plan_device
from geo_pix2pix.metrics import ImageMetrics, MetricAccumulator
from geo_pix2pix.modelfile import save_model
from geo_pix2pix.palette import load_palette
from geo_pix2pix.runs import MetricsLog, link_latest, plot_losses, save_sample_grid, write_json
from geo_pix2pix.step import Batch, LossWeights, StepLosses, gan_step
from geo_pix2pix.tiles.dataset import N_AUGMENT, PairWindowDataset, WindowListDataset
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.grid import PixelWindow
from geo_pix2pix.tiles.classes import ClassTable

__all__ = ["fit", "FitResult", "StepBatchSampler", "TrainingInterrupted", "ProgressCallback"]

log = logging.getLogger(__name__)


class TrainingInterrupted(GeopixError):
    """Raised when Ctrl-C stopped training after a checkpoint was saved."""

    exit_code = 130


@dataclass(frozen=True)
class FitResult:
    """Where the run is and how it ended."""

    run_dir: Path
    step: int
    val: ImageMetrics | None


#: Called after every step with the step number (1-based) and its losses.
ProgressCallback = Callable[[int, StepLosses], None]


class StepBatchSampler(Sampler[list[int]]):
    """Batches of dataset keys for steps ``start..end-1``; step ``s`` depends only on (seed, s).

    Each sample picks a pair with probability proportional to ``weights`` (its valid training
    area), then one of that pair's candidate windows and one of the 8 dihedral transforms, all
    from ``numpy.random.default_rng([seed, s])``.
    """

    def __init__(self, counts: list[int], weights: list[float], batch_size: int, seed: int,
                 start: int, end: int) -> None:
        self.counts = np.asarray(counts, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        w = np.asarray(weights, dtype=np.float64) * (self.counts > 0)
        self.p = w / w.sum()
        self.batch_size, self.seed, self.start, self.end = batch_size, seed, start, end

    def batch_for(self, step: int) -> list[int]:
        rng = np.random.default_rng([self.seed, step])
        pair = rng.choice(len(self.p), size=self.batch_size, p=self.p)
        cand = self.offsets[pair] + (rng.random(self.batch_size) * self.counts[pair]).astype(np.int64)
        aug = rng.integers(0, N_AUGMENT, size=self.batch_size)
        return (cand * N_AUGMENT + aug).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.end):
            yield self.batch_for(step)

    def __len__(self) -> int:
        return max(0, self.end - self.start)


def _workers(cfg: TrainConfig, plan: DevicePlan) -> int:
    """Loader worker processes: several on a GPU; none on a CPU.

    On a CPU every core already runs the networks; a worker process reading windows preempts
    them at random moments and stalls torch's thread team. Measured on 2 cores
    (``bench/train_throughput.py``): one worker made a step 10% slower than pre-made batches,
    loading in the main process (~2 ms per 256-pixel sample) 0%.
    """
    if cfg.workers >= 0:
        return cfg.workers
    cpus = os.cpu_count() or 1
    return min(8, max(1, cpus - 1)) if plan.device.type == "cuda" else 0


def _spread(items: list[tuple[int, PixelWindow]], n: int) -> list[tuple[int, PixelWindow]]:
    """At most ``n`` items spread evenly over the list (every pair contributes validation)."""
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 else items[:1]


def _to_device(batch: dict[str, torch.Tensor], plan: DevicePlan) -> dict[str, torch.Tensor]:
    fmt = torch.channels_last if plan.channels_last else torch.contiguous_format
    out = {}
    for k, v in batch.items():
        v = v.to(plan.device, non_blocking=True)
        out[k] = v.contiguous(memory_format=fmt) if v.dtype.is_floating_point else v
    return out


def _validate(G: torch.nn.Module, batches: list[dict[str, torch.Tensor]], a: str, b: str,
              plan: DevicePlan, classes: ClassTable | None = None
              ) -> tuple[ImageMetrics, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Metrics over the fixed validation batches (G in eval mode), and the first batch's images.

    A categorical map is scored by the share of valid pixels whose arg-max class is right (the
    image metrics of one-hot maps would mean nothing; ``geopix evaluate`` gives per-class IoU)."""
    acc = MetricAccumulator()
    right = total = 0
    first: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    was_training = G.training
    G.eval()
    amp = plan.autocast()
    with torch.inference_mode():
        for batch in batches:
            d = _to_device(batch, plan)
            if amp is None:
                fake = G(d[a])
            else:
                with amp():
                    fake = G(d[a])
            f, r = fake.float().cpu().numpy(), batch[b].numpy()
            if classes is not None:
                v = batch["valid"].numpy()[:, 0]
                right += int(((f.argmax(1) == r.argmax(1)) & v).sum())
                total += int(v.sum())
            else:
                acc.add(f, r, batch["valid"].numpy())
            if first is None:
                first = (batch[a].numpy(), f, r)
    G.train(was_training)
    if first is None:
        raise GeopixError("no windows to validate on")
    if classes is not None:
        nan = float("nan")
        return ImageMetrics(nan, nan, nan, right / total if total else nan, len(batches)), first
    return acc.result(), first


def _balanced(cfg: TrainConfig, weights: LossWeights, train_ds: PairWindowDataset, sides: Sides,
              data: TrainingData) -> tuple[LossWeights, dict[str, dict[str, float]] | None]:
    """The loss weights with class balance where asked for (``--balance-palette`` weighs a
    rendered map's L1 by colour class, ``--balance-classes`` a categorical map's cross-entropy),
    and the record written to ``class_balance.json``."""
    b = sides.b
    record = None
    if cfg.balance_palette:
        balance = palette_balance(load_palette(cfg.balance_palette), train_ds, b, sides.out_stats, cfg.balance_power)
        weights, record = dataclasses.replace(weights, pixel_weight=balance.pixel_weights), balance.to_dict()
    if cfg.balance_classes:
        if not isinstance(sides.out_stats, ClassTable) or b != "maps":
            raise GeopixError("--balance-classes weighs the classes of a categorical map (sat2map); this map is "
                              f"{data.map_kind} (--balance-palette weighs a rendered map's colours)")
        class_weights, record = categorical_balance(sides.out_stats, train_ds, b, cfg.balance_power)
        weights = dataclasses.replace(weights, class_weights=class_weights)
    return weights, record


def _with_epoch_steps(cfg: TrainConfig, data: TrainingData) -> TrainConfig:
    """``--epochs E``: ``steps`` = E passes over the training area (non-overlapping tiles) in
    batches; the result is recorded in config.json, and a resume with ``--steps`` clears ``epochs``."""
    if not cfg.epochs:
        return cfg
    return cfg.with_(steps=max(1, math.ceil(cfg.epochs * data.epoch_windows / cfg.batch_size)))


def _validation_batches(cfg: TrainConfig, data: TrainingData) -> list[dict[str, torch.Tensor]]:
    """Fixed validation windows (held-out blocks; a few training windows if there are none)."""
    val_list = _spread(list(data.val), cfg.val_windows)
    if not val_list:
        val_list = [data.index.window(i) for i in range(0, len(data.index), max(1, len(data.index) // 4))][:4]
    val_ds = WindowListDataset(data.specs, val_list, data.imagery_stats, data.map_stats)
    # Every DataLoader gets its own generator: starting one would otherwise draw from the global
    # RNG (which drives dropout) and break exact resume.
    return list(DataLoader(val_ds, batch_size=min(8, len(val_ds)), num_workers=0,
                           generator=torch.Generator().manual_seed(cfg.seed)))


def _set_frozen(G: torch.nn.Module, frozen: list[torch.nn.Parameter]) -> None:
    """Parameters in ``frozen`` get no gradient (Adam then leaves them bit-identical); the others do."""
    ids = {id(p) for p in frozen}
    for p in G.parameters():
        p.requires_grad_(id(p) not in ids)


def fit(cfg: TrainConfig, resume: bool = False, progress: bool = True,
        on_step: ProgressCallback | None = None) -> FitResult:
    """Train (or continue) a model of ``cfg.family`` as configured; returns where the run ended.

    ``on_step(step, losses)`` is called after every step (progress bars, notebooks, pipelines).
    """
    family, options = check_config(cfg)
    out = Path(cfg.out)
    plan = plan_device(cfg.device, cfg.amp)
    log.info("training %s on %s", family.name, plan.describe())

    # -- data: align, split, index, statistics (before creating anything on disk) -----------
    data = prepare_training(cfg)
    cfg = _with_epoch_steps(cfg, data)
    sides = Sides.of(cfg, data)
    a, b = sides.a, sides.b

    # -- build: the family's networks, optimisers and loss weights ---------------------------
    model: ModelSetup = build_model(cfg, family, options, sides, plan)
    G, D, opts = model.G, model.D, model.opts
    train_ds = PairWindowDataset(data.specs, data.index, data.imagery_stats, data.map_stats, augment=True)
    weights, balance_record = _balanced(cfg, model.weights, train_ds, sides, data)
    table = sides.out_stats if isinstance(sides.out_stats, ClassTable) else None
    val_batches = _validation_batches(cfg, data)

    # -- the run directory; resume ------------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    metrics = MetricsLog(out / "metrics.csv")
    cuda = plan.device.type == "cuda"
    start, spent_before = 0, 0.0  # seconds of training before this process count for --time-budget
    if resume:
        start, spent_before = restore_training_state(load_checkpoint(out / "checkpoint.pt"), G, D, opts.G, opts.D,
                                                     opts.scaler, cuda)
        metrics.truncate_after(start)
        log.info("resuming %s at step %d", out, start)
    write_json(out / "config.json", cfg.to_dict())
    if balance_record is not None:
        write_json(out / "class_balance.json", balance_record)
    t_start = time.monotonic()

    def elapsed() -> float:
        return spent_before + time.monotonic() - t_start

    def checkpoint(step: int) -> None:
        save_checkpoint(out / "checkpoint.pt", training_state(G, D, opts.G, opts.D, opts.scaler, step, elapsed(), cuda))
        save_model(out / "model.safetensors", G.state_dict(), model.meta(cfg, data, sides, step))
        metrics.flush()

    # -- the loop -------------------------------------------------------------------------
    budget = cfg.time_budget
    steps_total = cfg.steps if budget is None else 10**9  # a budget ends training by time
    end = min(steps_total, cfg.stop_at) if cfg.stop_at else steps_total
    workers = _workers(cfg, plan)
    loader = DataLoader(
        train_ds, batch_sampler=StepBatchSampler(data.train_counts, data.train_weights, cfg.batch_size,
                                                 cfg.seed, start, end),
        num_workers=workers, pin_memory=cuda, prefetch_factor=4 if workers else None,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    from geo_pix2pix.progress import progress_bar

    bar = progress_bar(disable=not progress, total=None if budget else end, initial=start, unit="step",
                       desc="train")
    step, last_val = start, None
    d_lr_factor = model.family.d_lr_factor(model.options)
    G.train()
    D.train()
    try:
        for step_i, batch in zip(range(start, end), loader):
            lr = cfg.lr_at(step_i) if budget is None else cfg.lr_at_fraction(elapsed() / budget)
            for opt, factor in ((opts.G, 1.0), (opts.D, d_lr_factor)):
                for group in opt.param_groups:
                    group["lr"] = lr * factor
            _set_frozen(G, model.family.frozen_parameters(G, options, step_i))
            d = _to_device(batch, plan)
            losses = gan_step(model.nets, opts, Batch(d[a], d[b], d["valid"]), weights, plan.autocast())
            step = step_i + 1
            last = step == end or (budget is not None and elapsed() >= budget)
            row: dict[str, Any] = {"step": step, "lr": lr, **losses.as_row()}
            if step % cfg.val_every == 0 or last:
                last_val, (ins, fakes, reals) = _validate(G, val_batches, a, b, plan, table)
                row.update(val_L1=last_val.L1, val_PSNR=last_val.PSNR, val_SSIM=last_val.SSIM,
                           val_pixel_accuracy=last_val.pixel_accuracy)
                (out / "samples").mkdir(exist_ok=True)
                save_sample_grid(out / "samples" / f"step_{step:06d}.png", ins[:4], fakes[:4], reals[:4],
                                 table.to_rgb if table is not None else None)
            metrics.write(row)
            if step % cfg.checkpoint_every == 0 and not last:
                checkpoint(step)
            # the postfix first, without its own redraw: update() redraws at the bar's interval (at most
            # every 30 s into a log file), while set_postfix's default refresh would redraw every step
            bar.set_postfix(D=f"{losses.D:.3f}", G_GAN=f"{losses.G_GAN:.3f}", L1=f"{losses.G_L1:.3f}", refresh=False)
            bar.update(1)
            if on_step is not None:
                on_step(step, losses)
            if last:
                break
    except KeyboardInterrupt:
        _finish(bar, checkpoint, step, metrics, out)
        raise TrainingInterrupted(
            f"interrupted at step {step}; checkpoint saved in {out}; continue with: geopix train --resume {out}"
        ) from None
    _finish(bar, checkpoint, step, metrics, out)
    return FitResult(out, step, last_val)


def _finish(bar: Any, checkpoint: Callable[[int], None], step: int, metrics: MetricsLog, out: Path) -> None:
    """Checkpoint, model file, curves and the latest link: the run directory is complete."""
    bar.close()
    checkpoint(step)
    plot_losses(metrics.rows(), out / "loss.png")
    metrics.close()
    link_latest(out)
