"""Palette class metrics on hand-made images with known IoU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo_pix2pix.palette import ClassAccumulator, load_palette
from geo_pix2pix.tiles.errors import GeopixError

from ..conftest import EXAMPLES


def _palette(tmp_path):
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"name": "t", "classes": [
        {"name": "background", "colors": [[230, 230, 220], [245, 245, 245]]},
        {"name": "roads", "colors": [[255, 255, 255]]},
        {"name": "water", "colors": [[170, 210, 250]]}]}))
    return load_palette(p)


def _img(classes: np.ndarray) -> np.ndarray:
    colours = np.array([[230, 230, 220], [255, 255, 255], [170, 210, 250]])
    return colours[classes].transpose(2, 0, 1)[None].astype(np.float32)


def test_known_iou(tmp_path) -> None:
    pal = _palette(tmp_path)
    ref = np.zeros((4, 4), int)
    ref[:, 0] = 1  # a road column (4 px)
    pred = np.zeros((4, 4), int)
    pred[:, 0] = 1
    pred[:, 1] = 1  # road predicted twice as wide: TP 4, FP 4 -> IoU 0.5
    pred[0, 3] = 2  # one water pixel where there is none
    acc = ClassAccumulator(pal)
    acc.add(_img(pred) + 3, _img(ref), np.ones((1, 1, 4, 4), bool))  # +3: shades near the palette colour
    iou = acc.iou()
    assert iou["roads"] == pytest.approx(0.5)
    assert iou["background"] == pytest.approx(7 / 12)  # TP 7, FP 0, FN 5
    assert iou["water"] == 0.0
    assert acc.miou() == pytest.approx((0.5 + 7 / 12 + 0.0) / 3)
    # Invalid pixels do not count.
    acc2 = ClassAccumulator(pal)
    valid = np.ones((1, 1, 4, 4), bool)
    valid[..., 1] = False
    acc2.add(_img(pred), _img(ref), valid)
    assert acc2.iou()["roads"] == 1.0


def test_shipped_palette_loads_and_bad_palettes_are_refused(tmp_path) -> None:
    pal = load_palette(EXAMPLES.parent / "google_maps_palette.json")
    assert pal.classes == ("background", "buildings", "roads", "parks", "water", "highways")
    assert pal.classify(np.array([[[255]], [[255]], [[255]]])).item() == 2
    (tmp_path / "bad.json").write_text('{"classes": [{"name": "x", "colors": [[1, 2]]}]}')
    with pytest.raises(GeopixError, match="not a valid palette"):
        load_palette(tmp_path / "bad.json")
