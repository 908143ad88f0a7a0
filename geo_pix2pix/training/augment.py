"""Training augmentation beyond the dihedral flips, for the shift between cities and sensors.

Two kinds, both off by default (``TrainConfig.colour_jitter``, ``blur_noise``, ``scale_jitter``):

* **Photometric jitter of the imagery**, only where the imagery is the generator's input (sat2map,
  and inpainting, whose imagery is also its own target so input and target stay one image). The
  map is never touched, and neither is map2sat's imagery: it is the target there, and jittering
  it would teach G to draw random colours. The imagery travels normalised to [-1, 1] by its
  :class:`~geo_pix2pix.tiles.encoding.normalize.BandStats` range (values clipped to it), so the
  jitter works on ``u = (x + 1) / 2`` in [0, 1], where 0 and 1 are the band's low and high: there
  brightness is an offset, contrast a scaling about the window's mean and gamma a power, as on a
  picture. One strength ``S`` scales every range: brightness ``+-0.2 S``, contrast and saturation
  (3-band imagery only) ``x U[1 - 0.3 S, 1 + 0.3 S]``, gamma ``2 ** U[-0.4 S, 0.4 S]``. With
  probability ``blur_noise`` a window is blurred (Gaussian, sigma ``U[0.3, 1]`` pixels) and,
  independently with the same probability, gets Gaussian noise (sigma ``U[0, 0.03]`` of the range).
  Masked pixels keep their values (the input fill replaces them anyway) and stay masked.
* **Scale jitter**: each window is zoomed by ``z``, log-uniform in ``[1/S, S]``, about its centre,
  imagery, map and every mask by the same sampling grid. Imagery and continuous or RGB maps are
  resampled bilinearly, a class layout (one-hot) by nearest neighbour, so its pixels stay one-hot.
  A pixel stays valid only if every pixel it is interpolated from was, so no value from under a
  mask leaks into a valid one. Zoom-in crops the centre; zoom-out has no pixels beyond the window,
  so the ring outside the shrunk window is *masked*, as a raster's own nodata border would be: the
  losses skip it and the input fill paints G's input there, as translate does. The bias: a
  zoomed-out window is scored on ``z**2`` of its pixels, so zoom-out weighs a little less than
  zoom-in (0.64 at ``S`` 1.25), and G sees masked borders more often than real data has them.
  No antialiasing: for ``S`` up to about 1.5 the shrink is mild enough that bilinear aliasing is small.

Exact resume: every draw of step ``s`` on rank ``r`` comes from ``numpy.random.default_rng([seed,
s, r, SALT])``, never from the global RNG (dropout's, which the checkpoint holds). Validation
batches are made as steps ``>= VALIDATION_STEP`` and pass through unaugmented.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.training.validation import VALIDATION_STEP

if TYPE_CHECKING:  # pragma: no cover
    from geo_pix2pix.training.build import Sides
    from geo_pix2pix.training.config import TrainConfig

__all__ = ["Augment", "photometric", "rescale", "with_augment"]

#: Tells the augmentation's random stream apart from the window sampler's ``[seed, step]``.
SALT = 0x617567

_MASKS = ("valid", "imagery_valid", "maps_valid")


@dataclass(frozen=True)
class Augment:
    """What augments a run's training windows (all off: nothing is done).

    Attributes:
        colour: photometric strength ``S`` (0: off) of the imagery.
        blur_noise: probability of blur, and of noise, per window.
        scale: zoom range ``S`` (1: off); zoom log-uniform in ``[1/S, S]``.
        jitter_imagery: whether the imagery is G's input (sat2map, inpaint), so may be jittered.
        categorical: keys whose tensors are one-hot class layouts (nearest resampling).
    """

    colour: float = 0.0
    blur_noise: float = 0.0
    scale: float = 1.0
    jitter_imagery: bool = True
    categorical: frozenset[str] = frozenset()

    @property
    def photometric_on(self) -> bool:
        return self.jitter_imagery and (self.colour > 0 or self.blur_noise > 0)

    @property
    def off(self) -> bool:
        return not self.photometric_on and self.scale <= 1.0

    @classmethod
    def for_run(cls, cfg: TrainConfig, sides: Sides) -> Augment:
        """The run's augmentation: the imagery is jittered only where it is G's input (sat2map,
        inpaint), and the sides kept as class layouts are resampled by nearest neighbour."""
        stats = {sides.a: sides.in_stats, sides.b: sides.out_stats}
        categorical = frozenset(k for k, st in stats.items() if isinstance(st, ClassTable))
        return cls(cfg.colour_jitter, cfg.blur_noise, cfg.scale_jitter,
                   sides.a == "imagery" and "imagery" not in categorical, categorical)

    def apply(self, d: Mapping[str, torch.Tensor], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """``d`` zoomed (scale jitter), then its imagery jittered, every draw from ``rng``."""
        out = dict(d)
        n = int(d["imagery"].shape[0])
        if self.scale > 1.0:
            zoom = np.exp(rng.uniform(-math.log(self.scale), math.log(self.scale), n))
            out = rescale(out, zoom, self.categorical)
        if self.photometric_on:
            out["imagery"] = photometric(out["imagery"], out["imagery_valid"], self.colour, self.blur_noise, rng)
        return out


def _like(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``new`` in ``old``'s memory format (the loop may hand channels-last windows)."""
    if old.dim() == 4 and old.is_contiguous(memory_format=torch.channels_last):
        return new.contiguous(memory_format=torch.channels_last)
    return new


