"""The tile a trained model runs on: the default, the checks, and the memory a tile needs.

Shared by translate, inpaint, evaluate and the API's ``predict``, so a tile size is chosen and
refused the same way everywhere, before any pixel is read or any bar drawn.
"""

from __future__ import annotations

import logging
from typing import Any

from geo_pix2pix.runtime.progress import NOTICE
from geo_pix2pix.tiles.errors import TileSizeError

__all__ = ["MIN_DEFAULT_TILE", "default_tile", "choose_tiling", "check_tile", "check_tile_memory",
           "tile_bytes", "available_memory"]

log = logging.getLogger(__name__)

#: Smallest tile translate picks by default. A model trained on small windows (such as the CPU
#: recipe's, ``CPU_RECIPE["tile"]``) scores as well on larger tiles, and larger tiles are faster (fewer tiles
#: for the same overlap fraction) and show their boundaries less (measured in bench/README.md,
#: "Figures moved out of docstrings").
MIN_DEFAULT_TILE = 256

#: Bytes a generator's forward pass holds per tile pixel and per first-layer filter (``ngf``), on
#: top of the float32 input and output: the peak of the U-Net's full-resolution maps (its first
#: level's skip, decoder input and output). An upper figure from peak memory measured on CPU, so
#: a tile that fits is not refused (bench/README.md, "Tile memory").
BYTES_PER_PIXEL_FILTER = 6


def default_tile(trained: int, height: int, width: int) -> int:
    """The tile translate uses when none is given.

    The smallest multiple of the training tile that is at least :data:`MIN_DEFAULT_TILE`, but no
    larger than the smallest multiple that covers the raster's longer side (a 64-pixel model gets
    256 on a large raster, 128 on a 100-pixel one). A multiple of the training tile is a valid
    tile for the generator, whose stride product divides the training tile.
    """
    k = max(1, -(-MIN_DEFAULT_TILE // trained))
    while k > 1 and (k - 1) * trained >= max(height, width):
        k -= 1
    return k * trained


def choose_tiling(pred: Any, height: int, width: int, tile: int | None = None,
                  overlap: int | None = None, batch_size: int = 1) -> tuple[int, int]:
    """The tile and overlap used on a ``height x width`` region: the given ones, checked, or the
    defaults (:func:`default_tile`, a quarter of the tile).

    A given tile larger than the smallest valid tile covering the region is clamped to it, with a
    notice: beyond the region a tile holds only padding, so a larger one adds no context and
    costs its area in time (8192 on a 512-pixel raster: 256x the pixels); the region is then one
    tile, without overlap unless one is given. A tile whose forward
    pass cannot fit in the device's memory is refused (:func:`check_tile_memory`).
    """
    if tile is None:
        tile = default_tile(pred.meta.tile_size, height, width)
    elif tile != (tile := _clamped(pred, tile, height, width)) and overlap is None:
        overlap = 0  # one tile covers the region: nothing to blend
    if tile < 1:
        raise TileSizeError(f"the tile size must be positive, got {tile}")
    if overlap is not None and overlap >= tile:
        raise TileSizeError(f"--overlap ({overlap}) must be smaller than the tile size ({tile})")
    if overlap is not None and overlap < 0:
        raise TileSizeError(f"the overlap must be at least 0, got {overlap}")
    check_tile(pred, tile)
    overlap = tile // 4 if overlap is None else overlap
    from geo_pix2pix.tiles.mosaic.blend import plan_mosaic

    check_tile_memory(pred, tile, min(batch_size, plan_mosaic(height, width, tile, overlap).n_tiles))
    return tile, overlap


def _clamped(pred: Any, tile: int, height: int, width: int) -> int:
    """``tile``, or the smallest multiple of the generator's stride product covering the region
    when ``tile`` is larger than that (the tile is checked as given first, so a tile the generator
    cannot take is refused, not silently replaced)."""
    check_tile(pred, tile)
    if getattr(pred, "fixed_tile", None):  # an ONNX graph exported for one tile takes only that one
        return tile
    multiple = _multiple(pred)
    cover = -(-max(height, width) // multiple) * multiple
    if tile <= cover:
        return tile
    log.log(NOTICE, "--tile-size %d is larger than the %d x %d region: using %d, which covers it whole", tile, width,
            height, cover)
    return cover


def _multiple(pred: Any) -> int:
    return int(getattr(getattr(pred, "G", None), "multiple", 1))


def check_tile(pred: Any, tile: int) -> None:
    """Refuse a tile side the generator cannot take (not a multiple of its stride product)."""
    multiple = _multiple(pred)
    if tile % multiple:
        raise TileSizeError(f"this {pred.meta.generator.name} generator takes tiles in multiples of {multiple} "
                            f"pixels (trained on {pred.meta.tile_size}); --tile-size {tile} is not one")


def tile_bytes(meta: Any, tile: int, batch_size: int = 1) -> int:
    """About how many bytes one forward pass of ``batch_size`` tiles of side ``tile`` holds: the
    input and output tiles in float32 and :data:`BYTES_PER_PIXEL_FILTER` per pixel and filter."""
    g = meta.generator
    per_pixel = 4 * (int(g.in_channels) + int(g.out_channels)) + BYTES_PER_PIXEL_FILTER * int(getattr(g, "ngf", 64))
    return int(batch_size * tile * tile * per_pixel)


def check_tile_memory(pred: Any, tile: int, batch_size: int = 1) -> None:
    """Refuse a tile whose forward pass needs more memory than the device has available, with the
    estimate and the largest tile that fits (a multiple of the generator's stride product), rather
    than failing mid-run with an allocation error. Nothing is refused where the available memory
    cannot be read."""
    free = available_memory(getattr(getattr(pred, "plan", None), "device", None))
    need = tile_bytes(pred.meta, tile, batch_size)
    if free is None or need <= free:
        return
    multiple = _multiple(pred)
    fits = int((free / tile_bytes(pred.meta, 1, batch_size)) ** 0.5) // multiple * multiple
    hint = (f"the largest tile that fits is about {fits} (--tile-size {fits})" if fits >= multiple else
            "no tile fits: free memory or use another device")
    batch = f"a batch of {batch_size} tiles" if batch_size > 1 else "one tile"
    raise TileSizeError(f"--tile-size {tile} needs about {_gib(need)} of memory for {batch}, and "
                        f"{_gib(free)} is available; {hint}"
                        + (", or lower --batch-size" if batch_size > 1 else ""))


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def available_memory(device: Any = None) -> int | None:
    """Bytes free for a forward pass on ``device``: a CUDA device's free memory, else the host's
    available memory (Linux ``MemAvailable``, or free pages elsewhere); ``None`` if unknown."""
    if device is not None and getattr(device, "type", str(device)) == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:  # noqa: BLE001 (an unreadable figure only skips the check)
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None
