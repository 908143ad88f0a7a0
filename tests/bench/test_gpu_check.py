"""The GPU check runs end to end on the CPU with tiny sizes, as the GPU machine would run it: without
vector I/O, smp, matplotlib or the ONNX exporter (none of them is sent there), every part reporting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

#: What the GPU machine lacks (bench/gpu_wheels.sh): importing any of them fails in the check's process.
ABSENT = ("geopandas", "pyogrio", "segmentation_models_pytorch", "onnx", "onnxscript", "matplotlib", "geodeep")


def test_the_gpu_check_runs_on_the_cpu_without_what_the_gpu_machine_lacks(tmp_path, tiny_model) -> None:
    from geo_pix2pix.export import ExportConfig, export_onnx

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes((Path(tiny_model) / "model.safetensors").read_bytes())
    export_onnx(ExportConfig(str(model / "model.safetensors"), str(model / "model.onnx")))
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import sys\nfor m in {ABSENT!r}:\n    sys.modules[m] = None\n")
    env = {**os.environ, "PYTHONPATH": str(site), "PY": sys.executable, "DEVICE": "cpu", "SMALL": "1",
           "MINUTES": "20"}
    log = tmp_path / "gpu_check.txt"
    r = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), str(log), "--onnx-model", str(model)],
                       env=env, capture_output=True, text=True, timeout=900)
    text = log.read_text()
    assert r.returncode == 0, text[-3000:]
    for part in ("train + exact resume", "translate seams", "bf16 vs float32", "onnx runtime", "translate throughput",
                 "train throughput"):
        assert f"RESULT {part}: PASS" in text, part
    assert "RESULT nccl weak scaling: SKIP (0 GPU)" in text and "samples/s" in text
    assert "max |dw| 0;" in text  # on the CPU a resume is bitwise exact
    assert "FAIL" not in text and "Traceback" not in text


def test_the_scripts_parse() -> None:
    for script in ("gpu_check.sh", "gpu_wheels.sh"):
        assert subprocess.run(["bash", "-n", str(REPO / "bench" / script)]).returncode == 0
