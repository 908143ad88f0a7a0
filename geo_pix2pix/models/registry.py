"""The Pix2Pix family's generator and discriminator registry: frozen configs in, modules out.

Generators are registered by name prefix (``unet``, ``smp:<encoder>``); the discriminator is the
(multi-scale) PatchGAN every family shares. Model families (:mod:`geo_pix2pix.families`) decide
which networks a run builds; this registry is how the Pix2Pix family builds its own. Configs
serialise to JSON (the model file stores the generator's), so a model can be rebuilt from its file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from torch import nn

from geo_pix2pix.tiles.errors import GeopixError

__all__ = ["GeneratorConfig", "DiscriminatorConfig", "build_generator", "build_discriminator",
           "register_generator", "register_discriminator", "upgrade_discriminator_state"]


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a generator.

    Attributes:
        name: ``unet`` (the paper's) or ``smp:<encoder>``.
        in_channels: input bands.
        out_channels: output bands.
        tile: tile side the generator is built for (sets the U-Net depth).
        ngf: filters of the first layer (unet).
        norm: ``batch`` or ``instance`` (unet).
        dropout: dropout 0.5 next to the bottleneck (unet), the paper's noise source.
        depth: stride-2 levels (unet; 0: as many as ``tile`` allows, up to 8, the paper's).
        upsample: the decoder's 2x upsampling (unet): ``transposed`` (the paper's) or ``resize``.
        encoder_weights: local file of smp encoder weights (not stored in model files).
        palette: colours (in the output's normalised space) of a palette head
            (:class:`~geo_pix2pix.models.palette_head.PaletteHead`); empty: plain output.
        palette_classes: class index of each palette colour.
    """

    name: str = "unet"
    in_channels: int = 3
    out_channels: int = 3
    tile: int = 256
    ngf: int = 64
    norm: str = "batch"
    dropout: bool = True
    depth: int = 0
    upsample: str = "transposed"
    encoder_weights: str | None = None
    palette: tuple[tuple[float, ...], ...] = ()
    palette_classes: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("encoder_weights")  # the weights are in the model file itself
        if not self.depth:  # files of the paper's U-Net shape stay as they were
            d.pop("depth")
        if self.upsample == "transposed":
            d.pop("upsample")
        if not self.palette:  # files without a head stay as they were
            d.pop("palette")
            d.pop("palette_classes")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["palette"] = tuple(tuple(float(v) for v in c) for c in d.get("palette", ()))
        d["palette_classes"] = tuple(int(c) for c in d.get("palette_classes", ()))
        return cls(**d)


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Architecture of a (multi-scale) discriminator.

    Attributes:
        name: ``patchgan``.
        in_channels: input + output bands (the discriminator is conditional).
        ndf: filters of the first layer.
        n_layers: stride-2 layers (3: 70x70 receptive field).
        norm: ``batch``, ``instance`` or ``spectral``.
        num_d: PatchGANs at successive 2x downsamplings (1: Pix2Pix; Pix2PixHD uses 2-3).
        global_tile: with a window side > 0, also a global discriminator of windows that size
            (one logit per window; inpainting, :mod:`.global_d`).
    """

    name: str = "patchgan"
    in_channels: int = 6
    ndf: int = 64
    n_layers: int = 3
    norm: str = "batch"
    num_d: int = 1
    global_tile: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


GeneratorBuilder = Callable[[GeneratorConfig], nn.Module]
DiscriminatorBuilder = Callable[[DiscriminatorConfig], nn.Module]
_GENERATORS: dict[str, GeneratorBuilder] = {}
_DISCRIMINATORS: dict[str, DiscriminatorBuilder] = {}


def register_generator(prefix: str) -> Callable[[GeneratorBuilder], GeneratorBuilder]:
    """Register a builder for generator names equal to ``prefix`` or starting with ``prefix:``."""

    def deco(fn: GeneratorBuilder) -> GeneratorBuilder:
        _GENERATORS[prefix] = fn
        return fn

    return deco


def register_discriminator(name: str) -> Callable[[DiscriminatorBuilder], DiscriminatorBuilder]:
    """Register a discriminator builder under ``name``."""

    def deco(fn: DiscriminatorBuilder) -> DiscriminatorBuilder:
        _DISCRIMINATORS[name] = fn
        return fn

    return deco


def build_generator(cfg: GeneratorConfig, init: bool = True) -> nn.Module:
    """Build the generator named by ``cfg`` (weights initialised as in the paper for unet); with a
    ``palette``, the generator is the body of a palette head with one output per colour."""
    prefix = cfg.name.split(":", 1)[0]
    if prefix not in _GENERATORS:
        raise GeopixError(f"unknown generator {cfg.name!r}; choose unet or smp:<encoder>")
    if cfg.palette and len(cfg.palette_classes) != len(cfg.palette):
        raise GeopixError("a palette head needs one class per palette colour")
    body_cfg = replace(cfg, out_channels=len(cfg.palette)) if cfg.palette else cfg
    model = _GENERATORS[prefix](body_cfg)
    if init and prefix == "unet":
        from geo_pix2pix.models.unet import init_weights

        init_weights(model)
    if cfg.palette:
        import torch

        from geo_pix2pix.models.palette_head import PaletteHead

        model = PaletteHead(model, torch.tensor(cfg.palette), torch.tensor(cfg.palette_classes))
    return model


def build_discriminator(cfg: DiscriminatorConfig) -> nn.Module:
    """Build the discriminator named by ``cfg``, initialised as in the paper."""
    from geo_pix2pix.models.unet import init_weights

    if cfg.name not in _DISCRIMINATORS:
        raise GeopixError(f"unknown discriminator {cfg.name!r}; choose {', '.join(_DISCRIMINATORS)}")
    model = _DISCRIMINATORS[cfg.name](cfg)
    init_weights(model)
    return model


@register_generator("unet")
def _unet(cfg: GeneratorConfig) -> nn.Module:
    from geo_pix2pix.models.unet import UnetGenerator

    return UnetGenerator(cfg.in_channels, cfg.out_channels, cfg.tile, cfg.ngf, cfg.norm, cfg.dropout, cfg.depth,
                         cfg.upsample)


@register_generator("smp")
def _smp(cfg: GeneratorConfig) -> nn.Module:
    from geo_pix2pix.models.smp_unet import SmpUnetGenerator

    encoder = cfg.name.split(":", 1)[1] if ":" in cfg.name else ""
    if not encoder:
        raise GeopixError("name the smp encoder, e.g. --generator smp:resnet34")
    return SmpUnetGenerator(encoder, cfg.in_channels, cfg.out_channels, cfg.tile, cfg.encoder_weights)


@register_discriminator("patchgan")
def _patchgan(cfg: DiscriminatorConfig) -> nn.Module:
    from geo_pix2pix.models.patchgan import MultiScaleDiscriminator

    if cfg.global_tile > 0:
        from geo_pix2pix.models.global_d import LocalGlobalDiscriminator

        return LocalGlobalDiscriminator(cfg.in_channels, cfg.ndf, cfg.n_layers, cfg.norm, cfg.num_d, cfg.global_tile)
    return MultiScaleDiscriminator(cfg.in_channels, cfg.ndf, cfg.n_layers, cfg.norm, cfg.num_d)


def upgrade_discriminator_state(state: dict[str, Any]) -> dict[str, Any]:
    """A discriminator state dict from before multi-scale discriminators (one PatchGAN, keys
    ``model.*``) as the one-scale :class:`MultiScaleDiscriminator` holds it (``scales.0.model.*``),
    so runs checkpointed by an earlier geopix resume."""
    if state and all(k.startswith("model.") for k in state):
        return {f"scales.0.{k}": v for k, v in state.items()}
    return state
