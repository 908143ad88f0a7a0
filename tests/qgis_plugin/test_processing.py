"""The provider inside PyQGIS: every algorithm run through ``processing.run``, headless.

One PyQGIS session (pyqgis_driver.py) runs all the cases of this module in order (starting QGIS
and Processing once), then each test checks its cases' results against the command line's own
outputs: the same pixels, geopix's own messages, nothing half-written after a cancel.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from PIL import Image
from shapely.geometry import LineString, box

from tests.conftest import EXAMPLES, smooth_image, write_raster
from tests.qgis_plugin.conftest import drive

UTM = "EPSG:32618"
TINY_TRAIN = "--ngf 8 --ndf 8 --workers 0 --val-fraction 0 --val-every 100000 --no-amp"
SPADE = (f"{TINY_TRAIN} --n-up 2 --spade-hidden 8 --num-d 1 --d-layers 2 --batch-size 2 --all-touched "
         "--checkpoint-every 100000")
ALGORITHMS = ["translate", "inpaint", "translate_layout", "evaluate", "merge", "train", "info"]
PALETTE = EXAMPLES.parent / "palettes" / "google_maps_sat2maps.json"


def _inputs(d: Path, tiny_model: Path) -> dict[str, Path]:
    """Rasters and layers for the cases (a real sample where pixels are compared)."""
    img = smooth_image(192, 192, 3, seed=5)
    pan = (smooth_image(96, 96, 1, seed=7).astype(np.uint16) * 40 + 1)
    p = {"model": tiny_model, "real": EXAMPLES / "charlotte_sat.tif", "real_map": EXAMPLES / "charlotte_map.tif",
         "sat": write_raster(d / "sat.tif", img), "map": write_raster(d / "map.tif", (255 - img).astype(np.uint8)),
         "big": write_raster(d / "big.tif", smooth_image(1024, 1024, 3, seed=6)),
         "one_band": write_raster(d / "one_band.tif", img[:1]), "pan": write_raster(d / "pan.tif", pan, nodata=0),
         "holes": d / "clouds.gpkg", "buildings": d / "buildings.gpkg", "roads": d / "roads.geojson",
         "existing": d / "existing.tif", "out": d / "out", "parts": d / "parts",
         "classes": write_raster(d / "classes.tif", (img.mean(0) // 64).astype(np.uint8) + 1)}
    with rasterio.open(p["classes"], "r+") as ds:  # a categorical map: class codes with a colour table
        ds.write_colormap(1, {1: (230, 25, 75, 255), 2: (60, 180, 75, 255), 3: (255, 225, 25, 255),
                              4: (0, 130, 200, 255)})
    gpd.GeoDataFrame(geometry=[box(500_200, 4_199_400, 500_300, 4_199_500)], crs=UTM).to_file(p["holes"])
    gpd.GeoDataFrame(geometry=[box(500_100, 4_199_300, 500_300, 4_199_500), box(500_500, 4_199_500, 500_800,
                                                                                4_199_800)], crs=UTM).to_file(
        p["buildings"])
    gpd.GeoDataFrame(geometry=[LineString([(500_000, 4_199_600), (500_960, 4_199_600)])], crs=UTM).to_file(p["roads"])
    p["existing"].write_bytes(b"an earlier result the user wants to keep")
    p["parts"].mkdir()
    (p["out"] / "canceled").mkdir(parents=True)
    return p


def _cases(p: dict[str, Path]) -> list[dict]:
    s = {k: str(v) for k, v in p.items()}
    out = s["out"]
    translate = {"INPUT": s["real"], "MODEL": s["model"], "DEVICE": "cpu"}
    run = lambda id, alg, params, **kw: {"id": id, "kind": "run", "alg": f"geopix:{alg}", "params": params, **kw}  # noqa: E731
    return [
        run("translate", "translate", {**translate, "OUTPUT": "TEMPORARY_OUTPUT"}),
        run("train_classes", "train", {"IMAGERY": [s["sat"]], "MAPS": [s["classes"]], "STEPS": 2, "TILE_SIZE": 64,
                                       "DEVICE": "cpu", "OUTPUT": f"{out}/classes_run", "EXTRA_OPTIONS": TINY_TRAIN}),
        run("train_started", "train", {"IMAGERY": [s["sat"]], "MAPS": [s["map"]], "STEPS": 2, "TILE_SIZE": 64,
                                       "INIT_FROM": s["model"], "DEVICE": "cpu", "OUTPUT": f"{out}/started_run",
                                       "EXTRA_OPTIONS": TINY_TRAIN}),
        run("classes", "translate", {**translate, "INPUT": s["sat"], "MODEL": f"{out}/classes_run",
                                     "OUTPUT": f"{out}/classes.tif"}),
        {"id": "classes_layer", "kind": "layer", "path": f"{out}/classes.tif", "png": f"{out}/classes.png"},
        {"id": "classes_gui", "kind": "gui_run", "alg": "geopix:translate", "load": ["OUTPUT"],
         "params": {**translate, "INPUT": s["sat"], "MODEL": f"{out}/classes_run", "OUTPUT": f"{out}/gui.tif"}},
        run("palette", "translate", {**translate, "PALETTE": str(PALETTE), "OUTPUT": f"{out}/palette.tif"}),
        run("forced", "translate", {**translate, "FORCE": True, "OUTPUT": f"{out}/forced.tif"}),
        {"id": "palette_layer", "kind": "layer", "path": f"{out}/palette.tif", "png": f"{out}/palette.png"},
        *({"id": f"dialogs_{a}", "kind": "dialogs", "alg": f"geopix:{a}"} for a in ALGORITHMS),
        run("missing_raster", "translate", {**translate, "INPUT": f"{out}/nope.tif", "OUTPUT": f"{out}/o1.tif"}),
        run("missing_model", "translate", {**translate, "MODEL": f"{out}/no_model", "OUTPUT": f"{out}/o2.tif"}),
        run("wrong_model", "inpaint", {"INPUT": s["sat"], "MODEL": s["model"], "OUTPUT": f"{out}/o3.tif",
                                       "RECORD": "TEMPORARY_OUTPUT"}),
        run("wrong_bands", "translate", {**translate, "INPUT": s["one_band"], "OUTPUT": f"{out}/o4.tif"}),
        run("existing", "translate", {**translate, "INPUT": s["sat"], "OUTPUT": s["existing"]}),
        run("cancel_translate", "translate", {**translate, "INPUT": s["big"], "TILE_SIZE": 64, "OVERLAP": 32,
                                              "BATCH_SIZE": 1, "OUTPUT": f"{out}/canceled/map.tif"},
            cancel_when_progress=True),
        run("cancel_train", "train", {"IMAGERY": [s["sat"]], "MAPS": [s["map"]], "OUTPUT": f"{out}/run",
                                      "STEPS": 100000, "TILE_SIZE": 64, "DEVICE": "cpu",
                                      "EXTRA_OPTIONS": f"{TINY_TRAIN} --checkpoint-every 100000"},
            cancel_when_progress=True),
        run("resume", "train", {"OUTPUT": f"{out}/run", "RESUME": True, "DEVICE": "cpu"},
            steps_after=["cancel_train", 2]),
        run("train_inpaint", "train", {"IMAGERY": [s["pan"]], "TASK": "inpaint", "STEPS": 2, "TILE_SIZE": 64,
                                       "DEVICE": "cpu", "OUTPUT": f"{out}/inpaint_run",
                                       "EXTRA_OPTIONS": f"{TINY_TRAIN} --batch-size 2"}),
        run("inpaint", "inpaint", {"INPUT": s["pan"], "MODEL": f"{out}/inpaint_run", "HOLES": s["holes"],
                                   "TILE_SIZE": 64, "DEVICE": "cpu", "OUTPUT": f"{out}/filled.tif",
                                   "RECORD": f"{out}/filled_record.tif"}),
        run("train_spade", "train", {"IMAGERY": [s["pan"]], "LAYOUT": [s["buildings"], s["roads"]],
                                     "FAMILY": "spade", "DIRECTION": "map2sat", "STEPS": 2, "TILE_SIZE": 32,
                                     "DEVICE": "cpu", "OUTPUT": f"{out}/spade_run", "EXTRA_OPTIONS": SPADE}),
        run("layout", "translate_layout", {"LAYERS": [s["buildings"], s["roads"]], "LIKE": s["pan"],
                                           "ALL_TOUCHED": True, "MODEL": f"{out}/spade_run", "DEVICE": "cpu",
                                           "OUTPUT": f"{out}/painted.tif"}),
        run("layout_extent", "translate_layout", {"LAYERS": [s["buildings"]], "MODEL": f"{out}/spade_run",
                                                  "EXTENT": f"500000,500640,4199360,4200000 [{UTM}]",
                                                  "RESOLUTION": 10, "DEVICE": "cpu",
                                                  "OUTPUT": f"{out}/painted_extent.tif"}),
        run("evaluate", "evaluate", {"MODEL": s["model"], "IMAGERY": s["real"], "MAPS": s["real_map"],
                                     "PALETTE": str(PALETTE), "DEVICE": "cpu", "OUTPUT": f"{out}/report.json"}),
        run("merge", "merge", {"FOLDER": s["parts"], "OUTPUT": f"{out}/merged.tif"}),
        run("info", "info", {"INPUT": s["model"]}),
        {"id": "chain", "kind": "model", "children": [
            {"id": "paint", "alg": "geopix:translate", "params": {"INPUT": s["sat"], "MODEL": s["model"],
                                                                  "DEVICE": "cpu"}},
            {"id": "fill", "alg": "native:fillnodata", "params": {"BAND": 1, "FILL_VALUE": 0},
             "from": {"INPUT": ["paint", "OUTPUT"]}, "outputs": {"filled": "OUTPUT"}}],
         "params": {"fill:filled": f"{out}/chain.tif"}},
    ]


@pytest.fixture(scope="module")
def session(tmp_path_factory, tiny_model):
    """Inputs, reference outputs of the command line, and the results of every case."""
    from geo_pix2pix.cli.main import main

    d = tmp_path_factory.mktemp("qgis")
    p = _inputs(d, tiny_model)
    for i in range(2):  # shards for the merge case, by the command line
        try:
            main(["-q", "translate", str(p["sat"]), str(p["parts"] / f"part-{i}.tif"), "--model", str(tiny_model),
                  "--device", "cpu", "--tile-size", "64", "--shard", f"{i}/2"])
        except SystemExit as exc:
            assert not exc.code
    return p, drive(d, _cases(p))


def _read(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def _ok(res: dict) -> dict:
    assert res.get("ok"), res.get("error") or res.get("crash") or res
    return res


def test_translate_writes_the_pixels_geopix_translate_writes(session, geopix, tmp_path) -> None:
    p, results = session
    res = _ok(results["translate"])
    ref = tmp_path / "ref.tif"
    assert geopix("-q", "translate", p["real"], ref, "--model", p["model"], "--device", "cpu").code == 0
    out = res["results"]["OUTPUT"]
    assert np.array_equal(_read(out), _read(ref))
    with rasterio.open(out) as o, rasterio.open(p["real"]) as src:
        assert (o.crs, o.transform, o.width, o.height) == (src.crs, src.transform, src.width, src.height)
    assert any(kind == "command" and "--progress json translate" in text for kind, text in res["log"])
    assert res["progress"][-1] == 100.0 and len(res["progress"]) > 1


def test_force_reaches_geopix_as_its_option(session) -> None:
    """FORCE is translate's --force (go on with a region that looks like the other side of the pair);
    on a region that passes the check it changes nothing."""
    _, results = session
    res = _ok(results["forced"])
    assert any(kind == "command" and " --force" in text for kind, text in res["log"])
    assert np.array_equal(_read(res["results"]["OUTPUT"]), _read(_ok(results["translate"])["results"]["OUTPUT"]))


def test_a_run_starts_from_the_folder_given(session) -> None:
    """INIT_FROM is train's --init-from: the new run's generator starts from the tiny model's."""
    p, results = session
    res = _ok(results["train_started"])
    assert any(kind == "command" and f" --init-from {p['model']}" in text for kind, text in res["log"])
    assert any("tensors copied" in text for _, text in res["log"])
    assert res["results"]["STEP"] == 2


