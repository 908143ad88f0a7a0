"""How far real regions' band means lie from a training input's: the threshold of translate's warning.

For each training input (the imagery, and the map for map -> imagery models) of real pairs in
``../shared/data``, the statistics a model file stores (``compute_stats`` over a decimated read of
the whole raster) are compared with other rasters through
:func:`geo_pix2pix.tiles.encoding.normalize.content_shift`, as ``geopix translate`` does: rasters of the same
kind (another city, other maps256 tiles) and of the other kind (the other side of the pair).
translate warns above :data:`geo_pix2pix.inference.translate.CONTENT_SHIFT_WARN`.

    .venv/bin/python bench/content_shift.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio

from geo_pix2pix.inference.translate import CONTENT_SHIFT_WARN
from geo_pix2pix.tiles.encoding.normalize import compute_stats, content_shift
from geo_pix2pix.tiles.pairs.aligned import aligned_specs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_recipe import DATA, load_images  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GOOGLE = SHARED / "google_sat2maps"


def raster(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    with rasterio.open(path) as src:
        shape = (min(src.height, 512), min(src.width, 512))
        data = src.read([1, 2, 3], out_shape=(3, *shape))
        return data, src.dataset_mask(out_shape=shape) > 0, src.dtypes[0]


def main() -> None:
    hou_sat, hou_map = raster(GOOGLE / "000002_Houston_sat.tif"), raster(GOOGLE / "000002_Houston_map.tif")
    cha_sat, cha_map = raster(GOOGLE / "000008_Charlotte_sat.tif"), raster(GOOGLE / "000008_Charlotte_map.tif")
    sats, maps = (np.rint((x + 1) * 127.5).astype(np.uint8) for x in load_images(aligned_specs(DATA, "AB")[:40]))
    train = slice(0, 32)
    m256 = {side: compute_stats(np.concatenate(list(x[train]), axis=2), np.ones((256, 256 * 32), bool), "uint8")
            for side, x in (("sat", sats), ("map", maps))}
    rows = []
    for name, (data, valid, dtype), same, other in (
        ("Google sat (Houston)", hou_sat, [("Charlotte sat", cha_sat)],
         [("Houston map", hou_map), ("Charlotte map", cha_map)]),
        ("Google map (Houston)", hou_map, [("Charlotte map", cha_map)],
         [("Houston sat", hou_sat), ("Charlotte sat", cha_sat)]),
    ):
        stats = compute_stats(data, valid, dtype)
        for label, (d, v, _) in same:
            rows.append((name, label, "same kind", content_shift(stats, d, v)))
        for label, (d, v, _) in other:
            rows.append((name, label, "other side", content_shift(stats, d, v)))
    ones = np.ones((256, 256), bool)
    for side, other in (("sat", "map"), ("map", "sat")):
        held = {"sat": sats, "map": maps}
        same_shifts = [content_shift(m256[side], x, ones) for x in held[side][32:40]]
        other_shifts = [content_shift(m256[side], x, ones) for x in held[other][32:40]]
        rows.append((f"maps256 {side} (32 tiles)", f"8 held-out {side} tiles, max", "same kind", max(same_shifts)))
        rows.append((f"maps256 {side} (32 tiles)", f"8 held-out {other} tiles, min", "other side", min(other_shifts)))
        cross = "Charlotte sat" if side == "sat" else "Charlotte map"
        d, v, _ = cha_sat if side == "sat" else cha_map
        rows.append((f"maps256 {side} (32 tiles)", f"Google {cross}", "same kind, other source",
                     content_shift(m256[side], d, v)))
    print(f"{'training input':26} {'region':32} {'relation':24} shift (training std)")
    for name, label, rel, shift in rows:
        flag = "  -> warned" if shift > CONTENT_SHIFT_WARN else ""
        print(f"{name:26} {label:32} {rel:24} {shift:6.2f}{flag}")
    print(f"translate warns above {CONTENT_SHIFT_WARN:g}")


if __name__ == "__main__":
    main()
