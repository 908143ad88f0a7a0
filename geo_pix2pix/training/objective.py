"""What a family adds to the GAN step, declared once: the batch, what G drew, the loss terms.

:func:`~geo_pix2pix.training.step.gan_step` runs the D then G update every family shares; an
:class:`Objective` says what it trains on: the shared adversarial and L1 weights
(:class:`LossWeights`), how G draws a batch (a :data:`Draw`: the paper's ``G(real_A)``, SPADE's
style noise, inpainting's holes) and further named :class:`LossTerm` s (a family's own, from
:meth:`~geo_pix2pix.families.base.Family.generator_terms`, then the output head's class
cross-entropy, :mod:`~geo_pix2pix.training.output_head`). A term reads what it needs through a
:class:`GeneratorView`. This module imports torch only inside its functions, so a family module can
subclass :class:`Batch` and still be read (for ``--help``) without loading torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from geo_pix2pix.training.losses import DiscriminatorOutput

__all__ = ["Autocast", "Batch", "Draw", "Drawn", "GeneratorView", "LossTerm", "LossWeights", "Networks", "Objective",
           "draw_plain", "generate"]

#: Factory of the mixed-precision context (``plan.autocast()``); ``None``: full precision.
Autocast = Callable[[], AbstractContextManager[object]]


@dataclass(frozen=True)
class Batch:
    """One training batch on the device. A family may make a subclass carrying more (inpainting's
    holes, :class:`~geo_pix2pix.families.inpaint.HoleBatch`).

    Attributes:
        real_A: input ``(N, Ca, T, T)`` in [-1, 1].
        real_B: target ``(N, Cb, T, T)`` in [-1, 1].
        valid: ``(N, 1, T, T)`` bool, pixels valid in both rasters.
    """

    real_A: torch.Tensor
    real_B: torch.Tensor
    valid: torch.Tensor

    def judged(self, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G's output as it is judged, and the pixels G painted when it paints only part of the
        window (``None``: the whole window, judged over its valid pixels). Validation scores a
        partial painting inside those pixels alone."""
        return fake, None

    @property
    def shown(self) -> torch.Tensor:
        """The input as the sample grid shows it."""
        return self.real_A


@dataclass(frozen=True)
class Drawn:
    """What G drew for a batch, as every loss and the discriminator see it.

    Attributes:
        fake_B: G's output ``(N, Cb, T, T)`` (inpainting: the window with G's pixels in its holes).
        real_B: the target as D and the losses see it.
        l1_valid: ``(N, 1, T, T)`` bool, the pixels where the L1 compares ``fake_B`` with ``real_B``.
        logits: the output head's class logits (G with a class or palette head), else ``None``.
        aux: tensors of the draw that a family's own terms read (SPADE: the style's ``mu`` and
            ``logvar``).
    """

    fake_B: torch.Tensor
    real_B: torch.Tensor
    l1_valid: torch.Tensor
    logits: torch.Tensor | None = None
    aux: Mapping[str, torch.Tensor] = field(default_factory=lambda: MappingProxyType({}))


@dataclass
class Networks:
    """The networks of a step. ``G`` and ``D`` may be compiled or DistributedDataParallel wrappers
    of the modules that checkpoints and model files hold. ``head``: G itself, unwrapped, when it
    ends in an output head (class or palette, :mod:`geo_pix2pix.training.output_head`): G then also
    returns its logits, for the head's cross-entropy. ``D_for_G``: D as G's loss consults it
    (frozen), where that must bypass the wrapper: under DDP a wrapped forward whose parameters
    then get no gradient would leave its gradient synchronisation waiting."""

    G: nn.Module
    D: nn.Module
    head: nn.Module | None = None
    D_for_G: nn.Module | None = None


@dataclass(frozen=True)
class LossWeights:
    """The terms every family's G and D share.

    Attributes:
        gan_loss: ``vanilla`` | ``lsgan`` | ``hinge``.
        gan: weight of the adversarial term in G's loss; 0: D is neither trained nor consulted
            for it, and ``D_*``, ``G_GAN`` are not computed.
        l1: weight of the masked L1 to the target (0: not computed; a categorical map's).
        edge: extra L1 weight of pixels at the target's colour edges (see
            :func:`~geo_pix2pix.training.losses.masked_l1`); the reported ``G_L1`` stays the plain L1.
        pixel_weight: target ``(N, C, T, T)`` -> ``(N, 1, T, T)`` L1 weights (class balance).
        r1: gamma of D's R1 penalty (:func:`~geo_pix2pix.training.step.r1_penalty`); 0: off.
    """

    gan_loss: str = "vanilla"
    gan: float = 1.0
    l1: float = 100.0
    edge: float = 0.0
    pixel_weight: Callable[[torch.Tensor], torch.Tensor] | None = None
    r1: float = 0.0


class GeneratorView:
    """What a generator loss term reads: the batch, what G drew, and D frozen as G's loss sees it.

    D's outputs on the fake pair are computed once (:meth:`d_fake`), by whichever term asks first,
    under the step's autocast."""

    def __init__(self, batch: Batch, drawn: Drawn, D: nn.Module, autocast: Autocast) -> None:
        self.batch, self.drawn, self.D, self.autocast = batch, drawn, D, autocast
        self._d_fake: DiscriminatorOutput | None = None

    def d_fake(self) -> DiscriminatorOutput:
        """D's outputs for ``(real_A, fake_B)``, with gradients to G."""
        import torch

        if self._d_fake is None:
            with self.autocast():
                self._d_fake = self.D(torch.cat([self.batch.real_A, self.drawn.fake_B], 1))
        return self._d_fake


@dataclass(frozen=True)
class LossTerm:
    """One named term of G's loss beyond the adversarial term and the L1: ``weight * value(view)``.

    ``name`` is its ``metrics.csv`` column; a family (or the output head) leaves a term out rather
    than give it weight 0."""

    name: str
    weight: float
    value: Callable[[GeneratorView], torch.Tensor]


#: How G draws a batch (called under the step's autocast): ``draw(networks, batch) -> Drawn``.
Draw = Callable[[Networks, Batch], Drawn]


def generate(nets: Networks, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """G's output for ``inputs`` and, when G ends in an output head, its class logits."""
    if nets.head is None:
        return nets.G(*inputs), None
    fake, logits = nets.G(*inputs, with_logits=True)
    return fake, logits


def draw_plain(nets: Networks, batch: Batch) -> Drawn:
    """The paper's draw: ``fake_B = G(real_A)``, compared with the target over the valid pixels."""
    fake_B, logits = generate(nets, batch.real_A)
    return Drawn(fake_B, batch.real_B, batch.valid, logits)


@dataclass(frozen=True)
class Objective:
    """What a run trains G and D on: the shared weights, how G draws (the family's) and the further
    generator terms, in the order they are added (the family's, then the output head's)."""

    weights: LossWeights = LossWeights()
    draw: Draw = draw_plain
    terms: tuple[LossTerm, ...] = ()

    def term_names(self) -> list[str]:
        """The terms this objective can report beyond D's real and fake losses, in order
        (``metrics.csv`` columns): D's R1 penalty where it has one, then G's terms."""
        shared = [n for n, w in (("G_GAN", self.weights.gan), ("G_L1", self.weights.l1)) if w > 0]
        d_own = ["D_R1"] if self.weights.gan > 0 and self.weights.r1 > 0 else []
        return d_own + shared + [t.name for t in self.terms]
