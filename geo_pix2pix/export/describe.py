"""What ``geopix info`` says about an ONNX file: its graph's ends, the clients' metadata, geopix's.

Any ONNX file is described (a model from elsewhere too: its inputs, outputs and metadata keys),
so a user can see what it is before a client or geopix runs it; only files with geopix's keys are
translated (:func:`~.metadata.parse_metadata`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from geo_pix2pix.files.onnx_metadata import (
    CONTRACT_KEY,
    META_KEY,
    client_notes,
    load_proto,
    parse_metadata,
    require,
)
from geo_pix2pix.tiles.errors import ModelFileError

__all__ = ["describe_onnx"]


def _shape(value_info: Any) -> list[int | str]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]


def describe_onnx(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Path, size, opset, inputs/outputs with shapes, parameters, metadata (client keys decoded),
    and for a geopix export its model metadata, contract and notes for clients."""
    onnx = require("onnx")
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"no ONNX model at {p}")
    proto = load_proto(p, onnx)
    props = {m.key: m.value for m in proto.metadata_props}
    d: dict[str, Any] = {
        "path": str(p), "bytes": p.stat().st_size,
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "opset": max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None),
        "ir_version": proto.ir_version,
        "inputs": [{"name": i.name, "shape": _shape(i)} for i in proto.graph.input],
        "outputs": [{"name": o.name, "shape": _shape(o)} for o in proto.graph.output],
        "weights": sum(math.prod(t.dims) for t in proto.graph.initializer),
        "metadata": {k: _decoded(v) for k, v in props.items() if k not in (META_KEY, CONTRACT_KEY)},
    }
    if META_KEY in props:
        meta, contract = parse_metadata(props, p)
        d["geopix"] = {**meta.to_dict(), "map_kind": meta.map_kind, "in_channels": meta.generator.in_channels,
                       "out_channels": meta.generator.out_channels}
        d["contract"] = {**json.loads(props[CONTRACT_KEY]), **contract.to_dict()}
        d["notes"] = client_notes(meta, contract)
    return d


def _decoded(value: str) -> Any:
    """A metadata value as its JSON (the clients' convention), else the text itself."""
    try:
        return json.loads(value)
    except ValueError:
        return value
