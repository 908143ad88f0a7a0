"""What an exported graph reads and writes: the units at its two ends, and the maps to geopix's.

A geopix generator works in normalised units ([-1, 1] per band, one-hot classes in {-1, +1}).
The clients that run ONNX files do not: Deepness and GeoDeep read a raster's pixels, divide them
by a fixed number and hand the result to the graph, then take the graph's output as it is. So the
graph carries geopix's normalisation inside it, and its ends are in the clients' units:

**Input** (``N x C x T x T`` float32): the raster's values divided by the *input scale* ``S``:
255 for uint8 rasters, 65535 for uint16, 1 (the values as they are) for every other dtype. The
graph multiplies by ``S`` and applies the model file's normalisation (the training statistics,
clipped to [-1, 1], NaN as 0), so ``S`` only has to match what the client divides by:

- GeoDeep divides uint8 pixels by 255 and other integer dtypes by their full range (65535 for
  uint16); it reads no standardisation. For uint8 and uint16 imagery it feeds exactly ``v / S``.
- Deepness divides every pixel by 255, then standardises with the file's
  ``standardization_mean``/``standardization_std``. The metadata sets the mean to 0 and the std to
  ``S / 255`` (1 for bytes, 257 for uint16), so Deepness feeds ``v / S`` as well.
- geopix's own engine inverts its normalisation (:func:`graph_input`) and feeds the same.

An inpainting model reads the imagery's bands so scaled and one more channel, the mask of the
pixels to fill (1) and to keep (0); what lies under the mask does not matter (the model pre-fills it
from the known pixels). A categorical input (a SPADE layout) is one band of class codes, scaled alike; the graph rounds
them back to codes and one-hot encodes them (unknown codes all -1, as geopix reads them). A layout
read through a palette is three bands of RGB bytes; the graph classifies each pixel by its nearest
palette colour.

A translation graph reads no mask: it predicts from every value it is given, so what a client
feeds at the raster's masked pixels (a nodata collar, say) reaches the predictions of the valid
pixels within the generator's reach. geopix fills those pixels from the valid ones before its
graph or network reads them (:func:`~geo_pix2pix.models.prefill.fill_masked_input`; training did
the same); a client that does not sees edges that differ from geopix's next to its masks.

**Output**: for a class map, the per-class probabilities (``N x K x T x T``, summing to 1, class
*index* k = the k-th class of the model's table: Deepness' and GeoDeep's class ids); for values
(a measured map, imagery, a rendered map picture) the values in the output raster's units
(bytes 0..255 as floats for a picture, metres for a DEM), unrounded. So ``reg_output_scaling`` is
1 and a client writes the map as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, cast

import numpy as np

from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import ModelFileError

__all__ = ["Contract", "input_scale", "contract_for", "graph_input", "normalised_output", "MAX_TILE"]

#: Version of the contract's JSON (the ``geopix_onnx`` metadata key); a newer one is refused.
CONTRACT_VERSION = 1
#: Largest tile side a graph exported without a fixed tile accepts.
MAX_TILE = 16384


def input_scale(dtype: str) -> float:
    """``S``, what a client divides the raster's values by: 255 for uint8, 65535 for uint16, else 1."""
    return {"uint8": 255.0, "uint16": 65535.0}.get(dtype, 1.0)


