"""Peak memory and time of a translation against the raster's width and height (issue 29 section 2).

Trains a CPU-recipe model for a few steps (its weights do not matter, its architecture does: the
activations of a batch of tiles are most of a translation's memory), then translates rasters of
real imagery (the bundled Charlotte and Houston images, mirrored into a seamless block and repeated;
tiled 512 x 512, DEFLATE, as large rasters usually are) of

* 1024 rows and 2048, 8192, 32768, 131072 columns, and
* 2048 columns and 1024, 4096, 16384 rows,

each in a fresh process, and prints the time and the peak RSS (the process's own ``VmHWM``) of
each, as ratios to the 2048 x 1024 run. ``--no-overviews`` also translates the widths again with
``--co OVERVIEWS=NONE``: what the overviews cost. ``--base REV`` runs the same with the code of an
earlier revision (extracted with ``git archive``, as ``bench/parity.py`` does) for comparison.

    .venv/bin/python bench/stream_memory.py [--widths 2048,8192,32768,131072] [--heights 1024,4096,16384]
        [--no-overviews 32768,131072] [--base 3e53b04] [--keep DIR]

Times depend on what else runs on the machine; peak RSS does not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
sys.path.insert(0, str(REPO / "bench"))

RUN_ONE = r"""
import json, sys, time
from geo_pix2pix.inference.translate import TranslateConfig, translate
options = tuple(tuple(kv.split("=", 1)) for kv in sys.argv[4:])
t, c = time.perf_counter(), time.process_time()
res, _ = translate(sys.argv[1], sys.argv[2], TranslateConfig(model=sys.argv[3], device="cpu", overwrite=True,
                   creation_options=options))
seconds, cpu = time.perf_counter() - t, time.process_time() - c
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
import rasterio
with rasterio.open(sys.argv[2]) as o:
    levels = len(o.overviews(1))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "tiles": res.tiles, "max_rss_mb": hwm / 1024,
                  "levels": levels}))
"""


def make_raster(path: Path, height: int, width: int) -> Path:
    """``height x width`` RGB GeoTIFF of real imagery, tiled 512, DEFLATE, written 1024 x 8192 at a time."""
    with rasterio.open(DATA / "charlotte_sat.tif") as a, rasterio.open(DATA / "houston_sat.tif") as b:
        base = np.concatenate([a.read(), b.read()[:, :, ::-1]], axis=2)  # (3, 512, 1024)
        crs, tr = a.crs, a.transform
    block = np.concatenate([base, base[:, ::-1]], axis=1)  # (3, 1024, 1024), seamless mirror
    block = np.concatenate([block, block[:, :, ::-1]], axis=2)  # (3, 1024, 2048)
    tile = np.tile(block, (1, 1, 4))  # (3, 1024, 8192)
    profile = dict(driver="GTiff", width=width, height=height, count=3, dtype="uint8", crs=crs,
                   transform=Affine(tr.a, 0, tr.c, 0, tr.e, tr.f), tiled=True, blockxsize=512,
                   blockysize=512, compress="deflate", zlevel=1, bigtiff="if_safer")
    with rasterio.open(path, "w", **profile) as dst:
        for r in range(0, height, 1024):
            for c in range(0, width, 8192):
                h, w = min(1024, height - r), min(8192, width - c)
                dst.write(tile[:, :h, :w], window=Window(c, r, w, h))
    return path


def train_model(work: Path) -> Path:
    """A CPU-recipe Pix2Pix model (2 steps: only its architecture matters here)."""
    run = work / "model"
    code = "import sys; from geo_pix2pix.cli.main import main; sys.argv[0] = 'geopix'; main()"
    subprocess.run([sys.executable, "-c", code, "-q", "train", "--imagery", str(DATA / "houston_sat.tif"),
                    "--maps", str(DATA / "houston_map.tif"), "--recipe", "cpu", "--steps", "2", "--device", "cpu",
                    "--val-fraction", "0", "--out", str(run), "--overwrite"], check=True, cwd=work)
    return run


def translate(src: Path, out: Path, model: Path, pythonpath: Path | None, options: list[str]) -> dict:
    """One translation in a fresh process (outside the repository, so ``pythonpath``'s code runs)."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    r = subprocess.run([sys.executable, "-c", RUN_ONE, str(src), str(out), str(model), *options],
                       capture_output=True, text=True, env=env, cwd=out.parent)
    if r.returncode != 0:
        raise SystemExit(f"translate {src.name} failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="2048,8192,32768,131072")
    ap.add_argument("--heights", default="1024,4096,16384")
    ap.add_argument("--no-overviews", default="32768,131072", help="widths also translated without overviews")
    ap.add_argument("--base", default=None, help="also run the code of this git revision")
    ap.add_argument("--keep", default=None, help="keep the rasters and outputs in this folder")
    a = ap.parse_args()
    widths = [int(w) for w in a.widths.split(",") if w]
    heights = [int(h) for h in a.heights.split(",") if h]
    bare = [int(w) for w in a.no_overviews.split(",") if w]
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="geopix-stream-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        trees: list[tuple[str, Path | None]] = [("today", None)]
        if a.base:
            from parity import extract

            (work / "base").mkdir(exist_ok=True)
            trees.append((a.base, extract(a.base, work / "base")))
        model = train_model(work)
        cases = [(1024, w, []) for w in widths] + [(h, 2048, []) for h in heights if h != 1024]
        cases += [(1024, w, ["OVERVIEWS=NONE"]) for w in bare]
        rows = []
        for h, w, options in cases:
            src = work / f"in_{h}x{w}.tif"
            if not src.exists():
                make_raster(src, h, w)
            for name, path in trees:
                res = translate(src, work / f"out_{name}_{h}x{w}.tif", model, path, options)
                rows.append((name, h, w, " ".join(options), res))
                print(f"{name:>8} {h:>6} x {w:<7} {' '.join(options):<15} {res['seconds']:7.1f} s "
                      f"{res['max_rss_mb']:7.0f} MiB  {res['tiles']} tiles, {res['levels']} overview levels",
                      flush=True)
        print("\nratios to the 2048 x 1024 run of the same code (time, peak RSS):")
        for name, _ in trees:
            ref = next(r for n, h, w, o, r in rows if n == name and (h, w, o) == (1024, 2048, ""))
            for n, h, w, o, r in rows:
                if n == name:
                    print(f"{name:>8} {h:>6} x {w:<7} {o:<15} time {r['seconds'] / ref['seconds']:6.2f}  "
                          f"RSS {r['max_rss_mb'] / ref['max_rss_mb']:5.2f}  "
                          f"(pixels {h * w / (1024 * 2048):5.0f}x)")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
