"""One GAN training step: the D then G update that every family shares.

The reference pix2pix's ``optimize_parameters``, as a function of (networks, optimisers, batch,
objective: :mod:`~geo_pix2pix.training.objective`):

1. draw ``fake_B = G(real_A)``, through the objective's :attr:`~.Objective.draw`: a family changes
   there what G reads or what its output becomes (SPADE's style noise, inpainting's holes);
2. update D on ``(real_A, fake_B.detach())`` -> fake and ``(real_A, real_B)`` -> real, the loss
   halved "to slow down the rate at which D learns relative to G"; with several discriminator
   scales the GAN loss is their mean;
3. update G (D frozen) on ``lambda_GAN * GAN(D(real_A, fake_B), real) + lambda_L1 * L1(fake_B,
   real_B)``, then each further :class:`~.LossTerm` of the objective, ``weight * value``, added in
   the objective's order: the family's own (feature matching, VGG, KL), then the output head's
   class cross-entropy.

With an R1 weight (``--r1-gamma``), every :data:`R1_EVERY`-th step D's loss also carries
:func:`r1_penalty` of its real pairs.

A term whose weight is 0 is neither computed nor reported, so a Pix2Pix step does exactly the
paper's arithmetic, and the step returns by name the terms it trained (``metrics.csv`` columns).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from geo_pix2pix.runtime.device import DevicePlan
from geo_pix2pix.training.losses import DiscriminatorOutput, adversarial_loss, masked_l1, patch_weights
from geo_pix2pix.training.objective import (
    Autocast,
    Batch,
    Drawn,
    GeneratorView,
    LossWeights,
    Networks,
    Objective,
)

__all__ = ["R1_EVERY", "Optimisers", "StepLosses", "gan_step", "make_optimisers", "place", "r1_penalty"]

#: Steps between R1 penalties: the penalty is applied lazily, on one step in this many with this
#: many times its weight (StyleGAN2's choice, Karras et al. 2020, sec. 3.1), so its second-order
#: backward pass through D costs a sixteenth of what it would every step, for the same effect.
R1_EVERY = 16


@dataclass
class Optimisers:
    """Adam for G and for D; ``scaler`` only for float16 autocast on CUDA."""

    G: torch.optim.Optimizer
    D: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None = None


class StepLosses(Mapping[str, float]):
    """The losses one step computed, by name (python floats, for logging): ``D_real``, ``D_fake``
    while D trains (and ``D_R1`` on an R1 step), then G's terms in the order they were added
    (``G_GAN``, ``G_L1``, a family's, the output head's ``G_CE``). A term the step did not train is
    absent."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = dict(values)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"StepLosses({self._values})"

    @property
    def D(self) -> float | None:
        """D's loss (the mean of its real and fake terms), or None when D did not train."""
        return 0.5 * (self["D_real"] + self["D_fake"]) if "D_real" in self else None

    def as_row(self) -> dict[str, float]:
        """The named losses that were computed, for ``metrics.csv``."""
        return dict(self._values)

    def postfix(self) -> dict[str, str]:
        """The progress bar's figures: D's loss, then each of G's terms without its ``G_`` prefix,
        except ``G_GAN``, which keeps it (a bare "GAN" beside "D" would not say whose loss it is)."""
        shown = {} if self.D is None else {"D": self.D}
        shown.update((k if k == "G_GAN" else k.removeprefix("G_"), v) for k, v in self.items() if k.startswith("G_"))
        return {k: f"{v:.3f}" for k, v in shown.items()}


def place(module: nn.Module, plan: DevicePlan) -> nn.Module:
    """``module`` on the plan's device, in its memory layout."""
    module = module.to(plan.device)
    return module.to(memory_format=torch.channels_last) if plan.channels_last else module


