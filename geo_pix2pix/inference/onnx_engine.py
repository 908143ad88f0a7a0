"""Running an exported ONNX file through ONNX Runtime, with the torch :class:`~.predict.Predictor`'s call.

:class:`OnnxPredictor` takes normalised tiles and returns normalised predictions, like the torch
predictor, so the mosaicker, the hole filler and the API use it unchanged: the same tiling,
blending, masks and outputs. Between the two it maps tiles into the graph's units and back
(:func:`~geo_pix2pix.files.onnx_contract.graph_input`, :func:`~geo_pix2pix.files.onnx_contract.normalised_output`):
the graph carries the clients' units at its ends, not geopix's.

What it reads from the file: the model file's metadata and the graph's contract (geopix's keys,
:mod:`~geo_pix2pix.files.onnx_metadata`). A file exported with a fixed tile takes that tile only.
Device: ``cpu`` runs ONNX Runtime's CPU provider; ``cuda``/``cuda:N`` its CUDA provider (refused
where that provider is not installed); ``auto`` takes CUDA where it is available. The graph runs in
float32 (``amp`` has no effect: ONNX Runtime's CPU provider has no bf16 convolutions on x86).
TTA averages the 8 rotations/mirrors of each tile, as the torch predictor does.

Masked input: the graph reads no mask. This engine fills the masked pixels of a tile before the
graph (:func:`~geo_pix2pix.models.prefill.fill_masked_tiles`, the torch predictor's rule), so geopix gives the
same pixels with either engine; another ONNX client (Deepness, GeoDeep) hands the graph the raster's values as
they are, nodata included, and the predictions next to its masked pixels then depend on them
(:mod:`~geo_pix2pix.files.onnx_contract`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import numpy as np

from geo_pix2pix.files.onnx_contract import Contract, graph_input, normalised_output
from geo_pix2pix.files.onnx_metadata import parse_metadata, require
from geo_pix2pix.tiles.errors import GeopixError, ModelFileError, TileSizeError, first_line

__all__ = ["OnnxPredictor", "is_onnx", "providers_for"]


def is_onnx(model: str | os.PathLike[str]) -> bool:
    """Whether ``model`` names an ONNX file (by its ``.onnx`` suffix)."""
    return Path(model).suffix.lower() == ".onnx"


class _Stride:
    """What translate's tile checks ask of a generator (``G.multiple``), for a graph."""

    def __init__(self, multiple: int) -> None:
        self.multiple = multiple


def providers_for(device: str, available: list[str]) -> tuple[list[Any], str]:
    """ONNX Runtime providers for ``device`` and the torch device name they stand for."""
    cuda = "CUDAExecutionProvider" in available
    if device == "auto":
        device = "cuda" if cuda else "cpu"
    if device == "cpu":
        return ["CPUExecutionProvider"], "cpu"
    if device == "cuda" or device.startswith("cuda:"):
        if not cuda:
            raise GeopixError(f"--device {device}: this onnxruntime has no CUDA provider (install onnxruntime-gpu, or "
                              "use --device cpu)")
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"], f"cuda:{index}"
    raise GeopixError(f"--device {device}: ONNX models run on cpu or cuda (ONNX Runtime), not {device}")


class OnnxPredictor:
    """Load an exported ONNX file once; call with ``(N, C_in, T, T)`` float32 in [-1, 1].

    Attributes (as :class:`~.predict.Predictor`'s): ``path``, ``meta`` (the model file's metadata),
    ``tta``, ``plan`` (device, no autocast), ``G`` (only its ``multiple``), and ``contract``,
    ``fixed_tile`` (the tile a fixed-shape graph takes, else None), ``engine``.
    """

    engine = "onnxruntime"

    def __init__(self, model: str | os.PathLike[str], device: str = "auto", amp: bool = True,
                 tta: bool = False, threads: int | None = None) -> None:
        ort = require("onnxruntime")
        self.path = Path(model)
        if not self.path.is_file():
            raise ModelFileError(f"no ONNX model at {model}; export one with 'geopix export RUN model.onnx'")
        providers, name = providers_for(device, ort.get_available_providers())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its warnings are about the graph's internals
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for unreadable files
            raise ModelFileError(f"{self.path} is not an ONNX model ONNX Runtime can run ({first_line(exc)[:200]})") \
                from None
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.meta, self.contract = parse_metadata(props, self.path)
        self.tta = tta
        self.G = _Stride(self.contract.tile or self.contract.multiple)
        self.plan = _plan(name)

    @property
    def tile(self) -> int:
        return self.contract.tile or self.meta.tile_size

    @property
    def fixed_tile(self) -> int | None:
        """The only tile side a graph exported with ``--tile`` takes (None: any multiple)."""
        return self.contract.tile or None

    def __call__(self, tiles: np.ndarray, style: Any = None, valid: np.ndarray | None = None) -> np.ndarray:
        if style is not None:
            raise GeopixError("an ONNX model's style is fixed at export (geopix export --style/--seed)")
        if self.fixed_tile and tiles.shape[-1] != self.fixed_tile:
            raise TileSizeError(f"{self.path} was exported for {self.fixed_tile}-pixel tiles only; translate with "
                                f"--tile-size {self.fixed_tile} (or export without --tile)")
        if valid is not None:
            from geo_pix2pix.models.prefill import fill_masked_tiles
            from geo_pix2pix.tiles.encoding.classes import ClassTable

            classes = isinstance(self.meta.input_stats, ClassTable)
            tiles = fill_masked_tiles(_torch_tiles(tiles), valid, classes).numpy()
        if not self.tta:
            return self._run(tiles)
        total = self._run(tiles)
        for code in range(1, 8):
            turned = np.rot90(tiles, code % 4, axes=(-2, -1))
            turned = turned[..., ::-1] if code >= 4 else turned
            y = self._run(np.ascontiguousarray(turned))
            y = y[..., ::-1] if code >= 4 else y
            total += np.rot90(y, -(code % 4), axes=(-2, -1))
        return cast(np.ndarray, total / np.float32(8.0))

    def _run(self, tiles: np.ndarray) -> np.ndarray:
        c: Contract = self.contract
        x = graph_input(np.asarray(tiles, np.float32), self.meta.input_stats, c)
        y = self.session.run([c.output_name], {c.input_name: x})[0]
        return normalised_output(y, self.meta.output_stats, c)


def _torch_tiles(tiles: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))


def _plan(device: str) -> Any:
    """A device plan without autocast, for translate's records (the sharded job id) and messages."""
    import torch

    from geo_pix2pix.runtime.device import DevicePlan

    return DevicePlan(torch.device(device), None, False)
