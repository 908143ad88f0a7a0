"""``geopix export``: a model file's generator as one ONNX graph with GIS metadata.

The graph is :class:`~.graph.ExportGraph` (client units at both ends, :mod:`.contract`) exported
with torch's ONNX exporter (``torch.export``, then ONNX): a dynamic batch, and either any tile side
that is a multiple of the generator's stride product or, with ``tile``, that side only (Deepness
and GeoDeep read the tile size from the graph's input shape, so they need a fixed one). The
default opset is :data:`DEFAULT_OPSET`, the lowest the exporter writes natively; ONNX Runtime runs
it from version 1.14 on. The file holds its weights (no external data) and is written to a
temporary name and renamed; after writing, ONNX Runtime (where installed) runs one batch through
it and the result must match torch's within :data:`VERIFY_TOLERANCE`.

An inpainting model's hole pre-fill picks its pyramid's depth from the data at run time; the
graph runs it at the fixed depth that takes the largest tile to one pixel, which gives the same
values (:mod:`.prefill`). What cannot be exported, and why:

- a SPADE style encoder: a style is an image-level input that Deepness and GeoDeep cannot feed (both
  take one input), so a model with an encoder is exported with one fixed style (``seed`` or
  ``style``; default the prior's mean, z = 0, what translate uses without --style/--seed).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geo_pix2pix.export.graph import ExportGraph
from geo_pix2pix.files.onnx_contract import MAX_TILE, Contract, contract_for
from geo_pix2pix.files.onnx_metadata import client_notes, metadata_props, require
from geo_pix2pix.tiles.errors import GeopixError, OutputExistsError, OutputNameError, TileSizeError, first_line

__all__ = ["ExportConfig", "ExportResult", "export_onnx", "stride_multiple", "DEFAULT_OPSET", "MIN_OPSET",
           "VERIFY_TOLERANCE"]

log = logging.getLogger(__name__)

#: The opset written by default: the lowest torch's exporter implements (lower ones are converted).
DEFAULT_OPSET = 18
#: The lowest opset accepted (converted from 18 by onnx's version converter).
MIN_OPSET = 17
#: Largest difference between ONNX Runtime and torch on the check batch, as a share of the output's
#: range (probabilities: 1; values: high - low). Float32 graphs agree to about 1e-6.
VERIFY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ExportConfig:
    """One export.

    Attributes:
        model: run directory or model.safetensors.
        out: the ONNX file to write (``.onnx``).
        tile: fix the graph's tile side (a multiple of the generator's stride product); None: any multiple.
        opset: ONNX opset (:data:`DEFAULT_OPSET`).
        style: a SPADE model with a style encoder: fix the style of this reference raster.
        seed: ... or of a random draw with this seed (neither: z = 0).
        overwrite: replace an existing ``out``.
    """

    model: str
    out: str
    tile: int | None = None
    opset: int = DEFAULT_OPSET
    style: str | None = None
    seed: int | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class ExportResult:
    """What was written: the file, its size, the export's seconds, the graph's contract, the
    difference to torch on the check batch (None without onnxruntime), and notes for clients."""

    path: Path
    bytes: int
    seconds: float
    contract: Contract
    max_difference: float | None
    notes: list[str] = field(default_factory=list)


def check_onnx_output(out: str | os.PathLike[str], model: Path, overwrite: bool) -> Path:
    """The output path, checked: an ``.onnx`` name, not the model file, replaced only with ``overwrite``."""
    p = Path(out)
    if p.suffix.lower() != ".onnx":
        raise OutputNameError(f"output {p}: geopix export writes ONNX files; name it {p.with_suffix('.onnx').name}")
    if p.is_dir():
        raise OutputExistsError(f"output {p} is a directory; give a file path")
    if p.exists() and not overwrite:
        raise OutputExistsError(f"output {p} exists; pass --overwrite to replace it")
    if p.exists() and p.resolve() == model.resolve():
        raise OutputExistsError(f"output {p} is the model file itself; choose another output path")
    if not (p.parent if str(p.parent) else Path(".")).is_dir():
        raise FileNotFoundError(2, "output directory does not exist", str(p.parent))
    return p


def _refuse(meta: Any, cfg: ExportConfig) -> None:
    """One-line refusals of what cannot be exported (see the module docstring)."""
    from geo_pix2pix.inference.style import style_dim

    if (cfg.style is not None or cfg.seed is not None) and not style_dim(meta):
        raise GeopixError("--style and --seed fix a SPADE style encoder's style; this model has no style encoder")
    if cfg.style is not None and cfg.seed is not None:
        raise GeopixError("give --style (a reference image's style) or --seed (a random style), not both")
    if cfg.opset < MIN_OPSET:
        raise GeopixError(f"--opset {cfg.opset}: geopix exports opset {MIN_OPSET} or later")


def stride_multiple(G: Any) -> int:
    """The generator's tile multiple (its stride product); a head (palette, class) wraps the body
    that has it."""
    while not hasattr(G, "multiple") and hasattr(G, "body"):
        G = G.body
    return int(getattr(G, "multiple", 1))


def _tile(G: Any, meta: Any, tile: int | None) -> tuple[int, int]:
    """(fixed tile or 0, the generator's stride product), the tile checked."""
    multiple = stride_multiple(G)
    if tile is None:
        return 0, multiple
    if tile < 1 or tile % multiple or tile > MAX_TILE:
        ok = ", ".join(str(k * multiple) for k in range(max(1, tile // multiple), tile // multiple + 3))
        raise TileSizeError(f"--tile {tile}: this {meta.generator.name} generator takes tiles in multiples of "
                            f"{multiple} pixels up to {MAX_TILE} (e.g. {ok})")
    return tile, multiple


def _style(G: Any, meta: Any, cfg: ExportConfig) -> tuple[torch.Tensor | None, str]:
    from geo_pix2pix.inference.style import choose_style, style_dim

    if not style_dim(meta):
        return None, ""
    z = choose_style(G, meta, torch.device("cpu"), cfg.style, cfg.seed)
    what = f"reference {cfg.style}" if cfg.style else f"seed {cfg.seed}" if cfg.seed is not None else "default (z = 0)"
    return (torch.zeros((1, style_dim(meta))) if z is None else z), what


def example_input(contract: Contract, side: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A batch in the graph's input units (values in [0, 1]; codes and colours of the model)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((batch, contract.input_channels, side, side), generator=g)
    if contract.input_kind == "holes":  # a mask of 0 and 1
        x[:, -1] = (x[:, -1] > 0.7).float()
    return x


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """torch's exporter prints its steps and warns about internals; a user sees geopix's lines only."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _export(graph: ExportGraph, contract: Contract) -> Any:
    """The ONNX ModelProto of ``graph`` (dynamic batch; dynamic or fixed tile)."""
    from torch.export import Dim

    side = contract.tile or 2 * contract.multiple  # 2: a size-1 example would be specialised
    batch = Dim("batch", min=1, max=4096)
    dims: dict[int, Any] = {0: batch}
    if not contract.tile:
        k = Dim("k", min=1, max=MAX_TILE // contract.multiple)
        dims.update({2: contract.multiple * k, 3: contract.multiple * k})
    with _quiet_exporter():
        program = torch.onnx.export(graph, (example_input(contract, side),), dynamo=True,
                                    input_names=[contract.input_name], output_names=[contract.output_name],
                                    dynamic_shapes=(dims,), opset_version=contract.opset)
    if program is None:  # pragma: no cover - the dynamo exporter always returns its program
        raise GeopixError("torch's ONNX exporter returned no graph")
    return program.model_proto


def export_onnx(cfg: ExportConfig) -> ExportResult:
    """Export ``cfg.model`` to ``cfg.out`` (see the module docstring)."""
    from geo_pix2pix.files.modelfile import load_model, resolve_model_path
    from geo_pix2pix.inference.translate import default_tile
    from geo_pix2pix.tiles.atomic import atomic_path

    onnx = require("onnx")
    require("onnxscript")  # torch's exporter builds the graph with it
    start = time.perf_counter()
    path = resolve_model_path(cfg.model)
    out = check_onnx_output(cfg.out, path, cfg.overwrite)
    G, meta = load_model(path, "cpu")
    _refuse(meta, cfg)
    tile, multiple = _tile(G, meta, cfg.tile)
    style, style_text = _style(G, meta, cfg)
    contract = contract_for(meta, tile, multiple, cfg.opset, style_text)
    graph = ExportGraph(G, meta, contract, style).eval()
    try:
        proto = _export(graph, contract)
    except Exception as exc:  # the exporter's errors come in many types; all mean "not exportable"
        raise GeopixError(f"torch could not export this {meta.family} {meta.generator.name} generator to ONNX "
                          f"({_cause(exc)}); please report it") from None
    big = max(MAX_TILE, 1 << 20)
    for key, value in metadata_props(meta, contract, default_tile(meta.tile_size, big, big), path).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    _oldest_ir(proto, onnx, cfg.opset)
    proto.producer_name, proto.producer_version = "geopix", _version()
    proto.doc_string = f"geopix {meta.family} {meta.generator.name} {meta.direction} model ({meta.map_kind} map)"
    with atomic_path(out) as tmp:
        onnx.save_model(proto, str(tmp))
    diff = _verify(out, graph, contract, meta)
    return ExportResult(out, out.stat().st_size, time.perf_counter() - start, contract, diff,
                        client_notes(meta, contract))


#: The oldest ONNX IR version that carries each opset (ONNX releases 1.12-1.17): older runtimes
#: read the lowest the graph allows, and torch's exporter writes a newer one than opset 17-18 need.
IR_FOR_OPSET = {17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10}


def _oldest_ir(proto: Any, onnx: Any, opset: int) -> None:
    """Stamp the oldest IR version the opset allows, where the checker accepts the graph with it."""
    ir = IR_FOR_OPSET.get(opset)
    if ir is None or ir >= proto.ir_version or len(proto.functions):
        return
    newer, proto.ir_version = proto.ir_version, ir
    try:
        onnx.checker.check_model(proto)
    except Exception:  # noqa: BLE001 (a feature of the newer IR is used: keep it)
        proto.ir_version = newer


def _cause(exc: BaseException) -> str:
    """The first line of the innermost error (the exporter wraps the real one), without colour codes."""
    import re

    while exc.__cause__ is not None:
        exc = exc.__cause__
    return re.sub(r"\x1b\[[0-9;]*m", "", first_line(exc))[:300]


def _version() -> str:
    from geo_pix2pix._version import __version__

    return __version__


def _verify(path: Path, graph: ExportGraph, contract: Contract, meta: Any) -> float | None:
    """ONNX Runtime against torch on one batch; the largest difference as a share of the output's range.

    A larger one than :data:`VERIFY_TOLERANCE` removes the file and fails: the exporter got
    something wrong that a user would otherwise find in their maps."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    x = example_input(contract, contract.tile or 2 * contract.multiple, batch=1, seed=1)
    with torch.inference_mode():
        want = graph(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {contract.input_name: x.numpy()})[0]
    scale = np.ones((1, 1, 1))
    if contract.output_kind == "values":
        out = meta.output_stats
        scale = np.asarray(out.high, np.float64)[:, None, None] - np.asarray(out.low, np.float64)[:, None, None]
    diff = float(np.max(np.abs(got.astype(np.float64) - want) / scale))
    if not diff <= VERIFY_TOLERANCE:
        path.unlink()
        raise GeopixError(f"the exported graph disagrees with torch by {diff:.3g} of the output range on a check batch "
                          "(removed); please report it")
    return diff
