"""Starting a run's generator from another model's weights (``geopix train --init-from``).

Two uses: a U-Net first trained self-supervised on imagery that has no maps (``geopix train
--task inpaint`` on every raster the user holds, the region to translate included) and then
trained on the few pairs there are; and a model of one city fine-tuned on a few pairs of another.

The rule, tensor by tensor, after each side's wrappers are taken off (an inpainting model's
pre-fill stage, a class or palette head: :func:`core_generator`):

* a tensor of the same name and shape is copied;
* the first convolution of an inpainting model reads the image and then its hole mask: its image
  channels are copied and the mask's weights dropped, which is exact, since a translation input
  has no holes (the mask channel would be all zeros);
* any other tensor keeps this run's fresh initialisation, such as the last layer where the source
  drew 3 imagery bands and this run draws 6 classes.

The two generators must be the same network (the same tensor names: generator, ``--ngf``,
``--norm``, and for the U-Net the depth that ``--tile-size`` sets); otherwise almost nothing
lines up and the run would be a fresh start by another name, so it is refused. A start copies the
weights only: the discriminator, the optimiser state and the schedule start afresh, and a resumed
run reads its own checkpoint (the source need not exist any more).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from geo_pix2pix.files.modelfile import load_model
from geo_pix2pix.runtime.progress import NOTICE
from geo_pix2pix.tiles.errors import GeopixError, ModelFileError, first_line

__all__ = ["WarmStart", "core_generator", "warm_start"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmStart:
    """What a start copied: the source, and how many of this generator's tensors it set
    (``copied``, those cut to the image channels among them) or left fresh (``fresh``, named)."""

    source: str
    family: str
    copied: int
    cut: int
    fresh: tuple[str, ...]

    def describe(self) -> str:
        total = self.copied + len(self.fresh)
        cut = f" ({self.cut} cut to the image channels, the hole mask's dropped)" if self.cut else ""
        kept = f"; fresh: {', '.join(self.fresh)}" if self.fresh else ""
        return (f"generator started from {self.source} ({self.family}): {self.copied} of {total} tensors "
                f"copied{cut}{kept}")


def core_generator(G: nn.Module) -> nn.Module:
    """``G`` without the wrappers that are not the network itself: an inpainting model's pre-fill
    stage and a class or palette output head (their own tensors, such as the palette's colours,
    are this run's, not learnt weights to carry over)."""
    from geo_pix2pix.models.class_head import ClassHead
    from geo_pix2pix.models.palette_head import PaletteHead
    from geo_pix2pix.models.prefill import PrefilledGenerator

    while True:
        if isinstance(G, PrefilledGenerator):
            G = G.G
        elif isinstance(G, (ClassHead, PaletteHead)):
            G = G.body
        else:
            return G


def warm_start(G: nn.Module, source: str) -> WarmStart:
    """Set ``G``'s tensors from the generator of ``source`` (a run directory or model file) by
    the module's rule; refuses a source of another network. Returns what was copied."""
    if not Path(source).exists():
        raise GeopixError(f"--init-from {source}: no such run directory or model file")
    try:
        src, meta = load_model(source, "cpu")
    except ModelFileError as exc:
        raise GeopixError(f"--init-from {source}: {first_line(exc)}") from None
    mine, theirs = core_generator(G).state_dict(), core_generator(src).state_dict()
    missing = [k for k in mine if k not in theirs]
    if len(missing) > len(mine) // 4:
        raise GeopixError(f"--init-from {source}: its generator ({_describe(meta.generator)}) is not this run's "
                          "network; train the source with the same --generator, --ngf, --norm and --tile-size")
    copied, cut, fresh = 0, 0, list(missing)
    with torch.no_grad():
        for name, t in mine.items():
            s = theirs.get(name)
            if s is None:
                continue
            if s.shape == t.shape:
                t.copy_(s)
            elif meta.family == "inpaint" and _mask_channel_more(s, t):
                t.copy_(s[:, :t.shape[1]])
                cut += 1
            else:
                fresh.append(name)
                continue
            copied += 1
    if not copied:  # pragma: no cover - the name check above leaves at least three quarters
        raise GeopixError(f"--init-from {source}: none of its tensors fit this run's generator")
    done = WarmStart(str(source), meta.family, copied, cut, tuple(fresh))
    log.log(NOTICE, "%s", done.describe())
    return done


def _mask_channel_more(s: torch.Tensor, t: torch.Tensor) -> bool:
    """Whether ``s`` is ``t``'s convolution with the inpainting mask's input channel besides."""
    return s.dim() == 4 and s.shape[0] == t.shape[0] and s.shape[1] == t.shape[1] + 1 and s.shape[2:] == t.shape[2:]


def _describe(gcfg: Any) -> str:
    d = gcfg.to_dict()
    return ", ".join(f"{k} {d[k]}" for k in ("name", "ngf", "norm", "tile", "n_downsample", "n_blocks") if k in d)
