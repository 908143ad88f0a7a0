"""The training loop: ``fit(config)`` reads top to bottom.

Phases: prepare the data (align pairs, split, index windows, statistics) -> build G and D ->
resume if asked -> for each step: learning rate, batch, ``train_step``, log, validate, checkpoint
-> final model file, curves and the ``latest`` link.

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from geo_pix2pix._version import __version__
from geo_pix2pix.balance import ClassBalance, class_balance, palette_centers, require_rgb
from geo_pix2pix.checkpoint import load_checkpoint, save_checkpoint
from geo_pix2pix.config import DIRECTIONS, TrainConfig
from geo_pix2pix.device import DevicePlan, plan_device
from geo_pix2pix.metrics import ImageMetrics, MetricAccumulator
from geo_pix2pix.modelfile import ModelMeta, save_model
from geo_pix2pix.palette import Palette, load_palette
from geo_pix2pix.models.registry import DiscriminatorConfig, GeneratorConfig
from geo_pix2pix.data import pair_meta, prepare_training
from geo_pix2pix.runs import MetricsLog, link_latest, plot_losses, save_sample_grid, write_json
from geo_pix2pix.step import StepLosses, build_gan, train_step
from geo_pix2pix.tiles.dataset import N_AUGMENT, PairWindowDataset, WindowListDataset
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.grid import PixelWindow
from geo_pix2pix.tiles.normalize import BandStats

__all__ = ["fit", "FitResult", "StepBatchSampler", "TrainingInterrupted"]

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
              plan: DevicePlan) -> tuple[ImageMetrics, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Metrics over the fixed validation batches (G in eval mode), and the first batch's images."""
    acc = MetricAccumulator()
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
            acc.add(f, r, batch["valid"].numpy())
            if first is None:
                first = (batch[a].numpy(), f, r)
    G.train(was_training)
    if first is None:
        raise GeopixError("no windows to validate on")
    return acc.result(), first


