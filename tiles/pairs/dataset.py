"""Map-style datasets of paired windows (``len`` and ``[key]``), safe with DataLoader workers.

Items are addressed by an integer *key* = ``candidate * 8 + augmentation``: the caller (the
training loop's sampler) decides which window and which of the 8 dihedral transforms (4
rotations by 90 degrees, each with or without a horizontal flip) every sample gets. The same
transform is applied to imagery, map and validity mask, so they stay aligned. Because the key
fully determines the sample, a training step is a pure function of the seed and the step
number, which is what makes ``--resume`` exact.

Rasters are opened lazily, once per process: a GDAL handle must never cross a ``fork``.

Items are dicts of numpy arrays, so this package needs no deep-learning framework: a
``torch.utils.data.DataLoader`` takes any object with ``__len__`` and ``__getitem__`` and its
default collate stacks numpy arrays into tensors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.pair import open_pair
from geo_pix2pix.tiles.pairs.reader import PairReader, PairSpec
from geo_pix2pix.tiles.pairs.sampling import WindowIndex

__all__ = ["PairWindowDataset", "WindowListDataset", "dihedral", "N_AUGMENT", "Item"]

#: One sample: ``imagery`` and ``maps`` float32 ``(C, T, T)`` in [-1, 1], ``valid`` bool ``(1, T, T)``
#: (valid in both), ``imagery_valid`` and ``maps_valid`` bool ``(1, T, T)`` (each side's own mask,
#: what fills a generator's input where its raster is masked).
Item = dict[str, np.ndarray]

#: Number of dihedral transforms of a square (4 rotations x optional flip).
N_AUGMENT = 8


def dihedral(array: np.ndarray, code: int) -> np.ndarray:
    """Apply dihedral transform ``code`` (0..7) to the last two axes; 0 is the identity."""
    out = np.rot90(array, k=code % 4, axes=(-2, -1))
    if code >= 4:
        out = out[..., ::-1]
    return np.ascontiguousarray(out)


class _PairReaders:
    """Per-process cache of open pair readers (reopened after a fork)."""

    def __init__(self, specs: Sequence[PairSpec]) -> None:
        self.specs = list(specs)
        self._pid: int | None = None
        self._open: dict[int, PairReader] = {}

    def get(self, i: int) -> PairReader:
        if self._pid != os.getpid():
            self._open = {}  # handles inherited through fork are not ours to use
            self._pid = os.getpid()
        if i not in self._open:
            self._open[i] = open_pair(self.specs[i])
        return self._open[i]

    def __getstate__(self) -> dict[str, Any]:
        return {"specs": self.specs, "_pid": None, "_open": {}}


def _to_item(
    pair: PairReader, win: PixelWindow, code: int, img_stats: BandStats | ClassTable,
    map_stats: BandStats | ClassTable,
) -> Item:
    s = pair.read(win)
    maps = map_stats.normalize(s.maps)
    valid = s.valid
    if isinstance(map_stats, ClassTable):  # a code the table lacks is no class: never a target
        valid = valid & (maps.max(axis=0) > 0)
    return {
        "imagery": dihedral(img_stats.normalize(s.imagery), code),
        "maps": dihedral(maps, code),
        "valid": dihedral(valid[None], code),
        "imagery_valid": dihedral(s.imagery_valid[None], code),
        "maps_valid": dihedral(s.maps_valid[None], code),
    }


class PairWindowDataset:
    """Training windows drawn from :class:`WindowIndex` candidates with dihedral augmentation.

    ``len()`` is the number of keys (candidates x 8); ``dataset[key]`` returns a dict with
    ``imagery`` and ``maps`` (float32, ``(C, tile, tile)``, in [-1, 1]) and ``valid``,
    ``imagery_valid``, ``maps_valid`` (bool, ``(1, tile, tile)``; :data:`Item`).
    """

    def __init__(
        self,
        specs: Sequence[PairSpec],
        index: WindowIndex,
        imagery_stats: BandStats | ClassTable,
        map_stats: BandStats | ClassTable,
        augment: bool = True,
    ) -> None:
        self.readers = _PairReaders(specs)
        self.index = index
        self.imagery_stats = imagery_stats
        self.map_stats = map_stats
        self.augment = augment

    def __len__(self) -> int:
        return len(self.index) * N_AUGMENT

    def __getitem__(self, key: int) -> Item:
        cand, code = divmod(int(key), N_AUGMENT)
        pair_id, win = self.index.window(cand)
        return _to_item(
            self.readers.get(pair_id), win, code if self.augment else 0,
            self.imagery_stats, self.map_stats,
        )


class WindowListDataset:
    """Fixed windows (validation, evaluation, chips), no augmentation; item ``i`` is window ``i``."""

    def __init__(
        self,
        specs: Sequence[PairSpec],
        windows: Sequence[tuple[int, PixelWindow]],
        imagery_stats: BandStats | ClassTable,
        map_stats: BandStats | ClassTable,
    ) -> None:
        self.readers = _PairReaders(specs)
        self.windows = list(windows)
        self.imagery_stats = imagery_stats
        self.map_stats = map_stats

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> Item:
        pair_id, win = self.windows[i]
        return _to_item(self.readers.get(pair_id), win, 0, self.imagery_stats, self.map_stats)
