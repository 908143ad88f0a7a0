"""Shared fixtures: tiny GeoTIFFs written into ``tmp_path``, the real samples, a CLI runner."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
EXAMPLES = REPO / "examples" / "data"


def real(path: str) -> Path:
    """A real raster from ../shared/data (fails loudly if the shared data is missing)."""
    p = SHARED / path
    if not p.exists():
        pytest.fail(f"shared data missing: {p}")
    return p


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: str | None = "EPSG:32618",
    transform: Affine | None = None,
    nodata: float | None = None,
    **extra: Any,
) -> Path:
    """Write ``(bands, h, w)`` data as a GeoTIFF with a known CRS and transform."""
    if data.ndim == 2:
        data = data[None]
    transform = transform or Affine(10.0, 0, 500_000.0, 0, -10.0, 4_200_000.0)
    if data.shape[0] == 4 and "alpha" not in extra and "photometric" not in extra:
        # GDAL would mark band 4 of a uint8 GTiff as alpha; multispectral RGBN rasters are not.
        extra["photometric"] = "MINISBLACK"
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype.name, transform=transform, **extra)
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def smooth_image(h: int, w: int, bands: int = 3, seed: int = 0, dtype: str = "uint8") -> np.ndarray:
    """A textured but smooth test image (sums of sinusoids), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((bands, h, w), np.float32)
    for b in range(bands):
        for _ in range(3):
            fy, fx, ph = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6.28)
            out[b] += np.sin(yy * fy + xx * fx + ph)
    out = (out - out.min()) / (out.max() - out.min() + 1e-6)
    if dtype == "uint8":
        return (out * 255).astype(np.uint8)
    if dtype == "uint16":
        return (out * 4000 + 100).astype(np.uint16)
    return out.astype(dtype)


@pytest.fixture
def make_raster(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_raster("a.tif", data, crs=..., transform=..., nodata=...)``."""

    def make(name: str, data: np.ndarray, **kw: Any) -> Path:
        return write_raster(tmp_path / name, data, **kw)

    return make


@pytest.fixture
def pair_paths(tmp_path: Path) -> tuple[Path, Path]:
    """A 256x320 3-band imagery raster and a 3-band map on the same grid (EPSG:32618, 10 m)."""
    img = smooth_image(256, 320, 3, seed=1)
    mp = (255 - img) // 2
    return (
        write_raster(tmp_path / "sat.tif", img),
        write_raster(tmp_path / "map.tif", mp.astype(np.uint8)),
    )


@dataclass(frozen=True)
class CliResult:
    """Exit code and captured output of one ``geopix`` invocation."""

    code: int
    out: str
    err: str


@pytest.fixture
def geopix(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``geopix ARGS`` in-process through its real entry point (error mapping included)."""
    from geo_pix2pix.cli.main import main

    def run(*args: Any) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def same_model(a: Path, b: Path) -> bool:
    """Whether the model files of runs ``a`` and ``b`` hold the same tensors, bit for bit (what an
    exact resume must give). The two must be the same network (the same tensor names): otherwise
    this fails the test rather than answer False, so ``not same_model`` means "other weights"."""
    from safetensors.numpy import load_file

    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys(), sorted(set(wa) ^ set(wb))
    return all(np.array_equal(wa[k], wb[k]) for k in wa)


def train_resumed(geopix: Callable[..., CliResult], args: list[Any], out: Path, stop_at: int) -> Path:
    """``geopix train ARGS --out OUT`` stopped after ``stop_at`` steps, then ``--resume`` d to its
    end: the run an exact resume must make equal to a straight one (:func:`same_model`)."""
    r = geopix("-q", "train", *args, "--out", out, "--stop-at", stop_at)
    assert r.code == 0 and f"trained to step {stop_at}" in r.out, r.err
    r = geopix("-q", "train", "--resume", out)
    assert r.code == 0, r.err
    return out


@pytest.fixture
def small_disk(tmp_path: Path):
    """Factory: ``small_disk(size="1m", readonly=False)`` mounts a tmpfs and returns its path.

    Needs root (CI runs as root); elsewhere the test is skipped, except in CI where it fails.
    """
    import os
    import subprocess

    mounted: list[Path] = []

    def make(size: str = "1m", readonly: bool = False) -> Path:
        d = tmp_path / f"disk{len(mounted)}"
        d.mkdir()
        opts = f"size={size}" + (",ro" if readonly else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True, text=True)
        if r.returncode != 0:
            if os.environ.get("CI"):
                pytest.fail(f"cannot mount a tmpfs in CI: {r.stderr.strip()}")
            pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
        mounted.append(d)
        return d

    yield make
    import subprocess as sp

    for d in mounted:
        sp.run(["umount", "-l", str(d)], capture_output=True)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256 (to prove inputs untouched, nothing stray)."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained 3-band sat2map model (tile 64) for translate tests."""
    from geo_pix2pix.tiles.pairs.pair import PairSpec
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.loop import fit

    d = tmp_path_factory.mktemp("tiny_model")
    img = smooth_image(160, 160, 3, seed=21)
    sat = write_raster(d / "sat.tif", img)
    mp = write_raster(d / "map.tif", (255 - img).astype(np.uint8))
    cfg = TrainConfig(pairs=(PairSpec(str(sat), str(mp)),), out=str(d / "run"), tile=64, ngf=8, ndf=8,
                      steps=2, val_fraction=0.0, workers=0, device="cpu")
    return fit(cfg, progress=False).run_dir
