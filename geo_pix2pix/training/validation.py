"""Validation during training: fixed held-out batches, scored with G in eval mode.

The windows come from the held-out blocks (or pairs) of the split, spread over every pair, and
are fixed for the whole run, so the curve in ``metrics.csv`` compares like with like. Under
torchrun rank 0 alone validates, on the unwrapped generator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from geo_pix2pix.evaluation.metrics import HoleAccumulator, ImageMetrics, MetricAccumulator
from geo_pix2pix.runtime.device import DevicePlan, to_device
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.dataset import WindowListDataset
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.data import TrainingData
from geo_pix2pix.training.objective import Batch

__all__ = ["validate", "validation_batches", "VALIDATION_STEP"]

#: Validation batch ``i`` is made as this step + ``i`` (holes fixed for the run, never a training step's).
VALIDATION_STEP = 2 ** 40


def _spread(items: list[tuple[int, PixelWindow]], n: int) -> list[tuple[int, PixelWindow]]:
    """At most ``n`` items spread evenly over the list (every pair contributes validation)."""
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 else items[:1]


def validate(G: torch.nn.Module, batches: list[dict[str, torch.Tensor]], make: Callable[..., Batch],
             plan: DevicePlan, classes: ClassTable | None = None
             ) -> tuple[ImageMetrics, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Metrics over the fixed validation batches (G in eval mode), and the first batch's images.

    ``make(windows, step)`` turns a loader batch into the step's :class:`~geo_pix2pix.training.objective.Batch`
    (the family's, :meth:`~geo_pix2pix.families.base.Family.batches`); validation batch ``i`` is made
    as step :data:`VALIDATION_STEP` + ``i``, so inpainting's holes are the same at every validation.
    G's output is judged as the batch says (:meth:`~geo_pix2pix.training.objective.Batch.judged`): a
    batch whose G paints only its holes is scored inside them
    (:class:`~geo_pix2pix.evaluation.metrics.HoleAccumulator`).
    A categorical map is scored by the share of valid pixels whose arg-max class is right (the
    image metrics of one-hot maps would mean nothing; ``geopix evaluate`` gives per-class IoU)."""
    acc: MetricAccumulator | None = None
    right = total = 0
    seen: np.ndarray | None = None  # reference pixels per class
    first: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    was_training = G.training
    G.eval()
    amp = plan.autocast()
    with torch.inference_mode():
        for i, loaded in enumerate(batches):
            batch = make(to_device(loaded, plan), VALIDATION_STEP + i)
            if amp is None:
                fake = G(batch.real_A)
            else:
                with amp():
                    fake = G(batch.real_A)
            fake, painted = batch.judged(fake.float())  # a partial painting is scored inside what G painted
            valid = batch.valid if painted is None else painted & batch.valid
            f, r, v = fake.float().cpu().numpy(), batch.real_B.float().cpu().numpy(), valid.cpu().numpy()
            if classes is not None:
                ref = r.argmax(1)
                right += int(((f.argmax(1) == ref) & v[:, 0]).sum())
                total += int(v.sum())
                counts = np.bincount(ref[v[:, 0]], minlength=r.shape[1])
                seen = counts if seen is None else seen + counts
            else:
                acc = acc or (HoleAccumulator() if painted is not None else MetricAccumulator())
                acc.add(f, r, v)
            if first is None:
                first = (batch.shown.float().cpu().numpy(), f, r)
    G.train(was_training)
    if first is None:
        raise GeopixError("no windows to validate on")
    if classes is not None:
        nan = float("nan")
        top = int(seen.argmax()) if seen is not None and seen.sum() else None
        majority = None if top is None or seen is None else (classes.names[top], float(seen[top] / seen.sum()))
        return ImageMetrics(nan, nan, nan, right / total if total else nan, len(batches), majority), first
    return acc.result(), first  # type: ignore[union-attr]  # set with the first batch, as ``first`` is


def validation_batches(cfg: TrainConfig, data: TrainingData) -> list[dict[str, torch.Tensor]]:
    """Fixed validation windows (held-out blocks; a few training windows if there are none)."""
    val_list = _spread(list(data.val), cfg.val_windows)
    if not val_list:
        val_list = [data.index.window(i) for i in range(0, len(data.index), max(1, len(data.index) // 4))][:4]
    val_ds = WindowListDataset(data.specs, val_list, data.imagery_stats, data.map_stats)
    # Every DataLoader gets its own generator: starting one would otherwise draw from the global
    # RNG (which drives dropout) and break exact resume. (DataLoader's stubs want a Dataset; any
    # object with len and [key] does, and tiles' datasets are torch-free.)
    return list(DataLoader(val_ds, batch_size=min(8, len(val_ds)), num_workers=0,  # type: ignore[arg-type]
                           generator=torch.Generator().manual_seed(cfg.seed)))
