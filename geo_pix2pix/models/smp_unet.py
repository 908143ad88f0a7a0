"""A U-Net on any segmentation-models-pytorch encoder, as a Pix2Pix generator.

smp composes encoder -> decoder -> head; geopix only sets the channel counts, asks for no
weights from the internet (``encoder_weights=None``), optionally loads encoder weights from a
local file, and appends a Tanh so outputs live in [-1, 1] like the paper's generator.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from geo_pix2pix.tiles.errors import GeopixError, ModelFileError, TileSizeError

__all__ = ["SmpUnetGenerator", "smp_encoder_names"]


def smp_encoder_names() -> list[str]:
    """Encoders smp knows (timm encoders are also accepted as ``tu-NAME``)."""
    import segmentation_models_pytorch as smp

    return sorted(smp.encoders.get_encoder_names())


class SmpUnetGenerator(nn.Module):
    """``smp.Unet(encoder)`` with ``out_channels`` classes and a Tanh output."""

    def __init__(self, encoder: str, in_channels: int, out_channels: int, tile: int,
                 encoder_weights: str | None = None) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        if tile % 32:
            raise TileSizeError(
                f"smp:{encoder} needs a tile size that is a multiple of 32 (five stride-2 "
                f"stages), got {tile}; use {max(32, tile // 32 * 32)}"
            )
        names = smp_encoder_names()
        if encoder not in names and not encoder.startswith("tu-"):
            raise GeopixError(
                f"unknown smp encoder {encoder!r}; valid names: {', '.join(names)} (or tu-<timm model>)"
            )
        self.unet = smp.Unet(encoder_name=encoder, encoder_weights=None, in_channels=in_channels,
                             classes=out_channels, activation=None)
        self.multiple = 32
        if encoder_weights:
            self.load_encoder_weights(Path(encoder_weights))

    def load_encoder_weights(self, path: Path) -> None:
        """Load encoder weights from a local ``.safetensors`` or ``.pth`` state dict (no pickle)."""
        if not path.is_file():
            raise ModelFileError(f"encoder weights not found: {path}")
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelFileError(f"cannot read encoder weights {path}: {exc}") from None
        state = {k.removeprefix("encoder."): v for k, v in state.items()}
        own = self.unet.encoder.state_dict()
        matched = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
        if not matched:
            raise ModelFileError(f"{path} holds no weights of this encoder (no key and shape matches)")
        own.update(matched)
        self.unet.encoder.load_state_dict(own)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.unet(x))