def test_every_dialog_is_built_and_the_provider_can_execute(session) -> None:
    _, results = session
    for alg in ALGORITHMS:
        res = _ok(results[f"dialogs_{alg}"])
        assert res["built"] == ["dialog", "batch", "modeler"] and res["can_execute"], res


@pytest.mark.parametrize(("case", "message"), [
    ("missing_raster", "Could not load source layer for INPUT: {out}/nope.tif not found"),  # Processing's own check
    ("missing_model", "geopix: error: no model at {out}/no_model"),
    ("wrong_model", "is a pix2pix model (sat2map); geopix inpaint needs a model trained with --task inpaint"),
    ("wrong_bands", "has 1 band(s) but the model reads bands 1,2,3"),
    ("existing", "geopix: error: output {existing} exists; pass --overwrite to replace it (here: OVERWRITE"),
])
def test_bad_input_fails_with_the_message_naming_it(session, case, message) -> None:
    p, results = session
    res = results[case]
    assert res["ok"] is False and "crash" not in res
    assert message.format(out=p["out"], existing=p["existing"]) in res["error"]
    assert len(res["error"].strip().splitlines()) <= 2  # one line (Processing prefixes its own for its checks)
    assert p["existing"].read_bytes() == b"an earlier result the user wants to keep"
    assert not list(p["out"].glob("o[0-9].tif"))


