"""ONNX Runtime against torch on this CPU, in one run: translate throughput, parity, export cost.

1. The CPU's flags (avx2, avx512f, avx512_vnni, avx512_bf16, amx) and versions: torch runs bf16
   autocast only where the CPU has native bf16 (AVX512-BF16 or AMX), float32 elsewhere.
2. Throughput, for two U-Nets (the CPU recipe's, ngf 32 trained on 64-pixel tiles and translated
   at 256; the paper's, ngf 64 at 256): every engine on the same tiles of a real-imagery raster
   (the generator alone, the mosaicker's batches, median of ``--repeats``) and end to end through
   ``translate``, with each output's difference to torch float32 in grey levels:
   torch float32, torch bf16 autocast, ONNX Runtime float32 and ONNX Runtime int8 (static QDQ
   quantisation, per-channel weights, calibrated on the raster's own tiles). ONNX Runtime's CPU
   provider has no bf16 or fp16 convolutions on x86, so those are not offered.
3. Export: seconds and file size of ``geopix export`` per family (untrained networks of each
   recipe: the cost depends on the architecture, not the weights).

Models are made here: short runs on the bundled Houston pair (the weights only matter for the
int8 parity, which a short run shows as well as a long one: the activations' ranges are what
quantisation cuts). Timings on a shared machine are noisy; the ratios in one run are what counts.

    .venv/bin/python bench/onnx_throughput.py [--size 2048] [--repeats 3] [--skip-export] [--skip-paper]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
sys.path.insert(0, str(REPO / "bench"))

from translate_throughput import make_raster  # noqa: E402

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags() -> dict[str, bool]:
    """The flags of /proc/cpuinfo that decide the engines' kernels."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    have = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    return {f: f in have for f in FLAGS}


def train(run: Path, recipe: list[str]) -> Path:
    from geo_pix2pix.cli.main import main

    try:
        main(["-q", "train", "--imagery", str(DATA / "houston_sat.tif"), "--maps", str(DATA / "houston_map.tif"),
              "--out", str(run), "--val-fraction", "0", "--val-every", "100000", "--device", "cpu", "--workers", "0",
              *recipe])
    except SystemExit as exc:
        assert not exc.code
    return run


class Int8Tiles:
    """Calibration batches for ONNX Runtime's quantiser: tiles of the raster in the graph's units."""

    def __init__(self, tiles: np.ndarray, name: str) -> None:
        self.batches = iter([{name: t[None] / np.float32(255)} for t in tiles])

    def get_next(self) -> dict | None:
        return next(self.batches, None)


