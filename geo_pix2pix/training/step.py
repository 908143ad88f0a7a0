"""One GAN training step, as a function of (networks, optimisers, batch, loss weights).

The Pix2Pix step of the paper, which every family of geopix runs with its own loss weights:

1. ``fake_B = G(real_A)``
2. update D on ``(real_A, fake_B.detach())`` -> fake and ``(real_A, real_B)`` -> real, the loss
   halved "to slow down the rate at which D learns relative to G"; with several discriminator
   scales the GAN loss is their mean;
3. update G (D frozen) with ``GAN(D(real_A, fake_B), real) + lambda_L1 * L1(fake_B, real_B)``,
   plus the terms a family turns on: Pix2PixHD's feature matching ``lambda_feat * FM`` and VGG
   perceptual loss ``lambda_vgg * VGG``, the palette head's ``class_weight * CE``, and SPADE's
   style-encoder KL term ``lambda_kl * KL``: with a style encoder, step 1 becomes
   ``fake_B = G(real_A, z)`` with ``z`` drawn from the encoder's Gaussian for ``real_B``
   (reparameterisation), so G learns to paint the real image's style and the encoder to describe it.
   Inpainting (``Batch.hole``): ``fake_B`` is the image with G's pixels in its holes only, and the
   L1 is taken over the holes.

Every tensor and module it touches is passed in; it returns the named losses as a small dataclass.
A term whose weight is 0 is not computed, so a Pix2Pix step does exactly the paper's arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from geo_pix2pix.models.palette_head import PaletteHead
from geo_pix2pix.runtime.device import DevicePlan
from geo_pix2pix.training.losses import (
    adversarial_loss,
    feature_matching_loss,
    kl_divergence,
    masked_cross_entropy,
    masked_l1,
)

__all__ = ["Batch", "LossWeights", "Networks", "Optimisers", "StepLosses", "make_optimisers", "gan_step",
           "paint_holes", "place"]


@dataclass(frozen=True)
class Batch:
    """One training batch on the device.

    Attributes:
        real_A: input ``(N, Ca, T, T)`` in [-1, 1].
        real_B: target ``(N, Cb, T, T)`` in [-1, 1].
        valid: ``(N, 1, T, T)`` bool, pixels valid in both rasters.
        hole: ``(N, 1, T, T)`` bool, inpainting's unknown pixels: G paints only these (the rest of
            its output is replaced by ``real_B``) and the L1 is taken over them alone.
    """

    real_A: torch.Tensor
    real_B: torch.Tensor
    valid: torch.Tensor
    hole: torch.Tensor | None = None


@dataclass(frozen=True)
class LossWeights:
    """What G and D are trained on.

    Attributes:
        gan_loss: ``vanilla`` | ``lsgan`` | ``hinge``.
        gan: weight of the adversarial term in G's loss; 0: D is neither trained nor consulted
            (unless feature matching needs its features), ``D_*`` and ``G_GAN`` are logged as 0.
        l1: weight of the masked L1 to the target.
        edge: extra L1 weight of pixels at the target's colour edges (see
            :func:`~geo_pix2pix.training.losses.masked_l1`); the logged ``G_L1`` stays the plain L1.
        pixel_weight: target ``(N, C, T, T)`` -> ``(N, 1, T, T)`` L1 weights (class balance).
        feat: weight of the discriminator feature-matching loss (Pix2PixHD).
        vgg: weight of the VGG perceptual loss (needs ``Networks.vgg``).
        classes: weight of the class cross-entropy of a palette or class head (needs ``Networks.head``).
        class_weights: per-class weights of that cross-entropy (``--balance-classes``).
        kl: weight of the style encoder's KL term (needs ``Networks.encoder``; SPADE).
    """

    gan_loss: str = "vanilla"
    gan: float = 1.0
    l1: float = 100.0
    edge: float = 0.0
    pixel_weight: Callable[[torch.Tensor], torch.Tensor] | None = None
    feat: float = 0.0
    vgg: float = 0.0
    classes: float = 0.0
    class_weights: tuple[float, ...] | None = None
    kl: float = 0.0


@dataclass
class Networks:
    """The networks of a step. ``head`` is G itself when it is a palette head (unwrapped, for its
    class maths); ``vgg`` the frozen perceptual-loss network; ``encoder`` G's style encoder (a
    submodule of G, trained with it). ``G`` and ``D`` may be compiled or DistributedDataParallel
    wrappers of the modules that checkpoints and model files hold. ``D_for_G``: D as G's loss
    consults it (frozen), where that must bypass the wrapper: under DDP a wrapped forward whose
    parameters then get no gradient would leave its gradient synchronisation waiting."""

    G: nn.Module
    D: nn.Module
    head: PaletteHead | None = None
    vgg: nn.Module | None = None
    encoder: nn.Module | None = None
    D_for_G: nn.Module | None = None


@dataclass
class Optimisers:
    """Adam for G and for D; ``scaler`` only for float16 autocast on CUDA."""

    G: torch.optim.Optimizer
    D: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None = None


@dataclass(frozen=True)
class StepLosses:
    """Losses of one step (python floats, for logging); a term the step did not compute is None."""

    D_real: float
    D_fake: float
    G_GAN: float
    G_L1: float
    G_feat: float | None = None
    G_VGG: float | None = None
    G_CE: float | None = None
    G_KL: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def D(self) -> float:
        return 0.5 * (self.D_real + self.D_fake)

    def as_row(self) -> dict[str, float]:
        """The named losses that were computed, for ``metrics.csv``."""
        row = {"D_real": self.D_real, "D_fake": self.D_fake, "G_GAN": self.G_GAN, "G_L1": self.G_L1}
        row.update({k: v for k, v in (("G_feat", self.G_feat), ("G_VGG", self.G_VGG), ("G_CE", self.G_CE),
                                      ("G_KL", self.G_KL)) if v is not None})
        return row


def paint_holes(fake: torch.Tensor, real: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Inpainting's output: the real window with G's pixels in its holes only (what ``geopix
    inpaint`` writes, what the losses and the discriminators judge, what validation scores)."""
    return torch.where(hole, fake, real.to(fake.dtype))


