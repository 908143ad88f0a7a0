"""The metadata an exported ONNX file carries: the GIS clients' convention and geopix's own.

**Clients' keys** (Deepness' "Creators: add metadata to model"; GeoDeep reads the same names),
each value JSON-encoded as both parse it:

- ``model_type``: ``Segmentor`` for a class map (per-class probabilities out), ``Regressor`` for a
  one-band value map (a DEM; Deepness writes the first channel of a regressor's output), and
  ``Superresolution`` for everything with several output bands (a rendered map picture, imagery):
  of Deepness' types it is the one that writes every output channel as an image; its scale factor
  is the output's size over the input's, here 1.
- ``class_names``: ``{"0": name, ...}`` by class index (Segmentor only; the codes are in geopix's keys).
- ``resolution``: the training imagery's pixel size in cm/px (in the CRS's units; for a
  geographic CRS, metres on the ground at the imagery's centre latitude). Clients resample rasters
  whose pixels are much finer than this.
- ``tiles_size`` (the documented name) and ``tile_size`` (the name Deepness' code reads), and
  ``tiles_overlap`` in percent (25: geopix's quarter-tile overlap).
- ``standardization_mean`` / ``standardization_std``: 0 and ``S / 255`` (:mod:`.contract`).
- ``seg_thresh`` 0 and ``seg_small_segment`` 0 (Segmentor): the arg-max class everywhere, no
  small segments removed, as geopix writes it; ``reg_output_scaling`` 1 (values are in map units).

**geopix's keys**: ``geopix`` (the model file's metadata: family, generator, bands,
normalisation, direction, class table with colours, map kind, training CRS and pixel size,
exactly as in ``model.safetensors``) and ``geopix_onnx`` (the graph's :class:`~.contract.Contract`
and where it came from). A file without them is not a geopix model.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from geo_pix2pix.files.onnx_contract import Contract
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.errors import GeopixError, ModelFileError

__all__ = ["META_KEY", "CONTRACT_KEY", "OVERLAP_PERCENT", "model_type", "resolution_cm", "client_metadata",
           "read_metadata", "parse_metadata", "client_notes", "require", "file_sha256", "load_proto"]

#: Key of the model file's metadata (the same key model.safetensors stores it under).
META_KEY = "geopix"
#: Key of the graph's contract.
CONTRACT_KEY = "geopix_onnx"
#: ``tiles_overlap`` written for clients: geopix's default overlap is a quarter of the tile.
OVERLAP_PERCENT = 25
#: Metres per degree of latitude (and of longitude at the equator) on the WGS 84 sphere clients use.
METRES_PER_DEGREE = math.pi / 180 * 6378137.0


def require(module: str) -> Any:
    """Import ``onnx`` or ``onnxruntime``, or fail with one line saying how to install them."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GeopixError(f"ONNX support needs {module}, which is not installed: pip install 'geopix[onnx]'") from None


def model_type(meta: Any) -> str:
    """The Deepness/GeoDeep model type of ``meta``'s output (see the module docstring)."""
    out = meta.output_stats
    if isinstance(out, ClassTable):
        return "Segmentor"
    return "Regressor" if out.bands == 1 else "Superresolution"


def resolution_cm(meta: Any) -> float | None:
    """The training imagery's pixel size in cm/px, or None when the model file cannot tell."""
    if not meta.pairs or not meta.pairs[0].get("crs"):
        return None
    from rasterio.crs import CRS

    p0 = meta.pairs[0]
    px = float(p0["pixel_size"][0])
    crs = CRS.from_wkt(p0["crs"])
    if not crs.is_geographic:
        return round(px * float(crs.linear_units_factor[1]) * 100.0, 4)
    try:  # degrees: the ground distance at the imagery's centre latitude, as GeoDeep estimates it
        from geo_pix2pix.tiles.raster import open_raster

        with open_raster(p0["imagery"]) as src:
            lat = (src.bounds.top + src.bounds.bottom) / 2
    except (GeopixError, OSError, KeyError):
        return None
    return round(px * METRES_PER_DEGREE * math.cos(math.radians(lat)) * 100.0, 4)


def client_metadata(meta: Any, contract: Contract, default_tile: int) -> dict[str, Any]:
    """The clients' keys for ``meta``'s model (values not yet JSON-encoded)."""
    kind = model_type(meta)
    tile = contract.tile or default_tile
    std = contract.input_scale / 255.0
    d: dict[str, Any] = {"model_type": kind, "tiles_size": tile, "tile_size": tile, "tiles_overlap": OVERLAP_PERCENT,
                         "standardization_mean": [0.0] * contract.input_channels,
                         "standardization_std": [std] * contract.input_channels}
    res = resolution_cm(meta)
    if res:
        d["resolution"] = res
    out = meta.output_stats
    if kind == "Segmentor":
        d.update(class_names={str(i): n for i, n in enumerate(out.names)}, seg_thresh=0.0, seg_small_segment=0)
    elif kind == "Regressor":
        d.update(reg_output_scaling=1.0, class_names={"0": out.units or "value"})
    return d