def quantise(src: Path, out: Path, tiles: np.ndarray) -> Path:
    """Static int8 QDQ quantisation of ``src`` (geopix's metadata carried over)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    CalibrationDataReader.register(Int8Tiles)
    quantize_static(str(src), str(out), Int8Tiles(tiles, "input"), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    fp32, q = onnx.load(str(src)), onnx.load(str(out))
    del q.metadata_props[:]
    q.metadata_props.extend(fp32.metadata_props)
    onnx.save(q, str(out))
    return out


def frame_tiles(src: Path, stats, tile: int) -> np.ndarray:
    """The mosaicker's normalised tiles of ``src`` (reflection-padded frame, a quarter overlap)."""
    from geo_pix2pix.tiles.mosaic.blend import plan_mosaic, reflect_index

    with rasterio.open(src) as s:
        plan = plan_mosaic(s.height, s.width, tile, tile // 4)
        data = stats.normalize(s.read())
    rows = reflect_index(np.arange(plan.frame_height) - plan.pad_top, plan.height)
    frame = data[:, rows][:, :, plan.source_cols()]
    return np.stack([frame[:, r:r + tile, c:c + tile] for r in plan.row_starts for c in plan.col_starts])


def alone(pred: Callable[[np.ndarray], np.ndarray], tiles: np.ndarray, repeats: int) -> float:
    """Median seconds of the engine alone on ``tiles`` in batches of 8 (one warm-up batch first)."""
    pred(tiles[:8])
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(0, len(tiles), 8):
            pred(tiles[i:i + 8])
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def engines(run: Path, work: Path, tiles: np.ndarray) -> dict[str, object]:
    """name -> loaded geopix model (torch float32, torch bf16 autocast, ONNX Runtime float32 and int8)."""
    import geo_pix2pix as geopix
    from geo_pix2pix.export import ExportConfig, export_onnx

    fp32 = export_onnx(ExportConfig(str(run), str(work / "fp32.onnx"), overwrite=True)).path
    raw = (tiles[:16] + 1.0) * 127.5  # calibration: 16 of the raster's tiles, back in bytes
    int8 = quantise(fp32, work / "int8.onnx", raw)
    return {"torch float32": geopix.load_model(run, device="cpu", amp=False),
            "torch bf16 autocast": geopix.load_model(run, device="cpu", amp=True),
            "onnxruntime float32": geopix.load_model(fp32, device="cpu"),
            "onnxruntime int8": geopix.load_model(int8, device="cpu")}


def throughput(name: str, run: Path, raster: Path, tile: int, repeats: int, work: Path) -> None:
    """Every engine on the same tiles, end to end, and its difference to torch float32."""
    import geo_pix2pix as geopix

    meta = geopix.load_model(run, device="cpu").meta
    tiles = frame_tiles(raster, meta.input_stats, tile)
    models = engines(run, work, tiles)
    print(f"\n{name}: {meta.generator.name} ngf {meta.generator.ngf}, trained on {meta.tile_size}-pixel tiles, "
          f"translated at {tile} ({len(tiles)} tiles of {raster.name}, batch 8)")
    print(f"{'engine':<22} {'alone s':>8} {'x fp32':>7} {'translate s':>12} {'x fp32':>7} {'max diff':>9} "
          f"{'mean diff':>10}")
    base: dict[str, float] = {}
    ref = None
    for label, model in models.items():
        t_alone = alone(model._pred, tiles, repeats)
        out = work / f"{label.replace(' ', '_')}.tif"
        t = time.perf_counter()
        model.translate(raster, out, tile=tile, overwrite=True)
        t_e2e = time.perf_counter() - t
        with rasterio.open(out) as src:
            data = src.read().astype(np.int16)
        ref = data if ref is None else ref
        base = base or {"alone": t_alone, "e2e": t_e2e}
        diff = np.abs(data - ref)
        print(f"{label:<22} {t_alone:8.2f} {base['alone'] / t_alone:7.2f} {t_e2e:12.2f} {base['e2e'] / t_e2e:7.2f} "
              f"{diff.max():9d} {diff.mean():10.4f}")


def export_costs(work: Path) -> None:
    """Seconds and MB of ``geopix export`` per family's recipes (untrained networks)."""
    from geo_pix2pix.export import ExportConfig, export_onnx
    from geo_pix2pix.families.base import get_family
    from geo_pix2pix.families.pix2pixhd import HDGeneratorConfig
    from geo_pix2pix.families.spade import SPADEGeneratorConfig
    from geo_pix2pix.files.modelfile import ModelMeta, save_model
    from geo_pix2pix.models.class_head import with_output_head
    from geo_pix2pix.models.registry import GeneratorConfig
    from geo_pix2pix.tiles.encoding.classes import ClassTable
    from geo_pix2pix.tiles.encoding.normalize import BandStats

    rgb = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
    layout = ClassTable.build([1, 2, 3, 4, 5, 6])
    cases = {
        "pix2pix U-Net, paper (ngf 64, 256)": ("pix2pix", GeneratorConfig(tile=256), rgb, 256),
        "pix2pix U-Net, cpu (ngf 32, 64)": ("pix2pix", GeneratorConfig(tile=64, ngf=32), rgb, 64),
        "pix2pix smp:resnet34 (256)": ("pix2pix", GeneratorConfig(name="smp:resnet34", tile=256), rgb, 256),
        "pix2pixhd, paper (ngf 32, 512)": ("pix2pixhd", HDGeneratorConfig(), rgb, 512),
        "pix2pixhd, cpu (ngf 16, 128)": ("pix2pixhd", HDGeneratorConfig(ngf=16, n_downsample=3, n_blocks=3,
                                                                        n_blocks_local=1, norm="batch"), rgb, 128),
        "spade, paper (ngf 64, 256)": ("spade", SPADEGeneratorConfig(in_channels=6), layout, 256),
        "spade, cpu (ngf 16, 128)": ("spade", SPADEGeneratorConfig(in_channels=6, ngf=16, n_up=4, hidden=32),
                                     layout, 128),
    }
    print(f"\nexport (geopix export, dynamic tile, opset 18, with the ONNX Runtime check)\n{'family':<38} "
          f"{'params':>11} {'seconds':>8} {'MB':>7}")
    for label, (family, gcfg, ins, tile) in cases.items():
        G = with_output_head(get_family(family).build_generator(gcfg), rgb)
        meta = ModelMeta(gcfg, "map2sat" if family == "spade" else "sat2map", (1, 2, 3), (1, 2, 3), ins, rgb, tile, 0,
                         family=family)
        path = work / f"{family}_{tile}.safetensors"
        save_model(path, G.state_dict(), meta)
        r = export_onnx(ExportConfig(str(path), str(work / "e.onnx"), overwrite=True))
        params = sum(p.numel() for p in G.parameters())
        print(f"{label:<38} {params:>11,} {r.seconds:8.1f} {r.bytes / 1e6:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=2048, help="side of the translated raster")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each engine-alone timing (median)")
    ap.add_argument("--skip-export", action="store_true", help="skip the export cost table")
    ap.add_argument("--skip-paper", action="store_true", help="skip the paper U-Net's throughput")
    a = ap.parse_args()
    import onnxruntime
    import torch

    from geo_pix2pix.runtime.device import cpu_has_native_bf16

    flags = cpu_flags()
    print(f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; flags: "
          + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items()))
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads; native bf16: {cpu_has_native_bf16()}), "
          f"onnxruntime {onnxruntime.__version__}; the machine may be shared: compare ratios, not seconds")
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        raster = make_raster(work / f"r{a.size}.tif", a.size)
        cpu = train(work / "cpu", ["--recipe", "cpu", "--steps", "60"])
        throughput("CPU recipe", cpu, raster, 256, a.repeats, work)
        if not a.skip_paper:
            paper = train(work / "paper", ["--recipe", "paper", "--steps", "2"])
            throughput("paper U-Net", paper, raster, 256, a.repeats, work)
        if not a.skip_export:
            export_costs(work)


if __name__ == "__main__":
    main()
