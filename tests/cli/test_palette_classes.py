"""Rendered maps as classes: --classes-from-palette in training, --palette in translate."""

from __future__ import annotations

import json

import numpy as np
import rasterio

from tests.conftest import EXAMPLES, REPO

PALETTE = REPO / "examples" / "palettes" / "google_maps_pix2pix.json"


def _palette_first_colours() -> dict[int, tuple[int, ...]]:
    classes = json.loads(PALETTE.read_text())["classes"]
    return {i + 1: (*(int(v) for v in c["colors"][0]), 255) for i, c in enumerate(classes)}


def test_a_rendered_map_learnt_as_classes_writes_codes_with_the_palette(tmp_path, geopix) -> None:
    run = tmp_path / "run"
    r = geopix("train", "--aligned-dir", EXAMPLES / "maps256", "--val-pairs", "8", "--classes-from-palette", PALETTE,
               "--out", run, "--tile-size", "64", "--ngf", "8", "--ndf", "8", "--steps", "3", "--batch-size", "2",
               "--device", "cpu")
    assert r.code == 0, r.err
    from geo_pix2pix.files.modelfile import read_meta

    meta = read_meta(run)
    assert meta.map_kind == "categorical" and meta.output_stats.codes == (1, 2, 3, 4, 5, 6)
    assert meta.output_stats.names[2] == "roads" and meta.generator.out_channels == 6
    r = geopix("evaluate", "--model", run, "--aligned-dir", EXAMPLES / "maps256", "--json")
    assert r.code == 0, r.err
    assert set(json.loads(r.out)["class_iou"]) == {"background", "buildings", "roads", "parks", "water", "highways"}
    out = tmp_path / "charlotte_classes.tif"
    assert geopix("-q", "translate", EXAMPLES / "charlotte_sat.tif", out, "--model", run).code == 0
    with rasterio.open(out) as o:
        assert o.count == 1 and o.dtypes[0] == "uint8"
        assert set(np.unique(o.read(1)).tolist()) <= set(range(1, 7))
        cmap = o.colormap(1)
        assert all(cmap[c] == col for c, col in _palette_first_colours().items())


def test_translate_palette_turns_an_rgb_model_into_classes(tmp_path, geopix, tiny_model) -> None:
    rgb, cls = tmp_path / "rgb.tif", tmp_path / "classes.tif"
    region = EXAMPLES / "charlotte_sat.tif"
    assert geopix("-q", "translate", region, rgb, "--model", tiny_model).code == 0
    r = geopix("-q", "translate", region, cls, "--model", tiny_model, "--palette", PALETTE)
    assert r.code == 0, r.err
    from geo_pix2pix.evaluation.palette import load_palette

    pal = load_palette(PALETTE)
    with rasterio.open(rgb) as a, rasterio.open(cls) as b:
        expected = pal.classify(a.read()) + 1  # the same RGB map, classified by nearest colour
        np.testing.assert_array_equal(b.read(1), expected)
        assert b.colormap(1)[3] == _palette_first_colours()[3]
    from geo_pix2pix.tiles.encoding.categories import read_categories

    assert read_categories(cls) == {i + 1: name for i, name in enumerate(pal.classes)}  # named for QGIS (issue 30)
    r = geopix("translate", region, tmp_path / "x.tif", "--model", tiny_model, "--palette", PALETTE,
               "--output-dtype", "uint16")
    assert r.code == 1 and "--output-dtype does not apply" in r.err
