"""The module that is exported: the generator between the contract's two ends.

:class:`ExportGraph` = input layer (client units -> normalised, :mod:`.contract`) -> the generator
(its class head's probabilities, or its values) -> output layer (normalised -> the output
raster's units). Everything is plain tensor arithmetic on constants recorded from the model file,
so the exporter folds it into the graph and a client needs nothing but the ONNX file.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from geo_pix2pix.files.onnx_contract import Contract
from geo_pix2pix.tiles.encoding.classes import ClassTable

__all__ = ["ExportGraph", "ValuesIn", "CodesIn", "PaletteIn", "HolesIn"]


class ValuesIn(nn.Module):
    """``v / S`` -> geopix's normalisation of ``v``: ``(v - low) * 2 / (high - low) - 1``, clipped
    to [-1, 1], NaN as 0 (:meth:`~geo_pix2pix.tiles.encoding.normalize.BandStats.normalize`)."""

    low: torch.Tensor
    factor: torch.Tensor

    def __init__(self, low: tuple[float, ...], high: tuple[float, ...], scale: float) -> None:
        super().__init__()
        lo = torch.tensor(low, dtype=torch.float32)[:, None, None]
        hi = torch.tensor(high, dtype=torch.float32)[:, None, None]
        self.register_buffer("low", lo)
        self.register_buffer("factor", 2.0 / (hi - lo))
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = ((x * self.scale - self.low) * self.factor - 1.0).clamp(-1.0, 1.0)
        return torch.where(torch.isnan(y), torch.zeros_like(y), y)


def _one_hot(index: torch.Tensor, count: int) -> torch.Tensor:
    """``(N, 1, H, W)`` class indexes (-1: unknown) -> ``(N, count, H, W)`` one-hot in {-1, +1}."""
    ks = torch.arange(count, dtype=index.dtype, device=index.device)[None, :, None, None]
    return torch.where(index == ks, 1.0, -1.0)


class CodesIn(nn.Module):
    """``code / S`` -> one-hot classes (a code not in the table, e.g. nodata: all -1)."""

    codes: torch.Tensor

    def __init__(self, table: ClassTable, scale: float) -> None:
        super().__init__()
        self.register_buffer("codes", torch.tensor(table.codes, dtype=torch.float32)[None, :, None, None])
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = torch.round(x[:, :1] * self.scale)
        return torch.where(code == self.codes, 1.0, -1.0)


class PaletteIn(nn.Module):
    """RGB bytes / 255 -> one-hot class of each pixel's nearest palette colour
    (:func:`~geo_pix2pix.tiles.encoding.classes.nearest_colour_classes`)."""

    colors: torch.Tensor
    bias: torch.Tensor
    classes: torch.Tensor

    def __init__(self, table: ClassTable) -> None:
        super().__init__()
        colors = torch.tensor(table.rgb_colors, dtype=torch.float32)
        self.register_buffer("colors", colors[:, :, None, None])  # (P, 3, 1, 1): a 1x1 convolution
        self.register_buffer("bias", -(colors * colors).sum(1))
        self.register_buffer("classes", torch.tensor(table.rgb_classes, dtype=torch.int64))
        self.count = table.bands

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = torch.nn.functional.conv2d(x[:, :3] * 255.0, self.colors * 2.0, self.bias)
        return _one_hot(self.classes[score.argmax(1, keepdim=True)], self.count)


class HolesIn(nn.Module):
    """Inpainting: ``v / S`` bands -> normalised, the hole mask (the last channel) as it is."""

    def __init__(self, values: ValuesIn) -> None:
        super().__init__()
        self.values = values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.values(x[:, :-1]), x[:, -1:]], 1)


class ExportGraph(nn.Module):
    """Client units in, client units out (see :mod:`.contract`).

    Args:
        G: the generator as :func:`~geo_pix2pix.files.modelfile.load_model` builds it (with its
            class or palette head), in eval mode.
        meta: the model file's metadata.
        contract: the units of the two ends.
        style: a SPADE model's fixed ``(1, style_dim)`` style, or None.
    """

    G: Any
    out_low: torch.Tensor
    out_half: torch.Tensor
    style: torch.Tensor | None

    def __init__(self, G: nn.Module, meta: Any, contract: Contract, style: torch.Tensor | None = None) -> None:
        super().__init__()
        ins, out = meta.input_stats, meta.output_stats
        self.G = G
        self.encode: nn.Module
        if contract.input_kind == "palette":
            self.encode = PaletteIn(ins)
        elif contract.input_kind == "codes":
            self.encode = CodesIn(ins, contract.input_scale)
        elif contract.input_kind == "holes":
            from geo_pix2pix.export.prefill import FixedDepthPrefill, levels_for
            from geo_pix2pix.files.onnx_contract import MAX_TILE

            self.encode = HolesIn(ValuesIn(ins.low, ins.high, contract.input_scale))
            inner = cast(nn.Module, G.G)  # a PrefilledGenerator's generator (Module.__getattr__: Tensor | Module)
            self.G = FixedDepthPrefill(inner, levels_for(contract.tile or MAX_TILE))  # a static pyramid depth
        else:
            self.encode = ValuesIn(ins.low, ins.high, contract.input_scale)
        self.probabilities = isinstance(out, ClassTable)
        if not self.probabilities:
            lo = torch.tensor(out.low, dtype=torch.float32)[:, None, None]
            hi = torch.tensor(out.high, dtype=torch.float32)[:, None, None]
            self.register_buffer("out_low", lo)
            self.register_buffer("out_half", (hi - lo) / 2.0)
        self.register_buffer("style", style.float() if style is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encode(x)
        if self.probabilities:  # the class head's logits, as probabilities (what 2 p - 1 is made of)
            return cast(torch.Tensor, self.G.logits(h).softmax(1))
        y = self.G(h) if self.style is None else self.G(h, self.style.expand(h.shape[0], -1))
        return cast(torch.Tensor, (y.float().clamp(-1.0, 1.0) + 1.0) * self.out_half + self.out_low)
