"""Tiny trained models of every exportable family and map kind, and a region for each.

Each case is a few training steps (the weights only have to be a model's, not a good one: parity
compares two engines running the same weights), trained once per session through ``geopix train``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.conftest import smooth_image, write_raster

#: Colours of the tiny RGB maps (and of their palette): background, road, water.
COLOURS = {"background": (240, 240, 236), "roads": (255, 255, 255), "water": (168, 216, 252)}
SMALL = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--batch-size", "2", "--val-fraction", "0",
         "--val-every", "100000", "--device", "cpu", "--no-amp", "--workers", "0"]
HD = ["--family", "pix2pixhd", "--n-downsample", "2", "--n-blocks", "1", "--n-local-enhancers", "1",
      "--n-blocks-local", "1", "--num-d", "1", "--d-layers", "2"]
SPADE = ["--family", "spade", "--direction", "map2sat", "--n-up", "2", "--spade-hidden", "8", "--num-d", "1",
         "--d-layers", "2"]


@dataclass(frozen=True)
class Case:
    """A trained run, the region it translates, and what kind of output it writes."""

    name: str
    run: Path
    region: Path
    output: str  # rgb | classes | values | imagery16


def _codes(img: np.ndarray) -> np.ndarray:
    """Three classes (10, 20, 30) by brightness; nodata 0 in a corner."""
    codes = np.where(img[0] < 90, 10, np.where(img[0] < 170, 20, 30)).astype(np.uint8)
    codes[:12, :12] = 0
    return codes


def _write_classes(path: Path, codes: np.ndarray) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8",
                       crs="EPSG:32618", transform=from_origin(500_000, 4_200_000, 10, 10), nodata=0) as dst:
        dst.write(codes[None])
        dst.write_colormap(1, {0: (0, 0, 0, 0), 10: (0, 90, 255, 255), 20: (40, 160, 40, 255), 30: (230, 230, 0, 255)})
    return path


def _rgb_map(img: np.ndarray) -> np.ndarray:
    """A rendered map in :data:`COLOURS` by brightness."""
    cols = np.asarray(list(COLOURS.values()), np.uint8)
    idx = np.where(img[1] < 80, 2, np.where(img[1] > 180, 1, 0))
    return np.moveaxis(cols[idx], -1, 0)


def _palette(path: Path) -> Path:
    path.write_text(json.dumps({"name": "tiny", "classes": [{"name": n, "colors": [list(c)]}
                                                            for n, c in COLOURS.items()]}))
    return path


def _data(d: Path) -> dict[str, Path]:
    """The rasters every case trains and translates on (96 x 96, EPSG:32618, 10 m)."""
    img = smooth_image(96, 96, 3, seed=5)
    pan = (smooth_image(96, 96, 1, seed=6, dtype="uint16") * 3)
    dem = (1500.0 + 4.0 * img[0].astype(np.float32))[None]
    dem[:, :10, :10] = -9999
    other = smooth_image(80, 112, 3, seed=9)  # translate on a region the model was not trained on
    paths = {"sat": write_raster(d / "sat.tif", img), "rgbmap": write_raster(d / "rgbmap.tif", _rgb_map(img)),
             "classes": _write_classes(d / "classes.tif", _codes(img)), "pan": write_raster(d / "pan.tif", pan),
             "dem": write_raster(d / "dem.tif", dem, nodata=-9999), "palette": _palette(d / "palette.json"),
             "region": write_raster(d / "region.tif", other),
             "region_pan": write_raster(d / "region_pan.tif", smooth_image(80, 112, 1, seed=8, dtype="uint16") * 3),
             "region_classes": _write_classes(d / "region_classes.tif", _codes(other)),
             "region_rgbmap": write_raster(d / "region_rgbmap.tif", _rgb_map(other))}
    return paths


def _recipes(p: dict[str, Path]) -> dict[str, tuple[list[object], str, str]]:
    """case -> (geopix train arguments, region key, output kind)."""
    sat = ["--imagery", p["sat"]]
    return {
        "unet_rgb": ([*sat, "--maps", p["rgbmap"]], "region", "rgb"),
        "unet_classes": ([*sat, "--maps", p["classes"]], "region", "classes"),
        "unet_values": ([*sat, "--maps", p["dem"]], "region", "values"),
        "unet_palette_head": ([*sat, "--maps", p["rgbmap"], "--palette-head", p["palette"]], "region", "rgb"),
        "smp_rgb": ([*sat, "--maps", p["rgbmap"], "--generator", "smp:mobilenet_v2"], "region", "rgb"),
        "uint16_classes": (["--imagery", p["pan"], "--maps", p["classes"]], "region_pan", "classes"),
        "hd_rgb": ([*sat, "--maps", p["rgbmap"], *HD], "region", "rgb"),
        "hd_classes": ([*sat, "--maps", p["classes"], *HD], "region", "classes"),
        "spade_codes": (["--imagery", p["pan"], "--maps", p["classes"], *SPADE], "region_classes", "imagery16"),
        "spade_style": (["--imagery", p["pan"], "--maps", p["classes"], *SPADE, "--style-encoder", "--style-dim", "4"],
                        "region_classes", "imagery16"),
        "spade_palette": ([*sat, "--maps", p["rgbmap"], "--classes-from-palette", p["palette"], *SPADE],
                          "region_rgbmap", "rgb"),
    }


@pytest.fixture(scope="session")
def export_case(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Case]:
    """Factory: ``export_case(name)`` trains the case once per session and returns it."""
    from geo_pix2pix.cli.main import main

    root = tmp_path_factory.mktemp("export_cases")
    data = _data(root)
    recipes = _recipes(data)
    done: dict[str, Case] = {}

    def make(name: str) -> Case:
        if name not in done:
            args, region, kind = recipes[name]
            run = root / name
            try:
                main(["-q", "train", *map(str, args), "--out", str(run), "--steps", "3", *SMALL])
            except SystemExit as exc:
                assert exc.code in (0, None), f"training {name} failed"
            done[name] = Case(name, run, data[region], kind)
        return done[name]

    return make


#: Every case; the slow ones repeat a path another case covers (an smp encoder's export alone takes ~40 s here).
CASES = ("unet_rgb", "unet_classes", "unet_values", "unet_palette_head", "uint16_classes", "hd_classes", "spade_style",
         "spade_palette", *(pytest.param(n, marks=pytest.mark.slow) for n in ("smp_rgb", "hd_rgb", "spade_codes")))
