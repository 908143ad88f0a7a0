"""Palette class metrics on hand-made images with known IoU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo_pix2pix.evaluation.palette import ClassAccumulator, load_palette
from geo_pix2pix.tiles.errors import GeopixError
from tests.conftest import EXAMPLES


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


PALETTES = EXAMPLES.parent / "palettes"


def _rgb(*colors: tuple[int, int, int]) -> np.ndarray:
    return np.array(colors, np.float32).T[:, None, :]  # (3, 1, N)


def test_shipped_palettes_load_and_bad_palettes_are_refused(tmp_path) -> None:
    for name in ("google_maps_pix2pix.json", "google_maps_sat2maps.json"):
        pal = load_palette(PALETTES / name)
        assert pal.classes == ("background", "buildings", "roads", "parks", "water", "highways")
        assert pal.classify(_rgb((255, 255, 255))).item() == 2
    (tmp_path / "bad.json").write_text('{"classes": [{"name": "x", "colors": [[1, 2]]}]}')
    with pytest.raises(GeopixError, match="not a valid palette"):
        load_palette(tmp_path / "bad.json")


def _style_pixels(style: str) -> np.ndarray:
    """(P, 3) map pixels of one real Google style: the pix2pix maps (beige) or sat2maps (grey)."""
    import rasterio
    from PIL import Image

    from tests.conftest import real

    if style == "pix2pix":
        imgs = [np.asarray(Image.open(real(f"maps256/{n}.png")))[:, 256:] for n in (1, 10, 100, 1000)]
        return np.concatenate([i.reshape(-1, 3) for i in imgs]).astype(np.float32)
    with rasterio.open(real("google_sat2maps/000008_Charlotte_map.tif")) as src:
        return src.read([1, 2, 3]).reshape(3, -1).T.astype(np.float32)


@pytest.mark.parametrize("style", ["pix2pix", "sat2maps"])
def test_each_palette_covers_its_own_map_style(style: str) -> None:
    """Almost every pixel of a real map of the style lies near one of its palette's colours, and
    every class's shades occur: the palette describes the style, not a blend of two."""
    pal = load_palette(PALETTES / f"google_maps_{style}.json")
    px = _style_pixels(style)
    d = np.sqrt(((px[:, None, :] - pal.colors[None]) ** 2).sum(-1))
    assert (d.min(1) <= 16).mean() > 0.97
    classes = pal.color_class[d.argmin(1)]
    for k in (0, 1, 2):  # background, buildings, roads are on every map of these samples
        assert (classes == k).mean() > 0.005, pal.classes[k]


def test_the_two_styles_swap_shades_so_each_needs_its_own_palette() -> None:
    """The beige style's buildings shade is the grey style's background and its background near
    the grey style's buildings: classified with the wrong style's palette, a map's own classes flip.
    Anti-aliased road edges (a near-white shade) are roads in the beige style."""
    old = load_palette(PALETTES / "google_maps_pix2pix.json")
    new = load_palette(PALETTES / "google_maps_sat2maps.json")
    beige = _rgb((232, 229, 222), (243, 240, 233), (250, 250, 248), (230, 230, 222))
    assert old.classify(beige).ravel().tolist() == [0, 1, 2, 0]
    grey = _rgb((248, 249, 250), (241, 241, 241), (233, 233, 233))
    assert new.classify(grey).ravel().tolist() == [0, 0, 1]
    assert new.classify(_rgb((243, 240, 233))).item() == 0  # beige buildings read as grey background
    assert new.classify(_rgb((230, 230, 222))).item() == 1  # beige background read as grey buildings
