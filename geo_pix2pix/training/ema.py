"""The averaged generator: an exponential moving average of G's weights, kept beside G.

A GAN's generator moves with every step of its adversary, so the weights at any one step are a
noisy draw around where training is heading; averaging them over the last few thousand steps
keeps what the steps agree on (Karras et al., "Progressive growing of GANs", 2018; Brock et al.,
"BigGAN", 2019; Yazici et al., "The unusual effectiveness of averaging in GAN training", ICLR
2019). The average costs one fused multiply-add over the weights every few steps and no gradient.

The rule, after every :data:`EVERY`-th optimiser step ``s`` (0-based; ``(s + 1) % EVERY == 0``)::

    decay_s = min(decay, (1 + s) / (10 + s)) ** EVERY
    ema     = decay_s * ema + (1 - decay_s) * G        (every floating-point parameter)

which is the per-step average with ``decay`` sampled every :data:`EVERY` steps: the update reads
and writes every weight (on 2 CPU cores about as long as a tenth of a CPU-recipe step), and G
changes little in a few steps. G's buffers (batch-norm running statistics, counters) are copied
as they are, since they are already running averages. The warm-up ``(1 + s) / (10 + s)`` lets
early steps, far from where training ends, fade quickly, as TensorFlow's
``ExponentialMovingAverage(num_updates=...)`` does; it depends only on the step, so the average
resumed from a checkpoint continues bit for bit.

The average is what a run publishes: validation, the sample grids and the model file use it; the
raw G goes on training and is kept in the checkpoint next to it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EVERY", "GeneratorAverage", "ema_decay_at"]

#: The average is updated after every this many steps.
EVERY = 4


def ema_decay_at(decay: float, step: int) -> float:
    """The decay used after (0-based) step ``step``: ``decay``, less at the start (warm-up)."""
    return min(decay, (1.0 + step) / (10.0 + step))


class GeneratorAverage:
    """An averaged copy of ``G`` (same architecture, device and memory layout), in eval mode and
    without gradients; :meth:`update` after every step. The checkpoint keeps :attr:`module`'s
    weights (:func:`~geo_pix2pix.files.checkpoint.training_state`'s ``G_ema``)."""

    def __init__(self, G: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(G).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, G: nn.Module, step: int) -> None:
        """Fold G's weights after (0-based) step ``step`` into the average, if the step is one of
        the :data:`EVERY`-th (see the module's rule)."""
        if (step + 1) % EVERY:
            return
        weight = 1.0 - ema_decay_at(self.decay, step) ** EVERY
        mine: list[torch.Tensor] = [p for p in self.module.parameters() if p.is_floating_point()]
        theirs = [p.detach() for p in G.parameters() if p.is_floating_point()]
        torch._foreach_lerp_(mine, theirs, weight)
        for b_ema, b in zip(self.module.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)
