"""Which windows each training step learns from: the step's batch, and the loader that reads it.

The generator's input in every batch it reads (training and validation) has its masked pixels
filled from its valid ones (:func:`with_filled_input`), as translate fills them: the rule is
:func:`~geo_pix2pix.models.prefill.fill_masked_input`'s, so training and inference agree.

Exact resume: the windows and augmentations of step ``s`` are drawn from
``numpy.random.default_rng([seed, s])`` (:class:`StepBatchSampler`), and the DataLoader has a
generator of its own, so starting it does not consume the global RNG that drives dropout.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from geo_pix2pix.models.prefill import fill_masked_input
from geo_pix2pix.runtime.device import DevicePlan
from geo_pix2pix.tiles.pairs.dataset import N_AUGMENT, Item, PairWindowDataset
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.data import TrainingData

__all__ = ["StepBatchSampler", "loader_workers", "step_loader", "with_filled_input"]


class StepBatchSampler(Sampler[list[int]]):
    """Batches of dataset keys for steps ``start..end-1``; step ``s`` depends only on (seed, s).

    Each sample picks a pair with probability proportional to ``weights`` (its valid training
    area), then one of that pair's candidate windows and one of the 8 dihedral transforms, all
    from ``numpy.random.default_rng([seed, s])``.
    """

    def __init__(self, counts: list[int], weights: list[float], batch_size: int, seed: int,
                 start: int, end: int, rank: int = 0, world: int = 1) -> None:
        self.counts = np.asarray(counts, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        w = np.asarray(weights, dtype=np.float64) * (self.counts > 0)
        self.p = w / w.sum()
        self.batch_size, self.seed, self.start, self.end = batch_size, seed, start, end
        self.rank, self.world = rank, world

    def batch_for(self, step: int) -> list[int]:
        """Step ``step``'s batch for this rank: slice ``rank`` of the ``world * batch_size``
        samples drawn for the step, so ranks get disjoint shares of one reproducible draw (two
        ranks of batch B train on exactly the windows one process of batch 2B would)."""
        rng = np.random.default_rng([self.seed, step])
        n = self.batch_size * self.world
        pair = rng.choice(len(self.p), size=n, p=self.p)
        cand = self.offsets[pair] + (rng.random(n) * self.counts[pair]).astype(np.int64)
        aug = rng.integers(0, N_AUGMENT, size=n)
        keys = cand * N_AUGMENT + aug
        return cast(list[int], keys[self.rank * self.batch_size:(self.rank + 1) * self.batch_size].tolist())

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.end):
            yield self.batch_for(step)

    def __len__(self) -> int:
        return max(0, self.end - self.start)


def loader_workers(cfg: TrainConfig, plan: DevicePlan) -> int:
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


def step_loader(cfg: TrainConfig, data: TrainingData, train_ds: PairWindowDataset, plan: DevicePlan, start: int,
                end: int, rank: int = 0, world: int = 1) -> DataLoader[Item]:
    """Batches of steps ``start..end-1``, rank ``rank``'s share of each (:class:`StepBatchSampler`)."""
    workers = loader_workers(cfg, plan)
    return DataLoader(
        train_ds,  # type: ignore[arg-type]  # its stubs want a Dataset; any len/[key] object does (tiles is torch-free)
        batch_sampler=StepBatchSampler(data.train_counts, data.train_weights, cfg.batch_size,
                                       cfg.seed, start, end, rank, world),
        num_workers=workers, pin_memory=plan.device.type == "cuda", prefetch_factor=4 if workers else None,
        generator=torch.Generator().manual_seed(cfg.seed),
    )


def with_filled_input(make: Callable[..., Any], side: str, classes: bool) -> Callable[..., Any]:
    """``make`` (a family's :meth:`~geo_pix2pix.families.base.Family.batches`) reading the loader's
    windows with the generator's input ``side`` (``imagery`` or ``maps``) filled where its own
    raster is masked (``<side>_valid``), by :func:`~geo_pix2pix.models.prefill.fill_masked_input`
    (``classes``: the input is a one-hot layout). Its valid pixels are kept bit for bit, and a window
    without masked pixels is passed on as it is."""

    def filled(d: Mapping[str, torch.Tensor], step: int, rank: int = 0, world: int = 1) -> Any:
        x = d[side]
        fill = fill_masked_input(x, d[f"{side}_valid"], classes)
        if fill is not x and x.is_contiguous(memory_format=torch.channels_last):
            fill = fill.contiguous(memory_format=torch.channels_last)
        return make({**d, side: fill}, step, rank, world)

    return filled