def place(module: nn.Module, plan: DevicePlan) -> nn.Module:
    """``module`` on the plan's device, in its memory layout."""
    module = module.to(plan.device)
    return module.to(memory_format=torch.channels_last) if plan.channels_last else module


def make_optimisers(G: nn.Module, D: nn.Module, plan: DevicePlan, lr: float,
                    betas: tuple[float, float], d_lr_factor: float = 1.0) -> Optimisers:
    """Adam for both networks (the paper's), one fused kernel over all parameters on CPU and CUDA.

    Fused is the same update rule; the default per-parameter loop spent a fifth of a CPU training
    step (54 M parameters, ~10 element-wise passes each). Parameters whose gradient is None (frozen
    ones, e.g. Pix2PixHD's global generator in its fixed phase) are skipped by Adam, so they stay
    bit-identical. ``d_lr_factor``: D's learning rate as a multiple of G's (TTUR, SPADE).
    """
    fused = True if plan.device.type in ("cpu", "cuda") else None
    return Optimisers(torch.optim.Adam(G.parameters(), lr, betas, fused=fused),
                      torch.optim.Adam(D.parameters(), lr * d_lr_factor, betas, fused=fused),
                      torch.amp.GradScaler("cuda") if plan.needs_scaler else None)


def _set_requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


def _backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)


def _value(t: torch.Tensor | None) -> float | None:
    return None if t is None else float(t.detach())


