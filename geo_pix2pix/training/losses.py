"""Adversarial and pixel losses that ignore invalid (nodata) pixels.

``L_G = L_GAN(D(x, G(x)), real) + lambda * L1(G(x), y)`` (Isola et al., eq. 4). The L1 term is a
mean over valid pixels only. The discriminator's logit map is coarser than the tile; each logit
is weighted by the valid share of the pixels it stands for (the mask area-averaged down to the
logit grid), so patches of nodata neither reward nor punish either network.

Discriminators return, per scale, the list of their layer outputs ending with the logits
(:class:`~geo_pix2pix.models.patchgan.MultiScaleDiscriminator`); :func:`adversarial_loss` averages
the GAN loss over scales and :func:`feature_matching_loss` compares the intermediate layers
(Pix2PixHD, eq. 4), so every loss reads the same for one scale (Pix2Pix) or several.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["GAN_LOSSES", "DiscriminatorOutput", "adversarial_loss", "edge_band", "feature_matching_loss", "gan_loss",
           "kl_divergence", "masked_cross_entropy", "masked_l1", "patch_weights"]

#: Per scale, the discriminator's layer outputs; the last of each list is the logit map.
DiscriminatorOutput = list[list[torch.Tensor]]

GAN_LOSSES = ("vanilla", "lsgan", "hinge")


def patch_weights(valid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Valid share of each logit's area: ``(N, 1, H, W)`` bool -> ``(N, 1, P, P)`` in [0, 1]."""
    return F.adaptive_avg_pool2d(valid.to(logits.dtype), (logits.shape[-2], logits.shape[-1]))


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


def adversarial_loss(outputs: DiscriminatorOutput, target_real: bool, kind: str, valid: torch.Tensor,
                     for_discriminator: bool = True) -> torch.Tensor:
    """:func:`gan_loss` of every scale's logits (each weighted by the valid share of its patches),
    averaged over scales. One scale gives exactly the single-discriminator loss."""
    losses = [gan_loss(scale[-1], target_real, kind, patch_weights(valid, scale[-1]), for_discriminator)
              for scale in outputs]
    return losses[0] if len(losses) == 1 else torch.stack(losses).mean()


def feature_matching_loss(fake: DiscriminatorOutput, real: DiscriminatorOutput, valid: torch.Tensor) -> torch.Tensor:
    """Pix2PixHD's feature-matching loss (Wang et al. 2018, eq. 4), with nodata masked.

    ``sum_k sum_i w_i / num_D * L1(D_k^(i)(x, G(x)), D_k^(i)(x, y))`` over the scales ``k`` and
    each scale's intermediate layers ``i`` (the logits excluded), with ``w_i = 4 / L`` for ``L``
    intermediate layers, as in the authors' release: a discriminator's features are matched with a
    total weight of 4, and the scales share it equally. The real features are constants (detached):
    the term trains G only. Each layer's L1 is a mean over its valid positions (the nodata mask
    area-averaged to the layer's grid), so nodata is ignored as in the other losses. Identical
    features give exactly 0.
    """
    total = torch.zeros((), device=valid.device)
    n_scales = len(fake)
    for f_scale, r_scale in zip(fake, real, strict=True):
        layers = len(f_scale) - 1
        for f, r in zip(f_scale[:-1], r_scale[:-1], strict=True):
            w = patch_weights(valid, f)
            diff = (f.float() - r.detach().float()).abs().mean(dim=1, keepdim=True)
            total = total + (4.0 / layers / n_scales) * _weighted_mean(diff, w)
    return total


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
    W)``, multiplies the per-pixel weights (e.g. :meth:`~geo_pix2pix.training.balance.ClassBalance.pixel_weights`).
    """
    w = valid.to(torch.float32)
    if weight is not None:
        w = w * weight
    if edge_weight > 0:
        w = w * (1.0 + edge_weight * edge_band(real))
    diff = (fake.float() - real.float()).abs() * w
    return diff.sum() / (w.sum() * fake.shape[1]).clamp_min(1)


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                         class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy over valid pixels: ``(N, K, H, W)`` logits, ``(N, H, W)`` class indexes;
    ``class_weights`` ``(K,)`` weighs each pixel by its target class (mean over valid pixels of
    weight x CE, so weights with an expected value of 1 keep the loss's scale)."""
    values = F.cross_entropy(logits.float(), target, weight=class_weights, reduction="none")
    return _weighted_mean(values, valid[:, 0].to(values.dtype))


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The style encoder's KL term (SPADE, a VAE's):
    ``KL(N(mu, exp(logvar)) || N(0, I))`` summed over the style dimensions, mean over the batch:
    ``-0.5 * sum(1 + logvar - mu^2 - exp(logvar))``. 0 exactly when ``mu = 0, logvar = 0``."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
