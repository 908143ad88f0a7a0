"""The ONNX engine's devices: ONNX Runtime's providers for geopix's device names, refused in one line."""

from __future__ import annotations

import pytest

import geo_pix2pix as geopix
from geo_pix2pix.inference.onnx_engine import providers_for


def test_devices() -> None:
    assert providers_for("auto", ["CPUExecutionProvider"]) == (["CPUExecutionProvider"], "cpu")
    assert providers_for("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[1] == "cuda:0"
    providers, name = providers_for("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers[0] == ("CUDAExecutionProvider", {"device_id": 1}) and name == "cuda:1"
    with pytest.raises(geopix.GeopixError, match="no CUDA provider"):
        providers_for("cuda", ["CPUExecutionProvider"])
    with pytest.raises(geopix.GeopixError, match="run on cpu or cuda"):
        providers_for("mps", ["CPUExecutionProvider"])