def test_cancel_during_translate_leaves_no_output(session) -> None:
    p, results = session
    res = results["cancel_translate"]
    assert res["canceled"] and res["ok"] is False
    assert res["error"] == "canceled: geopix: interrupted by Ctrl-C"  # as geopix reports it
    folder = p["out"] / "canceled"
    assert folder.is_dir() and list(folder.iterdir()) == []  # no output, no partial file


def test_cancel_during_train_checkpoints_and_resume_continues(session) -> None:
    p, results = session
    res = results["cancel_train"]
    assert res["canceled"] and res["ok"] is False
    step = int(re.search(r"interrupted by Ctrl-C at step (\d+) \(after the step\); checkpoint saved", res["error"])[1])
    assert any("Resume checked" in text for _, text in res["log"])
    assert any(re.match(r"step \d+/100000: D=", text) for _, text in res["log"])  # the losses reach the log
    resumed = _ok(results["resume"])
    assert resumed["params"]["STEPS"] == step + 2 and resumed["results"]["STEP"] == step + 2
    run = p["out"] / "run"
    with open(run / "metrics.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, step + 3))
    assert resumed["results"]["MODEL"] == str(run / "model.safetensors")


@pytest.mark.parametrize("case", ["classes", "palette"])  # a categorical model; an RGB model read through a palette
def test_class_outputs_load_as_paletted_layers_in_the_tables_colours(session, case) -> None:
    p, results = session
    _ok(results[case])
    layer = results[f"{case}_layer"]
    assert layer["valid"] and layer["renderer"] == "paletted" and layer["rendered"]
    with rasterio.open(p["out"] / f"{case}.tif") as src:
        codes, table = src.read(1), src.colormap(1)
    colours = {int(v): "#{:02x}{:02x}{:02x}".format(*table[v][:3]) for v in np.unique(codes)}
    assert {v: c for v, c, _ in layer["classes"] if v in colours} == colours
    # the render, pixel for pixel: each pixel in its class's colour
    png = np.asarray(Image.open(p["out"] / f"{case}.png").convert("RGB"))
    # the table GDAL reads ends at the highest class code (the sidecar's); codes above it are no class
    expected = np.array([table.get(v, (0, 0, 0))[:3] for v in range(256)], np.uint8)[codes]
    assert png.shape == expected.shape
    assert (png == expected).all(axis=-1).mean() > 0.99
    if case == "classes":
        assert len(colours) > 1 and _ok(results["train_classes"])


def test_a_class_map_loads_into_the_project_with_its_classes_by_name(session) -> None:
    """As the dialog runs it: the output joins the project styled by geopix's classes (names, colours,
    only the classes the model knows), not by the colour table's 256 numbered codes."""
    p, results = session
    res = _ok(results["classes_gui"])
    layer = res["layers"][str(p["out"] / "gui.tif")]
    assert layer["renderer"] == "paletted"
    assert layer["classes"] == [[1, "#e6194b", "class 1"], [2, "#3cb44b", "class 2"], [3, "#ffe119", "class 3"],
                                [4, "#0082c8", "class 4"]]


def test_inpaint_fills_the_polygons_and_records_them(session) -> None:
    p, results = session
    assert _ok(results["train_inpaint"])["results"]["STEP"] == 2
    res = _ok(results["inpaint"])
    assert res["results"] == {"OUTPUT": str(p["out"] / "filled.tif"), "RECORD": str(p["out"] / "filled_record.tif")}
    record = _read(p["out"] / "filled_record.tif")[0]
    filled = record == 1
    assert filled.sum() == 100  # the 100 m square is 10 x 10 pixels of 10 m
    assert (_read(p["out"] / "filled.tif")[0][~filled] == _read(p["pan"])[0][~filled]).all()


def test_translate_layout_paints_vector_layers_on_a_grid(session, geopix, tmp_path) -> None:
    p, results = session
    _ok(results["train_spade"])
    _ok(results["layout"])
    ref = tmp_path / "ref.tif"
    r = geopix("-q", "translate", "--model", p["out"] / "spade_run", "--layout", p["buildings"], "--layout",
               p["roads"], "--all-touched", "--like", p["pan"], ref, "--device", "cpu")
    assert r.code == 0, r.err
    assert np.array_equal(_read(p["out"] / "painted.tif"), _read(ref))
    _ok(results["layout_extent"])
    with rasterio.open(p["out"] / "painted_extent.tif") as o:
        assert (o.width, o.height, o.transform.c, o.transform.f, o.crs.to_epsg()) == (64, 64, 500_000, 4_200_000,
                                                                                       32618)


def test_evaluate_gives_the_scores_as_numbers_and_a_report(session) -> None:
    import json

    p, results = session
    res = _ok(results["evaluate"])
    report = json.loads((p["out"] / "report.json").read_text())
    assert res["results"]["L1"] == pytest.approx(report["L1"]) and res["results"]["MIOU"] == pytest.approx(
        report["mIoU"])
    assert all(isinstance(res["results"][k], float) for k in ("L1", "PSNR", "SSIM", "PIXEL_ACCURACY", "MIOU"))


def test_merge_joins_the_shards_into_the_translate_output(session, geopix, tmp_path) -> None:
    p, results = session
    _ok(results["merge"])
    ref = tmp_path / "whole.tif"
    assert geopix("-q", "translate", p["sat"], ref, "--model", p["model"], "--device", "cpu", "--tile-size",
                  "64").code == 0
    assert np.array_equal(_read(p["out"] / "merged.tif"), _read(ref))


def test_info_describes_the_model(session) -> None:
    res = _ok(session[1]["info"])
    assert "family:      pix2pix" in res["results"]["OUTPUT"] and "direction:   sat2map" in res["results"]["OUTPUT"]


def test_a_processing_model_chains_geopix_and_a_qgis_algorithm(session) -> None:
    p, results = session
    res = _ok(results["chain"])
    assert res["results"]["fill:filled"] == str(p["out"] / "chain.tif")
    assert _read(p["out"] / "chain.tif").shape == (1, 192, 192)