def metadata_props(meta: Any, contract: Contract, default_tile: int, source: Path) -> dict[str, str]:
    """Every metadata entry of an exported file, JSON-encoded (clients' keys and geopix's); the
    contract also records the model file it came from, by name and SHA-256."""
    from geo_pix2pix._version import __version__

    props = {k: json.dumps(v) for k, v in client_metadata(meta, contract, default_tile).items()}
    props[META_KEY] = json.dumps(meta.to_dict())
    props[CONTRACT_KEY] = json.dumps({**contract.to_dict(), "geopix_version": __version__, "source": source.name,
                                      "source_sha256": file_sha256(source)})
    return props


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (what ties an export to the model file it was made from)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata entries of an ONNX file (one-line errors for a missing file or one that is not ONNX).

    Read with ``onnx`` where it is installed (the file is parsed, no session is built), else with
    ``onnxruntime``."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"no ONNX model at {p}")
    try:
        import onnx
    except ImportError:
        ort = require("onnxruntime")
        try:
            return dict(ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
                        .get_modelmeta().custom_metadata_map)
        except Exception as exc:
            raise ModelFileError(f"{p} is not an ONNX model ({_first(exc)})") from None
    return {m.key: m.value for m in load_proto(p, onnx).metadata_props}


def load_proto(path: Path, onnx: Any) -> Any:
    """The ONNX file ``path`` (known to exist) parsed by ``onnx``, without external data; a file
    that does not parse or holds no graph is refused in one line."""
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelFileError(f"{path} is not an ONNX model ({_first(exc)})") from None
    if not proto.graph.node:
        raise ModelFileError(f"{path} is not an ONNX model (it holds no graph)")
    return proto


def _first(exc: BaseException) -> str:
    from geo_pix2pix.tiles.errors import first_line

    return first_line(exc)[:200]


def parse_metadata(props: dict[str, str], path: str | os.PathLike[str]) -> tuple[Any, Contract]:
    """``(ModelMeta, Contract)`` from an exported file's metadata; refuse a file without geopix's keys.

    An ONNX model from elsewhere is not translated, even given bands and a normalisation: geopix
    would have to guess its input units, what its output is (probabilities, values, a picture) and
    in which units, its classes and codes and its tile multiple, and a wrong guess writes a wrong
    map without an error. Such models are what Deepness and GeoDeep run."""
    from geo_pix2pix.files.modelfile import ModelMeta

    if META_KEY not in props or CONTRACT_KEY not in props:
        keys = ", ".join(sorted(props)[:8]) or "none"
        raise ModelFileError(f"{path} is an ONNX model without geopix metadata (its metadata keys: {keys}); geopix "
                             "translates only models it exported (geopix export RUN model.onnx); run other ONNX models "
                             "with their own tools (Deepness, GeoDeep)")
    try:
        meta = ModelMeta.from_dict(json.loads(props[META_KEY]))
        contract = Contract.from_dict(json.loads(props[CONTRACT_KEY]))
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"{path} has damaged geopix metadata ({_first(exc)})") from None
    return meta, contract


def client_notes(meta: Any, contract: Contract) -> list[str]:
    """What a GIS client will make of this file: the limits a user should know before trying."""
    notes = []
    if contract.input_kind == "holes":
        return ["inpainting: its input is the imagery's bands and a hole mask, which Deepness and GeoDeep do not "
                "feed; geopix inpaint --model FILE.onnx and ONNX Runtime run it"]
    if not contract.tile:
        notes.append("dynamic tile size: Deepness and GeoDeep need a fixed one (geopix export --tile N)")
    if contract.input_kind == "values" and contract.input_scale == 1.0:
        notes.append(f"{meta.input_stats.dtype} input: GeoDeep stretches such rasters tile by tile and cannot run it; "
                     "Deepness feeds raw values (standardization_std 1/255)")
    if contract.input_channels != 3:
        notes.append(f"{contract.input_channels}-band input: GeoDeep reads 3-band (RGB) rasters only")
    if model_type(meta) != "Segmentor":
        notes.append(f"{model_type(meta)}: GeoDeep runs segmentation and detection models only; Deepness runs it")
    return notes
