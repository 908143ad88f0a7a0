"""Styles of a SPADE model with a style encoder: one style vector per output raster.

A style is the ``z`` the generator's SPADE blocks read (:mod:`geo_pix2pix.models.spade`). translate
draws it once and uses it for every tile, so a mosaic has one look and no style change at tile
borders:

- ``--style ref.tif``: the style of a reference image (any size, the model's imagery bands and
  dtype): the encoder's mean ``mu`` over up to :data:`MAX_TILES` model-sized tiles spread evenly
  over the reference (tiles mostly nodata are skipped; a reference smaller than a tile is read
  whole), averaged. The mean is what the encoder says the image's style is, without a random draw.
- ``--seed N``: a draw from the prior N(0, I), reproducible by seed.
- neither: ``z = 0``, the prior's mean: deterministic.
"""

from __future__ import annotations

import os
from typing import cast

import numpy as np
import torch

from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.tiles.errors import BandError, GeopixError
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["MAX_TILES", "style_dim", "random_style", "reference_style", "choose_style"]

#: Reference tiles encoded at most (a 4 x 4 grid over the reference).
MAX_TILES = 16
#: A reference tile is used when at least this share of its pixels is valid.
MIN_VALID = 0.9


def style_dim(meta: ModelMeta) -> int:
    """Length of the model's style vector (0: the model has no style encoder)."""
    return int(getattr(meta.generator, "style_dim", 0) or 0)


def random_style(meta: ModelMeta, seed: int) -> torch.Tensor:
    """``(1, style_dim)`` draw from N(0, I), the same for the same seed on any machine."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn((1, style_dim(meta)), generator=g)


def _tile_origins(size: int, tile: int, count: int) -> list[int]:
    if size <= tile:
        return [0]
    return sorted({round(i * (size - tile) / max(1, count - 1)) for i in range(count)})


def reference_style(G: torch.nn.Module, meta: ModelMeta, path: str | os.PathLike[str], device: torch.device,
                    bands: tuple[int, ...] | None = None) -> torch.Tensor:
    """``(1, style_dim)``: the mean of the encoder's ``mu`` over tiles of the reference raster."""
    from rasterio.windows import Window

    stats = meta.output_stats  # the imagery the model paints, which the encoder reads
    want = len(meta.output_bands) or stats.bands
    with open_raster(path, "style reference") as src:
        use = bands or tuple(range(1, want + 1))
        if src.count < len(use) or max(use) > src.count:
            raise BandError(f"style reference {path} has {src.count} band(s); the model paints {want}-band imagery")
        if src.dtypes[use[0] - 1] != getattr(stats, "dtype", src.dtypes[use[0] - 1]):
            raise GeopixError(f"style reference {path} is {src.dtypes[use[0] - 1]}, but the model paints "
                              f"{stats.dtype} imagery: give a reference like its training imagery")
        tile = meta.tile_size
        side = int(np.sqrt(MAX_TILES))
        tiles = []
        for row in _tile_origins(src.height, tile, side):
            for col in _tile_origins(src.width, tile, side):
                w = Window(col, row, min(tile, src.width - col), min(tile, src.height - row))
                valid = src.dataset_mask(window=w) > 0
                if valid.mean() < MIN_VALID:
                    continue
                x = stats.normalize(src.read(list(use), window=w))
                x[:, ~valid] = 0.0
                tiles.append(x)
    if not tiles:
        raise GeopixError(f"style reference {path} has no tile with {MIN_VALID:.0%} valid pixels")
    mus = []
    encoder = cast(torch.nn.Module, G.encoder)  # Module.__getattr__ says Tensor | Module
    with torch.inference_mode():
        for x in tiles:
            mu, _ = encoder(torch.from_numpy(np.ascontiguousarray(x))[None].to(device))
            mus.append(mu.float())
    return torch.cat(mus).mean(dim=0, keepdim=True).cpu()


def choose_style(G: torch.nn.Module, meta: ModelMeta, device: torch.device, style: str | None,
                 seed: int | None) -> torch.Tensor | None:
    """The style of one translation (see the module docstring); None: the model's default."""
    if style is None and seed is None:
        return None
    if not style_dim(meta):
        raise GeopixError("--style and --seed choose a style, but this model was trained without a style encoder "
                          "(geopix train --family spade --style-encoder)")
    if style is not None and seed is not None:
        raise GeopixError("give --style (a reference image's style) or --seed (a random style), not both")
    return reference_style(G, meta, style, device) if style is not None else random_style(meta, seed)  # type: ignore[arg-type]
