"""Writing chip pairs as small georeferenced GeoTIFFs plus an ``index.gpkg`` of footprints.

Training chips are the grid windows (with the requested overlap) that the spatial split allows;
validation chips are the split's validation windows; windows in the one-tile gap between them
are not written. Each chip keeps the source dtype, CRS and its own window transform, so it
drops onto the source raster in QGIS; invalid pixels are carried as an internal mask.

The whole output directory is first written beside the target and renamed into place at the
end, so an interrupted run never leaves a half-written chip set under the requested name.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from geo_pix2pix.tiles.atomic import mkdtemp_beside
from geo_pix2pix.tiles.errors import NoValidDataError, OutputExistsError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow, grid_windows
from geo_pix2pix.tiles.pairs.pair import PairSpec, RasterPair
from geo_pix2pix.tiles.pairs.prepare import TilerConfig, choose_split

__all__ = ["ChipSummary", "write_chips"]


@dataclass(frozen=True)
class ChipSummary:
    """Counts of what :func:`write_chips` wrote and skipped."""

    train: int
    val: int
    skipped_invalid: int
    skipped_gap: int
    index_path: Path


def _write_chip(path: Path, data: np.ndarray, valid: np.ndarray, src: Any, transform: Any, crs: Any) -> None:
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "compress": "deflate",
    }
    if src.nodata is not None:
        profile["nodata"] = src.nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if src.nodata is None and not valid.all():
            dst.write_mask(valid.astype(np.uint8) * 255)


def write_chips(
    spec: PairSpec, config: TilerConfig, out_dir: Path, overlap: int = 0, overwrite: bool = False
) -> ChipSummary:
    """Cut ``spec`` into chip pairs under ``out_dir`` (``imagery/``, ``maps/``, ``index.gpkg``).

    Raises:
        OutputExistsError: if ``out_dir`` exists and is not empty, without ``overwrite``.
        NoValidDataError: if no window has ``config.min_valid`` valid pixels.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise OutputExistsError(f"output directory {out_dir} is not empty; pass --overwrite to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = mkdtemp_beside(out_dir)
    try:
        (tmp / "imagery").mkdir()
        (tmp / "maps").mkdir()
        with RasterPair(spec) as pair:
            pair.require_tile(config.tile)
            jobs, skipped_gap = _chip_windows(pair, config, overlap)
            rows = [row for kind, win in jobs if (row := _write_chip_pair(pair, kind, win, config, tmp)) is not None]
            crs = pair.crs
        if not rows:
            raise NoValidDataError(
                f"no {config.tile}-pixel window has {config.min_valid:.0%} valid pixels; "
                "lower --min-valid or --tile-size"
            )
        _write_index(rows, crs, tmp / "index.gpkg")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n_train = sum(r["split"] == "train" for r in rows)
    return ChipSummary(n_train, len(rows) - n_train, len(jobs) - len(rows), skipped_gap, out_dir / "index.gpkg")


def _chip_windows(pair: RasterPair, config: TilerConfig, overlap: int) -> tuple[list[tuple[str, PixelWindow]], int]:
    """The split's validation windows, then the grid windows (with ``overlap``) the split lets
    training use; and how many grid windows fell in the gap between the two."""
    h, w, t = pair.region.height, pair.region.width, config.tile
    split = choose_split(pair, config)
    jobs: list[tuple[str, PixelWindow]] = [("val", v) for v in split.val_windows]
    skipped_gap = 0
    for win in grid_windows(h, w, t, overlap):
        if split.allows_training(np.array([win.row]), np.array([win.col]))[0]:
            jobs.append(("train", win))
        else:
            skipped_gap += 1
    return jobs, skipped_gap


def _write_chip_pair(pair: RasterPair, kind: str, win: PixelWindow, config: TilerConfig, tmp: Path
                     ) -> dict[str, Any] | None:
    """Write one window's imagery and map chips; its index row, or None if it has too few valid pixels."""
    import shapely

    s = pair.read(win)
    frac = float(s.valid.mean())
    if frac < config.min_valid:
        return None
    name = f"{kind}_r{win.row:06d}_c{win.col:06d}.tif"
    tr = pair.window_transform(win)
    _write_chip(tmp / "imagery" / name, s.imagery, s.valid, pair.imagery, tr, pair.crs)
    _write_chip(tmp / "maps" / name, s.maps, s.valid, pair.maps, tr, pair.crs)
    x0, y0 = tr @ (0, 0)
    x1, y1 = tr @ (win.width, win.height)
    return {"split": kind, "valid_fraction": round(frac, 4), "row": win.row, "col": win.col,
            "imagery": f"imagery/{name}", "map": f"maps/{name}",
            "geometry": shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))}


def _write_index(rows: list[dict[str, Any]], crs: Any, path: Path) -> None:
    """The chips' footprints and attributes as the GeoPackage layer ``chips``."""
    import geopandas as gpd

    gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).to_file(path, layer="chips", driver="GPKG")