def _class_balance(cfg: TrainConfig, palette: Palette, ds: PairWindowDataset, b: str,
                   stats: BandStats) -> ClassBalance:
    """Class weights from up to 128 training windows spread over the candidates (no augmentation
    needed: flips do not change frequencies)."""
    n = len(ds.index)
    keys = [i * N_AUGMENT for i in range(0, n, max(1, n // 128))][:128]
    items = [ds[k] for k in keys]
    targets = np.stack([it[b] for it in items])
    valid = np.stack([it["valid"] for it in items])
    bal = class_balance(palette, stats, targets, valid, cfg.balance_power)
    log.info("class-balanced L1: %s", ", ".join(f"{n} {v['frequency']:.1%} x{v['weight']:.2f}"
                                                for n, v in bal.to_dict().items()))
    return bal


def fit(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> FitResult:
    """Train (or continue) a Pix2Pix model as configured; returns where the run ended."""
    if cfg.direction not in DIRECTIONS:
        raise GeopixError(f"unknown direction {cfg.direction!r}; use sat2map or map2sat")
    out = Path(cfg.out)
    plan = plan_device(cfg.device, cfg.amp)
    log.info("training on %s", plan.describe())

    # -- data: align, split, index, statistics (before creating anything on disk) -----------
    data = prepare_training(cfg)
    prepared, specs, index = data.pairs, data.specs, data.index
    if cfg.extra.get("epochs"):
        per_epoch = data.epoch_windows  # non-overlapping tiles of the training area
        cfg = cfg.with_(steps=max(1, math.ceil(float(cfg.extra["epochs"]) * per_epoch / cfg.batch_size)))
    a, b = ("imagery", "maps") if cfg.direction == "sat2map" else ("maps", "imagery")
    p0 = prepared[0]
    img_stats, map_stats = data.imagery_stats, data.map_stats
    in_stats, out_stats = (img_stats, map_stats) if a == "imagery" else (map_stats, img_stats)
    palette = load_palette(cfg.balance_palette) if cfg.balance_palette else None
    if palette is not None:
        require_rgb(out_stats.bands)  # before the run directory is touched
    if cfg.palette_head and cfg.direction != "sat2map":
        raise GeopixError("--palette-head paints maps: it needs --direction sat2map")
    head_palette = load_palette(cfg.palette_head) if cfg.palette_head else None
    head: dict[str, Any] = {}
    if head_palette is not None:
        head = {"palette": tuple(map(tuple, palette_centers(head_palette, out_stats).tolist())),
                "palette_classes": tuple(int(c) for c in head_palette.color_class)}
    in_bands = p0.spec.imagery_bands if a == "imagery" else p0.spec.map_bands
    out_bands = p0.spec.map_bands if a == "imagery" else p0.spec.imagery_bands
    assert in_bands is not None and out_bands is not None  # resolved by prepare_pair

    # -- models and optimisers ------------------------------------------------------------
    torch.manual_seed(cfg.seed)
    gcfg = GeneratorConfig(name=cfg.generator, in_channels=len(in_bands), out_channels=len(out_bands),
                           tile=cfg.tile, ngf=cfg.ngf, norm=cfg.norm, dropout=True,
                           encoder_weights=cfg.encoder_weights, **head)
    dcfg = DiscriminatorConfig(in_channels=len(in_bands) + len(out_bands), ndf=cfg.ndf,
                               n_layers=cfg.d_layers, norm=cfg.d_norm)
    models = build_gan(gcfg, dcfg, plan, cfg.lr, (cfg.beta1, cfg.beta2))
    G, D = models.G, models.D  # the modules themselves: what checkpoints and model files hold
    if cfg.compile:
        models = dataclasses.replace(models, G=torch.compile(G), D=torch.compile(D))
    out.mkdir(parents=True, exist_ok=True)
    metrics = MetricsLog(out / "metrics.csv")
    start = 0
    spent_before = 0.0  # seconds of training before this process (resume), for --time-budget
    if resume:
        state = load_checkpoint(out / "checkpoint.pt")
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        models.opt_G.load_state_dict(state["opt_G"])
        models.opt_D.load_state_dict(state["opt_D"])
        if models.scaler is not None and state.get("scaler"):
            models.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng_cpu"])
        if plan.device.type == "cuda" and state.get("rng_cuda"):
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        start = int(state["step"])
        spent_before = float(state.get("elapsed", 0.0))
        metrics.truncate_after(start)
        log.info("resuming %s at step %d", out, start)
    write_json(out / "config.json", cfg.to_dict())

    meta = lambda step: ModelMeta(  # noqa: E731 (a small closure over the run's constants)
        generator=gcfg, direction=cfg.direction, input_bands=tuple(in_bands), output_bands=tuple(out_bands),
        input_stats=in_stats, output_stats=out_stats, tile_size=cfg.tile, step=step,
        pairs=tuple(pair_meta(p) for p in prepared), geopix_version=__version__,
        extra={"discriminator": dcfg.to_dict(), "gan_loss": cfg.gan_loss, "lambda_l1": cfg.lambda_l1,
               "split": {"val_fraction": cfg.val_fraction, "seed": cfg.seed, "val_aoi": cfg.val_aoi,
                         "min_valid": cfg.min_valid, "val_pairs": cfg.val_pairs},
               **({"palette": {"name": head_palette.name, "classes": list(head_palette.classes)}}
                  if head_palette is not None else {})})

    def checkpoint(step: int) -> None:
        save_checkpoint(out / "checkpoint.pt", {
            "step": step, "G": G.state_dict(), "D": D.state_dict(),
            "opt_G": models.opt_G.state_dict(), "opt_D": models.opt_D.state_dict(),
            "scaler": models.scaler.state_dict() if models.scaler is not None else {},
            "rng_cpu": torch.get_rng_state(), "elapsed": elapsed(),
            "rng_cuda": torch.cuda.get_rng_state_all() if plan.device.type == "cuda" else [],
            "geopix_version": __version__,
        })
        save_model(out / "model.safetensors", G.state_dict(), meta(step))
        metrics.flush()

    # -- fixed validation windows (held-out blocks; training windows if there are none) --
    val_list = _spread(list(data.val), cfg.val_windows)
    if not val_list:
        val_list = [index.window(i) for i in range(0, len(index), max(1, len(index) // 4))][:4]
    val_ds = WindowListDataset(specs, val_list, img_stats, map_stats)
    # Every DataLoader gets its own generator: starting one would otherwise draw from the global
    # RNG (which drives dropout) and break exact resume.
    val_batches = list(DataLoader(val_ds, batch_size=min(8, len(val_ds)), num_workers=0,
                                  generator=torch.Generator().manual_seed(cfg.seed)))

    # -- the loop -------------------------------------------------------------------------
    budget = cfg.time_budget
    steps_total = cfg.steps if budget is None else 10**9  # a budget ends training by time
    end = min(steps_total, cfg.stop_at) if cfg.stop_at else steps_total
    t_start = time.monotonic()

    def elapsed() -> float:
        return spent_before + time.monotonic() - t_start

    def finish(step: int) -> None:
        """Checkpoint, model file, curves and the latest link: the run directory is complete."""
        bar.close()
        checkpoint(step)
        plot_losses(metrics.rows(), out / "loss.png")
        metrics.close()
        link_latest(out)

    train_ds = PairWindowDataset(specs, index, img_stats, map_stats, augment=True)
    balance = _class_balance(cfg, palette, train_ds, b, out_stats) if palette is not None else None
    if balance is not None:
        write_json(out / "class_balance.json", balance.to_dict())
    workers = _workers(cfg, plan)
    loader = DataLoader(
        train_ds, batch_sampler=StepBatchSampler(data.train_counts, data.train_weights, cfg.batch_size,
                                                 cfg.seed, start, end),
        num_workers=workers, pin_memory=plan.device.type == "cuda",
        prefetch_factor=4 if workers else None, generator=torch.Generator().manual_seed(cfg.seed),
    )
    from geo_pix2pix.progress import progress_bar

    bar = progress_bar(disable=not progress, total=None if budget else end, initial=start, unit="step",
                       desc="train")
    step = start
    last_val: ImageMetrics | None = None
    G.train()
    D.train()
    try:
        for step_i, batch in zip(range(start, end), loader):
            lr = cfg.lr_at(step_i) if budget is None else cfg.lr_at_fraction(elapsed() / budget)
            for opt in (models.opt_G, models.opt_D):
                for group in opt.param_groups:
                    group["lr"] = lr
            d = _to_device(batch, plan)
            losses: StepLosses = train_step(models, d[a], d[b], d["valid"], cfg.lambda_l1, cfg.gan_loss,
                                            plan.autocast(), cfg.edge_weight,
                                            balance.pixel_weights if balance is not None else None,
                                            cfg.class_weight)
            step = step_i + 1
            last = step == end or (budget is not None and elapsed() >= budget)
            row: dict[str, Any] = {"step": step, "lr": lr, "D_real": losses.D_real, "D_fake": losses.D_fake,
                                   "G_GAN": losses.G_GAN, "G_L1": losses.G_L1}
            if step % cfg.val_every == 0 or last:
                last_val, (ins, fakes, reals) = _validate(G, val_batches, a, b, plan)
                row.update(val_L1=last_val.L1, val_PSNR=last_val.PSNR, val_SSIM=last_val.SSIM,
                           val_pixel_accuracy=last_val.pixel_accuracy)
                (out / "samples").mkdir(exist_ok=True)
                save_sample_grid(out / "samples" / f"step_{step:06d}.png", ins[:4], fakes[:4], reals[:4])
            metrics.write(row)
            if step % cfg.checkpoint_every == 0 and not last:
                checkpoint(step)
            bar.update(1)
            bar.set_postfix(D=f"{losses.D:.3f}", G_GAN=f"{losses.G_GAN:.3f}", L1=f"{losses.G_L1:.3f}")
            if last:
                break
    except KeyboardInterrupt:
        finish(step)
        raise TrainingInterrupted(
            f"interrupted at step {step}; checkpoint saved in {out}; continue with: geopix train --resume {out}"
        ) from None
    finish(step)
    return FitResult(out, step, last_val)
