"""The graph's input layers undo the engine's maps: what the mosaicker normalised comes back to the
network unchanged, for values (uint8, uint16, float), class codes (nodata included) and palettes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geo_pix2pix.export.graph import CodesIn, PaletteIn, ValuesIn
from geo_pix2pix.files.onnx_contract import Contract, graph_input, input_scale, normalised_output
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats


def _contract(kind: str, scale: float, channels: int, out: str = "values") -> Contract:
    return Contract(kind, scale, channels, out, channels, 0, 32, 18)


@pytest.mark.parametrize("dtype, low, high", [("uint8", 0.0, 255.0), ("uint16", 180.0, 3900.0),
                                               ("float32", -12.5, 48.0)])
def test_values_come_back_to_the_normalisation_they_left(dtype, low, high) -> None:
    stats = BandStats(dtype, (low, low + 1), (high, high * 2), "percentile")
    c = _contract("values", input_scale(dtype), 2)
    raw = np.random.default_rng(0).uniform(low - 50, high * 2 + 50, (3, 2, 8, 8)).astype(np.float32)
    raw[0, 0, 0, 0] = np.nan
    x = stats.normalize(raw[0])[None]  # what the mosaicker hands a predict function
    back = ValuesIn(stats.low, stats.high, c.input_scale)(torch.from_numpy(graph_input(x, stats, c))).numpy()
    assert np.abs(back - x).max() < 2e-6


def test_clients_units_are_bytes_over_255_and_uint16_over_65535() -> None:
    assert (input_scale("uint8"), input_scale("uint16"), input_scale("int16"), input_scale("float32")) == \
        (255.0, 65535.0, 1.0, 1.0)
    stats = BandStats("uint8", (0.0,), (255.0,))
    layer = ValuesIn(stats.low, stats.high, 255.0)
    v = np.arange(256, dtype=np.float32).reshape(1, 1, 16, 16)
    assert np.array_equal(layer(torch.from_numpy(v / 255.0)).numpy(), stats.normalize(v[0])[None])


def test_codes_come_back_one_hot_and_nodata_stays_unknown() -> None:
    table = ClassTable.build([3, 7, 300], nodata=0)
    c = _contract("codes", input_scale(table.dtype), 1)
    codes = np.array([[3, 7, 300, 0, 5]], np.uint16).reshape(1, 1, 5)
    x = table.normalize(codes[None])  # 5 (unknown) and 0 (nodata): all -1
    back = CodesIn(table, c.input_scale)(torch.from_numpy(graph_input(x, table, c))).numpy()
    assert np.array_equal(back, x) and (back[0, :, 0, 3:] == -1).all()


def test_a_palette_layout_comes_back_to_its_classes() -> None:
    colors = np.array([[241, 241, 241], [248, 249, 250], [255, 255, 255], [168, 216, 252]], np.float32)
    table = ClassTable.from_palette(("background", "roads", "water"), colors, np.array([0, 0, 1, 2]))
    c = _contract("palette", 255.0, 3)
    rgb = np.random.default_rng(1).integers(150, 256, (1, 3, 6, 6)).astype(np.uint8)
    x = table.normalize(rgb)
    graph = torch.from_numpy(graph_input(x, table, c))
    assert np.array_equal(PaletteIn(table)(graph).numpy(), x)
    assert np.array_equal(PaletteIn(table)(torch.from_numpy(rgb / np.float32(255))).numpy(), x)


def test_outputs_map_back_to_the_normalised_units() -> None:
    probs = np.array([0.0, 0.25, 1.0], np.float32)
    c = _contract("values", 255.0, 1, out="probabilities")
    assert np.allclose(normalised_output(probs, ClassTable.build([1]), c), [-1.0, -0.5, 1.0])
    dem = BandStats("float32", (1000.0,), (3000.0,), "robust")
    metres = np.array([[[1000.0, 2000.0, 3000.0]]], np.float32)
    assert np.allclose(normalised_output(metres, dem, _contract("values", 1.0, 1)), [[[-1.0, 0.0, 1.0]]])


def test_a_newer_contract_is_refused() -> None:
    from geo_pix2pix.tiles.errors import ModelFileError

    with pytest.raises(ModelFileError, match="newer geopix"):
        Contract.from_dict({**_contract("values", 1.0, 1).to_dict(), "version": 99})