def gan_step(nets: Networks, opts: Optimisers, batch: Batch, w: LossWeights,
             autocast: Callable[[], AbstractContextManager[object]] | None = None) -> StepLosses:
    """One D update then one G update on ``batch``; returns the named losses.

    ``autocast``: factory of the mixed-precision context (``None``: full precision).
    """
    ctx = autocast if autocast is not None else nullcontext
    real_A, real_B, valid = batch.real_A, batch.real_B, batch.valid
    logits = loss_kl = None
    with ctx():
        if nets.head is not None and w.classes > 0:
            fake_B, logits = nets.G(real_A, with_logits=True)
        elif nets.encoder is not None:
            mu, logvar = nets.encoder(real_B)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            loss_kl = kl_divergence(mu, logvar)
            fake_B = nets.G(real_A, z)
        else:
            fake_B = nets.G(real_A)
    l1_valid = valid
    if batch.hole is not None:  # inpainting: the image with G's pixels in its holes
        fake_B = paint_holes(fake_B, real_B, batch.hole)
        l1_valid = batch.hole & valid
        # the raster's own nodata is never a target, nor part of a real example: there the real
        # window shows G's pixels too, so neither loss can read what the nodata pixels hold
        real_B = torch.where(valid, real_B.to(fake_B.dtype), fake_B.detach())

    # -- D: fake pairs should score "fake", real pairs "real" --------------------------
    zero = real_B.new_zeros(())
    loss_D_fake = loss_D_real = loss_G_GAN = zero
    if w.gan > 0:
        _set_requires_grad(nets.D, True)
        opts.D.zero_grad(set_to_none=True)
        with ctx():
            pred_fake = nets.D(torch.cat([real_A, fake_B.detach()], 1))
            pred_real = nets.D(torch.cat([real_A, real_B], 1))
        loss_D_fake = adversarial_loss(pred_fake, False, w.gan_loss, valid)
        loss_D_real = adversarial_loss(pred_real, True, w.gan_loss, valid)
        _backward_step((loss_D_fake + loss_D_real) * 0.5, opts.D, opts.scaler)

    # -- G: fool D, stay close to the target (L1), and the family's terms -----------------
    _set_requires_grad(nets.D, False)
    opts.G.zero_grad(set_to_none=True)
    D_frozen = nets.D_for_G if nets.D_for_G is not None else nets.D
    if w.gan > 0 or w.feat > 0:
        with ctx():
            pred_fake = D_frozen(torch.cat([real_A, fake_B], 1))
    if w.gan > 0:
        loss_G_GAN = adversarial_loss(pred_fake, True, w.gan_loss, valid, for_discriminator=False)
    loss_G_L1 = masked_l1(fake_B, real_B, l1_valid)
    if w.edge > 0 or w.pixel_weight is not None:
        l1_term = masked_l1(fake_B, real_B, l1_valid, w.edge,
                            w.pixel_weight(real_B) if w.pixel_weight is not None else None)
    else:
        l1_term = loss_G_L1
    loss_G = w.gan * loss_G_GAN + w.l1 * l1_term
    loss_feat = loss_vgg = loss_ce = None
    if w.feat > 0:
        with torch.no_grad(), ctx():  # real features with D as just updated, as constants
            pred_real = D_frozen(torch.cat([real_A, real_B], 1))
        loss_feat = feature_matching_loss(pred_fake, pred_real, valid)
        loss_G = loss_G + w.feat * loss_feat
    if w.vgg > 0 and nets.vgg is not None:
        # nodata: the target's own pixels stand in for the prediction, so they cost nothing
        loss_vgg = nets.vgg(torch.where(valid, fake_B.float(), real_B.float()), real_B)
        loss_G = loss_G + w.vgg * loss_vgg
    if loss_kl is not None and w.kl > 0:
        loss_G = loss_G + w.kl * loss_kl
    if logits is not None and nets.head is not None:
        cw = None if w.class_weights is None else torch.tensor(w.class_weights, device=logits.device)
        loss_ce = masked_cross_entropy(nets.head.class_logits(logits), nets.head.target_classes(real_B), valid, cw)
        loss_G = loss_G + w.classes * loss_ce
    _backward_step(loss_G, opts.G, opts.scaler)
    if opts.scaler is not None:
        opts.scaler.update()
    _set_requires_grad(nets.D, True)
    return StepLosses(float(loss_D_real.detach()), float(loss_D_fake.detach()), float(loss_G_GAN.detach()),
                      float(loss_G_L1.detach()), _value(loss_feat), _value(loss_vgg), _value(loss_ce), _value(loss_kl))
