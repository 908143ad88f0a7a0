"""The output head's share of the generator loss: the class cross-entropy, whatever the family.

A generator of any translation family can end in an output head that predicts classes: a class
head for a categorical map (:mod:`~geo_pix2pix.models.class_head`) or a palette head for a
rendered one (:mod:`~geo_pix2pix.models.palette_head`). Either is trained with the cross-entropy of
its class logits against the target's classes (``G_CE``), which this module owns, so no family
repeats it. On a categorical map the classes are learnt by that cross-entropy alone: an L1 between
probability maps adds nothing, so the run's L1 and edge weight are off (:func:`shared_weights`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from geo_pix2pix.models.class_head import ClassHead
from geo_pix2pix.models.palette_head import PaletteHead
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.losses import masked_cross_entropy
from geo_pix2pix.training.objective import GeneratorView, LossTerm, LossWeights

__all__ = ["ClassCrossEntropy", "head_of", "head_terms", "shared_weights"]


def head_of(G: nn.Module) -> ClassHead | PaletteHead | None:
    """``G`` itself when it ends in a class or palette head (it then also returns its logits)."""
    return G if isinstance(G, (ClassHead, PaletteHead)) else None


class ClassCrossEntropy:
    """``G_CE``: mean cross-entropy of the head's class logits over the valid pixels; the target's
    classes are the head's reading of the target (a one-hot map's arg-max, or each pixel's nearest
    palette colour's class). ``class_weights``: per-class weights (``--balance-classes``)."""

    def __init__(self, head: ClassHead | PaletteHead, class_weights: tuple[float, ...] | None = None) -> None:
        self.head, self.class_weights = head, class_weights

    def __call__(self, g: GeneratorView) -> torch.Tensor:
        logits = g.drawn.logits
        if logits is None:
            raise ValueError("the class cross-entropy needs the head's logits (Networks.head unset?)")
        cw = None if self.class_weights is None else torch.tensor(self.class_weights, device=logits.device)
        target = self.head.target_classes(g.drawn.real_B)
        return masked_cross_entropy(self.head.class_logits(logits), target, g.batch.valid, cw)


def head_terms(head: ClassHead | PaletteHead | None, weight: float,
               class_weights: tuple[float, ...] | None = None) -> tuple[LossTerm, ...]:
    """The head's cross-entropy term with ``weight`` (``--class-weight``), or none without a head."""
    if head is None or weight <= 0:
        return ()
    return (LossTerm("G_CE", weight, ClassCrossEntropy(head, class_weights)),)


def shared_weights(cfg: TrainConfig, out_stats: BandStats | ClassTable,
                   pixel_weight: Callable[[torch.Tensor], torch.Tensor] | None = None) -> LossWeights:
    """The adversarial and L1 weights of a run; a categorical output trains no L1 (its classes are
    learnt by the head's cross-entropy)."""
    categorical = isinstance(out_stats, ClassTable)
    return LossWeights(gan_loss=cfg.gan_loss, gan=cfg.lambda_gan, l1=0.0 if categorical else cfg.lambda_l1,
                       edge=0.0 if categorical else cfg.edge_weight, pixel_weight=pixel_weight,
                       r1=cfg.r1_gamma)