@dataclass(frozen=True)
class Contract:
    """The units at the ends of an exported graph (see the module docstring).

    Attributes:
        input_kind: ``values`` (bands of values), ``holes`` (bands of values and the mask of the
            pixels to fill: inpainting), ``codes`` (one band of class codes) or ``palette`` (three
            bands of RGB read through a palette as classes).
        input_scale: ``S``: the graph's input is the raster's values divided by it.
        input_channels: channels of the graph's input.
        output_kind: ``probabilities`` (per class) or ``values`` (in the output raster's units).
        output_channels: channels of the graph's output.
        tile: the tile side the graph was fixed to (``--tile``); 0: any multiple of ``multiple``.
        multiple: tile sides must be multiples of this (the generator's stride product).
        opset: ONNX opset of the graph.
        style: how a SPADE model's style was fixed (``default``, ``seed N``, ``reference PATH``), or ``""``.
        input_name / output_name: names of the graph's input and output.
    """

    input_kind: str
    input_scale: float
    input_channels: int
    output_kind: str
    output_channels: int
    tile: int
    multiple: int
    opset: int
    style: str = ""
    input_name: str = "input"
    output_name: str = "output"
    version: int = CONTRACT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Contract:
        if int(d.get("version", 0)) > CONTRACT_VERSION:
            raise ModelFileError("this ONNX file was exported by a newer geopix (its graph contract is version "
                                 f"{d.get('version')}); upgrade geopix")
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def contract_for(meta: Any, tile: int, multiple: int, opset: int, style: str = "") -> Contract:
    """The contract of ``meta``'s model exported at ``tile`` (0: dynamic)."""
    ins, out = meta.input_stats, meta.output_stats
    if isinstance(ins, ClassTable):
        kind = "palette" if ins.rgb_colors else "codes"
        channels = 3 if ins.rgb_colors else 1
        scale = 255.0 if ins.rgb_colors else input_scale(ins.dtype)
    elif meta.family == "inpaint":
        kind, channels, scale = "holes", ins.bands + 1, input_scale(ins.dtype)
    else:
        kind, channels, scale = "values", ins.bands, input_scale(ins.dtype)
    out_kind = "probabilities" if isinstance(out, ClassTable) else "values"
    return Contract(kind, scale, channels, out_kind, out.bands, tile, multiple, opset, style)


def graph_input(x: np.ndarray, stats: BandStats | ClassTable, contract: Contract) -> np.ndarray:
    """Normalised tiles (what the mosaicker hands a predict function) -> the graph's input units.

    The inverse of geopix's normalisation: values back to raw values over ``S``; one-hot classes
    back to their codes (all -1: the table's nodata code, which the graph reads as unknown again),
    or, for a palette layout, to the first colour of each class.
    """
    if contract.input_kind == "holes":  # the mask passes as it is
        bands = graph_input(x[:, :-1], stats, replace(contract, input_kind="values"))
        return np.ascontiguousarray(np.concatenate([bands, x[:, -1:]], axis=1), dtype=np.float32)
    if contract.input_kind == "values":
        if not isinstance(stats, BandStats):  # pragma: no cover - a values contract comes with band statistics
            raise ModelFileError("a values input needs band statistics, not a class table")
        low = np.asarray(stats.low, np.float32)[:, None, None]
        high = np.asarray(stats.high, np.float32)[:, None, None]
        raw = (x.astype(np.float32) + 1.0) * ((high - low) / 2.0) + low
        return np.ascontiguousarray(raw / np.float32(contract.input_scale), dtype=np.float32)
    if not isinstance(stats, ClassTable):  # pragma: no cover - a codes or palette contract comes with a class table
        raise ModelFileError(f"a {contract.input_kind} input needs a class table")
    table: ClassTable = stats
    idx = np.argmax(x, axis=1)
    if contract.input_kind == "palette":
        classes = np.asarray(table.rgb_classes)
        first = np.asarray([np.flatnonzero(classes == k)[0] for k in range(table.bands)])
        rgb = np.asarray(table.rgb_colors, np.float32)[first]  # (K, 3): one colour per class
        return np.ascontiguousarray(np.moveaxis(rgb[idx], -1, 1) / np.float32(255.0), dtype=np.float32)
    codes = np.asarray(table.codes, np.float32)[idx]
    codes = np.where(np.max(x, axis=1) > 0, codes, np.float32(table.nodata))
    return np.ascontiguousarray(codes[:, None] / np.float32(contract.input_scale), dtype=np.float32)


def normalised_output(y: np.ndarray, stats: BandStats | ClassTable, contract: Contract) -> np.ndarray:
    """The graph's output -> geopix's normalised units (what the mosaicker blends): probabilities
    as ``2 p - 1`` (a class head's scores), values mapped onto [-1, 1] by the output statistics."""
    y = np.asarray(y, np.float32)
    if contract.output_kind == "probabilities":
        return cast(np.ndarray, y * np.float32(2.0) - np.float32(1.0))
    if not isinstance(stats, BandStats):  # pragma: no cover - a values contract comes with band statistics
        raise ModelFileError("a values output needs band statistics, not a class table")
    low = np.asarray(stats.low, np.float32)[:, None, None]
    high = np.asarray(stats.high, np.float32)[:, None, None]
    return cast(np.ndarray, (y - low) * (np.float32(2.0) / (high - low)) - np.float32(1.0))
