"""A class head: the generator predicts one logit per class of a categorical map.

Any generator of any family (its last layer a Tanh, outputs in [-1, 1]) becomes a classifier: its
``K`` output channels, scaled by :data:`~.palette_head.LOGIT_SCALE`, are class logits ``z``. The
head's output is the class probabilities mapped to the range the targets live in,
``2 * softmax(z) - 1`` (a one-hot target is +1 for its class and -1 elsewhere: see
:class:`~geo_pix2pix.tiles.encoding.classes.ClassTable`), so the discriminator compares soft predictions with
one-hot maps, translate blends *probabilities* across tile overlaps and writes the arg-max class,
and the GAN step's cross-entropy reads the logits (``with_logits=True``).
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from geo_pix2pix.models.palette_head import LOGIT_SCALE

__all__ = ["ClassHead", "with_output_head"]


class ClassHead(nn.Module):
    """Wrap ``body`` (``out_channels`` = number of classes) to output class probabilities in [-1, 1]."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def __getattr__(self, name: str) -> Any:
        """What the head does not have, the body has (``multiple``, a family's own methods such as
        Pix2PixHD's ``global_parameters``): the head is transparent to the family's code."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("body"), name)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.body(x).float() * LOGIT_SCALE)

    def class_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The logits are already per class."""
        return z

    def target_classes(self, target: torch.Tensor) -> torch.Tensor:
        """``(N, K, H, W)`` one-hot target in {-1, +1} -> ``(N, H, W)`` class indexes."""
        return target.argmax(1)

    def forward(self, x: torch.Tensor, with_logits: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        z = self.logits(x)
        probs = z.softmax(1) * 2 - 1
        return (probs, z) if with_logits else probs


def with_output_head(G: nn.Module, output_stats: Any) -> nn.Module:
    """``G`` wrapped in a :class:`ClassHead` when its output is a categorical map, else ``G``."""
    from geo_pix2pix.tiles.encoding.classes import ClassTable

    return ClassHead(G) if isinstance(output_stats, ClassTable) else G
