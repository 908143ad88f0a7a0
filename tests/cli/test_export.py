"""``geopix export`` and ONNX files through translate and info: what is written, what is refused
(one line, exit 1), and the missing optional dependency."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tests.conftest import smooth_image, write_raster


def _one_line_error(r, code: int = 1) -> str:
    assert r.code == code, (r.code, r.err)
    assert r.err.count("\n") == 1 and r.err.startswith("geopix: error: ") and "Traceback" not in r.err
    return r.err


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    """The session's tiny RGB model, exported with a fixed 128-pixel tile."""
    from geo_pix2pix.cli.main import main

    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    try:
        main(["-q", "export", str(tiny_model), str(out), "--tile", "128"])
    except SystemExit as exc:
        assert not exc.code
    return out


def test_export_writes_onnx_that_info_describes_and_translate_runs(tmp_path, geopix, tiny_model, exported) -> None:
    r = geopix("export", tiny_model, tmp_path / "any.onnx")
    assert r.code == 0 and "wrote" in r.out and "opset 18" in r.out and "64k x 64k" in r.out
    assert "ONNX Runtime matches torch" in r.out and "need a fixed one" in r.err  # the note for GIS clients
    info = geopix("info", exported)
    assert info.code == 0 and "family:      pix2pix" in info.out and "model_type: Superresolution" in info.out
    assert "input batch x 3 x 128 x 128" in info.out and "values / 255" in info.out
    d = json.loads(geopix("info", exported, "--json").out)
    assert d["contract"]["tile"] == 128 and d["geopix"]["direction"] == "sat2map"
    assert d["metadata"]["standardization_std"] == [1.0, 1.0, 1.0]
    assert (d["opset"], d["ir_version"]) == (18, 8)  # the oldest IR that carries opset 18: older runtimes read it
    region = write_raster(tmp_path / "region.tif", smooth_image(100, 130, 3, seed=4))
    r = geopix("translate", region, tmp_path / "out.tif", "--model", exported)
    assert r.code == 0 and "wrote" in r.out


def test_refusals_are_one_line(tmp_path, geopix, tiny_model, exported) -> None:
    assert "name it x.onnx" in _one_line_error(geopix("export", tiny_model, tmp_path / "x.tif"))
    assert "pass --overwrite" in _one_line_error(geopix("export", tiny_model, exported))
    assert "multiples of 64" in _one_line_error(geopix("export", tiny_model, tmp_path / "a.onnx", "--tile", "96"))
    assert "no style encoder" in _one_line_error(geopix("export", tiny_model, tmp_path / "a.onnx", "--seed", "1"))
    assert not (tmp_path / "a.onnx").exists()
    region = write_raster(tmp_path / "region.tif", smooth_image(64, 64, 3, seed=4))
    r = geopix("-q", "translate", region, tmp_path / "o.tif", "--model", exported, "--tile-size", "64")
    assert "128-pixel tiles only" in _one_line_error(r)
    r = geopix("-q", "translate", region, tmp_path / "o.tif", "--model", exported, "--seed", "3")
    assert "style was fixed at export" in _one_line_error(r)


def test_a_file_that_is_not_onnx_and_an_onnx_model_from_elsewhere(tmp_path, geopix) -> None:
    import onnx
    from onnx import TensorProto, helper

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    region = write_raster(tmp_path / "region.tif", smooth_image(64, 64, 3, seed=4))
    for args in (("info", junk), ("-q", "translate", region, tmp_path / "o.tif", "--model", junk)):
        assert "is not an ONNX model" in _one_line_error(geopix(*args))
    node = helper.make_node("Relu", ["x"], ["y"])
    shape = ["batch", 3, 64, 64]
    graph = helper.make_graph([node], "foreign", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    foreign = tmp_path / "foreign.onnx"
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = 8
    entry = proto.metadata_props.add()
    entry.key, entry.value = "model_type", json.dumps("Segmentor")
    onnx.save(proto, str(foreign))
    r = geopix("-q", "translate", region, tmp_path / "o.tif", "--model", foreign)
    assert "without geopix metadata (its metadata keys: model_type)" in _one_line_error(r)
    info = geopix("info", foreign)
    assert info.code == 0 and "no geopix metadata" in info.out and "model_type: Segmentor" in info.out


def test_without_onnxruntime_one_line_says_how_to_install_it(tmp_path, geopix, exported, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    region = write_raster(tmp_path / "region.tif", np.zeros((3, 64, 64), np.uint8))
    r = geopix("-q", "translate", region, tmp_path / "o.tif", "--model", exported)
    assert "pip install 'geopix[onnx]'" in _one_line_error(r)


def test_shards_and_palette_run_through_onnx_as_a_whole_translate(tmp_path, geopix, tiny_model) -> None:
    import rasterio

    from tests.conftest import REPO

    onnx_file = tmp_path / "any.onnx"
    assert geopix("-q", "export", tiny_model, onnx_file).code == 0
    region = write_raster(tmp_path / "region.tif", smooth_image(200, 90, 3, seed=8))
    common = ["--model", onnx_file, "--tile-size", "64"]
    assert geopix("-q", "translate", region, tmp_path / "whole.tif", *common).code == 0
    (tmp_path / "parts").mkdir()
    for i in range(2):
        r = geopix("-q", "translate", region, tmp_path / "parts" / f"p{i}.tif", *common, "--shard", f"{i}/2")
        assert r.code == 0, r.err
    assert geopix("-q", "merge", tmp_path / "merged.tif", tmp_path / "parts").code == 0
    with rasterio.open(tmp_path / "whole.tif") as a, rasterio.open(tmp_path / "merged.tif") as b:
        assert np.array_equal(a.read(), b.read())
    palette = REPO / "examples" / "palettes" / "google_maps_pix2pix.json"
    r = geopix("-q", "translate", region, tmp_path / "classes.tif", *common, "--palette", palette)
    assert r.code == 0, r.err
    with rasterio.open(tmp_path / "classes.tif") as src:
        assert src.count == 1 and src.colormap(1)
