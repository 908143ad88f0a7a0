"""Adversarial and pixel losses that ignore invalid (nodata) pixels.

``L_G = L_GAN(D(x, G(x)), real) + lambda * L1(G(x), y)`` (Isola et al., eq. 4). The L1 term is a
mean over valid pixels only. The discriminator's logit map is coarser than the tile; each logit
is weighted by the valid share of the pixels it stands for (the mask area-averaged down to the
logit grid), so patches of nodata neither reward nor punish either network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["GAN_LOSSES", "edge_band", "gan_loss", "masked_cross_entropy", "masked_l1", "patch_weights"]

GAN_LOSSES = ("vanilla", "lsgan", "hinge")


def patch_weights(valid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Valid share of each logit's area: ``(N, 1, H, W)`` bool -> ``(N, 1, P, P)`` in [0, 1]."""
    return F.adaptive_avg_pool2d(valid.to(logits.dtype), logits.shape[-2:])


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return values.mean()
    return (values * weights).sum() / weights.sum().clamp_min(1e-6)


def gan_loss(logits: torch.Tensor, target_real: bool, kind: str = "vanilla",
             weights: torch.Tensor | None = None, for_discriminator: bool = True) -> torch.Tensor:
    """Adversarial loss of a logit map.

    Args:
        kind: ``vanilla`` (binary cross-entropy on logits, the paper's), ``lsgan`` (least
            squares) or ``hinge``.
        target_real: whether the logits should say "real".
        weights: per-logit weights (see :func:`patch_weights`), or ``None``.
        for_discriminator: hinge differs for D (margins) and G (raw score).
    """
    logits = logits.float()
    if kind == "vanilla":
        target = torch.ones_like(logits) if target_real else torch.zeros_like(logits)
        values = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    elif kind == "lsgan":
        values = (logits - (1.0 if target_real else 0.0)) ** 2
    elif kind == "hinge":
        if for_discriminator:
            values = F.relu(1.0 - logits) if target_real else F.relu(1.0 + logits)
        else:
            values = -logits
    else:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(GAN_LOSSES)}")
    return _weighted_mean(values, weights)


def edge_band(target: torch.Tensor, threshold: float = 0.04) -> torch.Tensor:
    """Pixels within one pixel of a colour edge of the target: ``(N, C, H, W)`` -> ``(N, 1, H, W)``.

    A pixel is in the band when some channel's range over its 3x3 neighbourhood exceeds
    ``threshold`` (0.04 in [-1, 1] units is 5/255 of a byte, the maps pixel-accuracy tolerance).
    On a rendered map the band covers the thin strokes (roads, outlines) almost entirely and the
    flat areas not at all.
    """
    t = target.float()
    spread = F.max_pool2d(t, 3, 1, 1) + F.max_pool2d(-t, 3, 1, 1)
    return (spread.amax(dim=1, keepdim=True) > threshold).to(t.dtype)


def masked_l1(fake: torch.Tensor, real: torch.Tensor, valid: torch.Tensor, edge_weight: float = 0.0,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute difference over valid pixels and all channels.

    ``edge_weight`` > 0 weighs pixels in the target's :func:`edge_band` ``1 + edge_weight`` times:
    a plain L1 is dominated by the large flat areas of a map, and thin strokes (roads) are learnt
    last; weighting them makes the generator draw them early and crisply. ``weight``, ``(N, 1, H,
    W)``, multiplies the per-pixel weights (e.g. :meth:`~geo_pix2pix.balance.ClassBalance.pixel_weights`).
    """
    w = valid.to(torch.float32)
    if weight is not None:
        w = w * weight
    if edge_weight > 0:
        w = w * (1.0 + edge_weight * edge_band(real))
    diff = (fake.float() - real.float()).abs() * w
    return diff.sum() / (w.sum() * fake.shape[1]).clamp_min(1)


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over valid pixels: ``(N, K, H, W)`` logits, ``(N, H, W)`` class indexes."""
    values = F.cross_entropy(logits.float(), target, reduction="none")
    return _weighted_mean(values, valid[:, 0].to(values.dtype))