def rescale(d: Mapping[str, torch.Tensor], zoom: np.ndarray, categorical: frozenset[str] = frozenset()
            ) -> dict[str, torch.Tensor]:
    """Every tensor of ``d`` (``(N, C, T, T)``) zoomed by ``zoom[i]`` about its centre through one
    sampling grid; masks (``valid``, ``*_valid``) keep a pixel only where all the pixels it is
    interpolated from were valid, and are False outside the source window (zoom < 1)."""
    ref = d["imagery"]
    n, _, h, w = ref.shape
    theta = torch.zeros((n, 2, 3), dtype=torch.float32)
    theta[:, 0, 0] = theta[:, 1, 1] = torch.from_numpy(1.0 / zoom).float()
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False).to(ref.device)
    out = dict(d)
    for key, x in d.items():
        if key in _MASKS:
            m = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            out[key] = _like(m >= 1.0 - 1e-4, x)
        elif x.dim() == 4 and x.shape[-2:] == ref.shape[-2:]:
            mode = "nearest" if key in categorical else "bilinear"
            y = F.grid_sample(x.float(), grid, mode=mode, padding_mode="border", align_corners=False)
            out[key] = _like(y.to(x.dtype), x)
    return out


def _gaussian_blur(u: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``u`` ``(N, C, H, W)`` blurred by a separable 5-tap Gaussian of per-window ``sigma`` ``(N,)``."""
    n, c, h, w = u.shape
    taps = torch.arange(-2, 3, dtype=u.dtype, device=u.device)
    k = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, 5)
    x = F.pad(u.reshape(1, n * c, h, w), (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k[:, None, None, :], groups=n * c)
    x = F.conv2d(x, k[:, None, :, None], groups=n * c)
    return x.reshape(n, c, h, w)


def photometric(x: torch.Tensor, valid: torch.Tensor, strength: float, blur_noise: float,
                rng: np.random.Generator) -> torch.Tensor:
    """Imagery ``x`` (``(N, C, T, T)`` in [-1, 1]) jittered per window in ``u = (x + 1) / 2``:
    brightness, contrast, saturation (C == 3), gamma, then blur and noise; masked pixels kept."""
    n, c = int(x.shape[0]), int(x.shape[1])
    s = strength

    def draw(lo: float, hi: float) -> torch.Tensor:
        return torch.from_numpy(rng.uniform(lo, hi, n)).to(x.device, torch.float32)[:, None, None, None]

    bright, contrast, sat = draw(-0.2 * s, 0.2 * s), draw(1 - 0.3 * s, 1 + 0.3 * s), draw(1 - 0.3 * s, 1 + 0.3 * s)
    gamma = torch.exp2(draw(-0.4 * s, 0.4 * s))
    u = (x.float() + 1) / 2
    v = valid.float()
    mean = (u * v).sum((1, 2, 3), keepdim=True) / (v.sum((1, 2, 3), keepdim=True) * c).clamp(min=1)
    u = ((u - mean) * contrast + mean + bright).clamp(0, 1)  # contrast about the window's mean
    if c == 3:
        grey = u.mean(1, keepdim=True)
        u = (grey + (u - grey) * sat).clamp(0, 1)
    u = u.clamp(min=1e-6) ** gamma
    if blur_noise > 0:  # no draws at all without it: blur and noise cost more than the rest together
        blur, noise = draw(0, 1) < blur_noise, draw(0, 1) < blur_noise
        sigma_b, sigma_n = draw(0.3, 1.0), draw(0.0, 0.03)
        field = torch.from_numpy(rng.standard_normal((n, c, *x.shape[-2:]), dtype=np.float32)).to(x.device)
        under = torch.where(valid, u, mean)  # what lies under a mask must not bleed into valid pixels
        u = torch.where(blur, _gaussian_blur(under, sigma_b[:, 0, 0, 0]), u)
        u = torch.where(noise, u + field * sigma_n, u).clamp(0, 1)
    y = (u * 2 - 1).to(x.dtype)
    return _like(torch.where(valid.expand_as(x), y, x), x)


def with_augment(make: Callable[..., Any], aug: Augment, seed: int) -> Callable[..., Any]:
    """``make(windows, step, rank, world)`` reading step ``step``'s windows augmented by ``aug``
    (from ``default_rng([seed, step, rank, SALT])``); validation steps (``>= VALIDATION_STEP``) and
    a run with every option off pass the windows on as they are."""
    if aug.off:
        return make

    def augmented(d: Mapping[str, torch.Tensor], step: int, rank: int = 0, world: int = 1) -> Any:
        if step >= VALIDATION_STEP:
            return make(d, step, rank, world)
        rng = np.random.default_rng([seed, step, rank, SALT])
        return make(aug.apply(d, rng), step, rank, world)

    return augmented
