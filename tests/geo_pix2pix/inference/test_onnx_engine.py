"""Which engine runs a model: an ONNX file through ONNX Runtime; a run through torch, or through the
export beside it where torch would run float32 on a CPU; the choices refused in one line."""

from __future__ import annotations

import shutil

import pytest

import geo_pix2pix as geopix
from geo_pix2pix.export import ExportConfig, export_onnx
from geo_pix2pix.inference import onnx_engine
from geo_pix2pix.inference.onnx_engine import OnnxPredictor, companion, providers_for
from geo_pix2pix.inference.predict import Predictor, load_predictor


@pytest.fixture(scope="module")
def run_with_export(tiny_model, tmp_path_factory):
    """A copy of the tiny run with ``model.onnx`` exported beside its model file."""
    run = tmp_path_factory.mktemp("engine") / "run"
    shutil.copytree(tiny_model, run)
    export_onnx(ExportConfig(str(run), str(run / "model.onnx")))
    return run


@pytest.mark.parametrize("native_bf16, amp, engine", [(False, True, OnnxPredictor), (True, True, Predictor),
                                                      (True, False, OnnxPredictor)])
def test_auto_runs_the_export_where_torch_would_run_float32(run_with_export, monkeypatch, native_bf16, amp,
                                                             engine) -> None:
    monkeypatch.setattr("geo_pix2pix.runtime.device.cpu_has_native_bf16", lambda: native_bf16)
    assert type(load_predictor(run_with_export, "cpu", amp)) is engine
    assert type(load_predictor(run_with_export, "cpu", amp, engine="torch")) is Predictor


def test_a_stale_or_missing_export_is_not_used(run_with_export, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("geo_pix2pix.runtime.device.cpu_has_native_bf16", lambda: False)
    run = tmp_path / "run"
    shutil.copytree(run_with_export, run)
    assert companion(run / "model.safetensors") == run / "model.onnx"
    from safetensors.torch import load_file

    from geo_pix2pix.files.modelfile import read_meta, save_model

    state = load_file(str(run / "model.safetensors"))
    save_model(run / "model.safetensors", {k: v * 2 for k, v in state.items()}, read_meta(run))  # retrained since
    assert companion(run / "model.safetensors") is None
    assert type(load_predictor(run, "cpu")) is Predictor
    with pytest.raises(geopix.GeopixError, match="no ONNX export of .* beside it"):
        load_predictor(run, "cpu", engine="onnxruntime")


def test_the_engine_comes_from_the_environment(run_with_export, monkeypatch) -> None:
    monkeypatch.setenv("GEOPIX_ENGINE", "onnxruntime")
    model = geopix.load_model(run_with_export, device="cpu")
    assert model.path == run_with_export / "model.onnx"
    monkeypatch.setenv("GEOPIX_ENGINE", "tensorflow")
    with pytest.raises(geopix.GeopixError, match="unknown engine 'tensorflow'; choose auto, torch, onnxruntime"):
        geopix.load_model(run_with_export, device="cpu")
    with pytest.raises(geopix.GeopixError, match="is an ONNX file"):
        geopix.load_model(run_with_export / "model.onnx", device="cpu", engine="torch")


def test_devices(monkeypatch) -> None:
    assert providers_for("auto", ["CPUExecutionProvider"]) == (["CPUExecutionProvider"], "cpu")
    providers, name = providers_for("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers[0] == ("CUDAExecutionProvider", {"device_id": 1}) and name == "cuda:1"
    with pytest.raises(geopix.GeopixError, match="no CUDA provider"):
        providers_for("cuda", ["CPUExecutionProvider"])
    with pytest.raises(geopix.GeopixError, match="run on cpu or cuda"):
        providers_for("mps", ["CPUExecutionProvider"])
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # onnxruntime not installed
    assert not onnx_engine.prefers_onnx("cpu", False)