def make_optimisers(G: nn.Module, D: nn.Module, plan: DevicePlan, lr: float,
                    betas: tuple[float, float], d_lr_factor: float = 1.0) -> Optimisers:
    """Adam for both networks (the paper's), one fused kernel over all parameters on CPU and CUDA.

    Fused is the same update rule; the default per-parameter loop spent a fifth of a CPU training
    step (bench/README.md). Parameters whose gradient is None (frozen ones, e.g. Pix2PixHD's global
    generator in its fixed phase) are skipped by Adam, so they stay bit-identical.
    ``d_lr_factor``: D's learning rate as a multiple of G's (TTUR, SPADE).
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


def _l1_term(w: LossWeights, drawn: Drawn, plain: torch.Tensor) -> torch.Tensor:
    """The L1 that trains G: ``plain`` (the reported ``G_L1``), or with edge and class weights."""
    if w.edge <= 0 and w.pixel_weight is None:
        return plain
    weight = w.pixel_weight(drawn.real_B) if w.pixel_weight is not None else None
    return masked_l1(drawn.fake_B, drawn.real_B, drawn.l1_valid, w.edge, weight)


def r1_penalty(pred_real: DiscriminatorOutput, real_B: torch.Tensor, valid: torch.Tensor,
               scaler: torch.amp.GradScaler | None = None) -> torch.Tensor:
    """R1 (Mescheder et al., ICML 2018): the squared norm of the gradient of D's real-pair logits
    with respect to the real map ``real_B``, summed over its pixels and channels, mean over the
    batch. A D whose score changes steeply around the real data hands G gradients that swing from
    step to step; penalising the slope on real data keeps it smooth there, and at an equilibrium
    where G draws the data the penalty costs D nothing.

    The logits are summed over the discriminator's scales, each weighted by the valid share of its
    patches (as in :func:`~geo_pix2pix.training.losses.adversarial_loss`), so nodata is not
    penalised. ``real_B`` must require grad and have fed ``pred_real``; the penalty's graph is kept
    (it is backpropagated into D). Under a float16 ``scaler`` the gradient is taken of the scaled
    sum and unscaled, as PyTorch's AMP notes prescribe for gradient penalties.
    """
    total = torch.stack([(scale[-1].float() * patch_weights(valid, scale[-1])).sum() for scale in pred_real]).sum()
    if scaler is not None:
        (grad,) = torch.autograd.grad(scaler.scale(total), real_B, create_graph=True)
        grad = grad / scaler.get_scale()
    else:
        (grad,) = torch.autograd.grad(total, real_B, create_graph=True)
    return grad.float().pow(2).sum(dim=(1, 2, 3)).mean()


def _d_update(nets: Networks, opts: Optimisers, real_A: torch.Tensor, fake_B: torch.Tensor, real_B: torch.Tensor,
              valid: torch.Tensor, w: LossWeights, ctx: Autocast, r1_now: bool) -> dict[str, torch.Tensor]:
    """D's update: fake pairs should score "fake", real pairs "real", the loss halved (the
    paper's); on an R1 step plus ``R1_EVERY * r1 / 2 * r1_penalty`` (lazy R1)."""
    _set_requires_grad(nets.D, True)
    opts.D.zero_grad(set_to_none=True)
    if r1_now:
        real_B = real_B.detach().requires_grad_(True)
    with ctx():
        pred_fake = nets.D(torch.cat([real_A, fake_B.detach()], 1))
        pred_real = nets.D(torch.cat([real_A, real_B], 1))
    d = {"D_fake": adversarial_loss(pred_fake, False, w.gan_loss, valid),
         "D_real": adversarial_loss(pred_real, True, w.gan_loss, valid)}
    loss_D = (d["D_fake"] + d["D_real"]) * 0.5
    if r1_now:
        d["D_R1"] = r1_penalty(pred_real, real_B, valid, opts.scaler)
        loss_D = loss_D + (R1_EVERY * w.r1 / 2) * d["D_R1"]
    _backward_step(loss_D, opts.D, opts.scaler)
    return d


def gan_step(nets: Networks, opts: Optimisers, batch: Batch, objective: Objective,
             autocast: Autocast | None = None, step: int = 0) -> StepLosses:
    """One D update then one G update on ``batch``; returns the losses computed, by name.
    ``step`` (0-based) says whether this is an R1 step (``step % R1_EVERY == 0``)."""
    ctx = autocast if autocast is not None else nullcontext
    w = objective.weights
    with ctx():
        drawn = objective.draw(nets, batch)
    real_A, fake_B, real_B, valid = batch.real_A, drawn.fake_B, drawn.real_B, batch.valid
    d: dict[str, torch.Tensor] = {}
    if w.gan > 0:
        d = _d_update(nets, opts, real_A, fake_B, real_B, valid, w, ctx, w.r1 > 0 and step % R1_EVERY == 0)

    # -- G, D frozen: fool D, stay close to the target (L1), then the objective's terms ------
    _set_requires_grad(nets.D, False)
    opts.G.zero_grad(set_to_none=True)
    view = GeneratorView(batch, drawn, nets.D_for_G if nets.D_for_G is not None else nets.D, ctx)
    g: dict[str, torch.Tensor] = {}
    weighted: list[torch.Tensor] = []
    if w.gan > 0:
        g["G_GAN"] = adversarial_loss(view.d_fake(), True, w.gan_loss, valid, for_discriminator=False)
        weighted.append(w.gan * g["G_GAN"])
    if w.l1 > 0:
        g["G_L1"] = masked_l1(fake_B, real_B, drawn.l1_valid)
        weighted.append(w.l1 * _l1_term(w, drawn, g["G_L1"]))
    for term in objective.terms:
        g[term.name] = term.value(view)
        weighted.append(term.weight * g[term.name])
    if not weighted:
        raise ValueError("the objective trains G on nothing (every weight is 0 and it has no terms)")
    loss_G = weighted[0]
    for t in weighted[1:]:  # summed in the objective's order, one term after the other
        loss_G = loss_G + t
    _backward_step(loss_G, opts.G, opts.scaler)
    if opts.scaler is not None:
        opts.scaler.update()
    _set_requires_grad(nets.D, True)
    computed: dict[str, torch.Tensor] = {**{k: d[k] for k in ("D_real", "D_fake", "D_R1") if k in d}, **g}
    return StepLosses({k: float(v.detach()) for k, v in computed.items()})
