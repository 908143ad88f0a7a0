"""One Pix2Pix training step, as in the paper, as a function of its inputs.

1. ``fake_B = G(real_A)``
2. update D on ``(real_A, fake_B.detach())`` -> fake and ``(real_A, real_B)`` -> real, the loss
   halved "to slow down the rate at which D learns relative to G";
3. update G (D frozen) with ``GAN(D(real_A, fake_B), real) + lambda_L1 * L1(fake_B, real_B)``
   (with a palette head, ``+ class_weight * CE(class logits, target classes)``).

Every tensor and module it touches is passed in; it returns the losses as a small dataclass.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .device import DevicePlan
from .losses import gan_loss, masked_cross_entropy, masked_l1, patch_weights
from .models import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from .models.palette_head import PaletteHead

__all__ = ["StepLosses", "GanModels", "build_gan", "train_step"]


@dataclass(frozen=True)
class StepLosses:
    """Losses of one step (python floats, for logging)."""

    D_real: float
    D_fake: float
    G_GAN: float
    G_L1: float

    @property
    def D(self) -> float:
        return 0.5 * (self.D_real + self.D_fake)


@dataclass
class GanModels:
    """The networks and their optimisers; ``scaler`` is set only for float16 autocast on CUDA;
    ``head`` is the generator itself when it is a palette head (unwrapped, for its class maths)."""

    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None = None
    head: PaletteHead | None = None


def build_gan(gcfg: GeneratorConfig, dcfg: DiscriminatorConfig, plan: DevicePlan, lr: float,
              betas: tuple[float, float]) -> GanModels:
    """G, D and their Adam optimisers, placed and laid out for ``plan``.

    Adam runs as one fused kernel over all parameters on the CPU and CUDA: the default
    per-parameter loop spent a fifth of a CPU training step (54 M parameters, ~10 element-wise
    passes each); fused is the same update rule.
    """
    G = build_generator(gcfg).to(plan.device)
    D = build_discriminator(dcfg).to(plan.device)
    if plan.channels_last:
        G = G.to(memory_format=torch.channels_last)
        D = D.to(memory_format=torch.channels_last)
    fused = True if plan.device.type in ("cpu", "cuda") else None
    return GanModels(G, D, torch.optim.Adam(G.parameters(), lr, betas, fused=fused),
                     torch.optim.Adam(D.parameters(), lr, betas, fused=fused),
                     torch.amp.GradScaler("cuda") if plan.needs_scaler else None,
                     G if isinstance(G, PaletteHead) else None)


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


def train_step(
    m: GanModels,
    real_A: torch.Tensor,
    real_B: torch.Tensor,
    valid: torch.Tensor,
    lambda_l1: float = 100.0,
    gan_kind: str = "vanilla",
    autocast: Callable[[], AbstractContextManager[object]] | None = None,
    edge_weight: float = 0.0,
    pixel_weight: Callable[[torch.Tensor], torch.Tensor] | None = None,
    class_weight: float = 0.0,
) -> StepLosses:
    """One D update then one G update on a batch; returns the losses.

    Args:
        real_A: input batch ``(N, Ca, T, T)`` in [-1, 1].
        real_B: target batch ``(N, Cb, T, T)`` in [-1, 1].
        valid: ``(N, 1, T, T)`` bool, pixels valid in both rasters.
        autocast: factory of the mixed-precision context (``None``: full precision).
        edge_weight: extra L1 weight of pixels at the target's colour edges (see
            :func:`~geo_pix2pix.losses.masked_l1`); the logged ``G_L1`` stays the plain L1.
        pixel_weight: target ``(N, C, T, T)`` -> ``(N, 1, T, T)`` L1 weights (class balance).
        class_weight: weight of the palette head's class cross-entropy (needs ``m.head``).
    """
    ctx = autocast if autocast is not None else nullcontext
    logits = None
    with ctx():
        if m.head is not None and class_weight > 0:
            fake_B, logits = m.G(real_A, with_logits=True)
        else:
            fake_B = m.G(real_A)

    # -- D: fake pairs should score "fake", real pairs "real" --------------------------
    _set_requires_grad(m.D, True)
    m.opt_D.zero_grad(set_to_none=True)
    with ctx():
        pred_fake = m.D(torch.cat([real_A, fake_B.detach()], 1))
        pred_real = m.D(torch.cat([real_A, real_B], 1))
    w = patch_weights(valid, pred_real)
    loss_D_fake = gan_loss(pred_fake, False, gan_kind, w)
    loss_D_real = gan_loss(pred_real, True, gan_kind, w)
    _backward_step((loss_D_fake + loss_D_real) * 0.5, m.opt_D, m.scaler)

    # -- G: fool D, and stay close to the target in L1 ----------------------------------
    _set_requires_grad(m.D, False)
    m.opt_G.zero_grad(set_to_none=True)
    with ctx():
        pred_fake = m.D(torch.cat([real_A, fake_B], 1))
    loss_G_GAN = gan_loss(pred_fake, True, gan_kind, w, for_discriminator=False)
    loss_G_L1 = masked_l1(fake_B, real_B, valid)
    if edge_weight > 0 or pixel_weight is not None:
        l1_term = masked_l1(fake_B, real_B, valid, edge_weight,
                            pixel_weight(real_B) if pixel_weight is not None else None)
    else:
        l1_term = loss_G_L1
    loss_G = loss_G_GAN + lambda_l1 * l1_term
    if logits is not None and m.head is not None:
        loss_G = loss_G + class_weight * masked_cross_entropy(
            m.head.class_logits(logits), m.head.target_classes(real_B), valid)
    _backward_step(loss_G, m.opt_G, m.scaler)
    if m.scaler is not None:
        m.scaler.update()
    _set_requires_grad(m.D, True)
    return StepLosses(
        float(loss_D_real.detach()), float(loss_D_fake.detach()),
        float(loss_G_GAN.detach()), float(loss_G_L1.detach()),
    )
