"""Class rasters in and out: codes + colour table + nodata, probabilities blended, per-class scores."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import rasterio

from tests.cli.conftest import metric_rows
from tests.conftest import REPO, smooth_image, write_raster

PALETTE = {10: (0, 90, 255, 255), 20: (40, 160, 40, 255), 30: (230, 230, 0, 255)}


@pytest.fixture(scope="module")
def class_pair(tmp_path_factory):
    """Imagery and a 3-class map (codes 10/20/30 by the imagery's brightness, a colour table, nodata 0
    in a corner that must never become a class)."""
    d = tmp_path_factory.mktemp("classes")
    img = smooth_image(192, 192, 3, seed=31)
    codes = np.where(img[0] < 90, 10, np.where(img[0] < 170, 20, 30)).astype(np.uint8)
    codes[:24, :24] = 0
    sat = write_raster(d / "sat.tif", img)
    mp = d / "classes.tif"
    with rasterio.open(mp, "w", driver="GTiff", width=192, height=192, count=1, dtype="uint8", crs="EPSG:32618",
                       transform=rasterio.transform.from_origin(500_000, 4_200_000, 10, 10), nodata=0) as dst:
        dst.write(codes[None])
        dst.write_colormap(1, {0: (0, 0, 0, 0), **PALETTE})
    return d, sat, mp, codes


@pytest.fixture(scope="module")
def class_model(class_pair):
    from geo_pix2pix.cli.main import main

    d, sat, mp, _ = class_pair
    run = d / "run"
    try:
        main(["train", "--imagery", str(sat), "--maps", str(mp), "--out", str(run), "--tile-size", "64", "--ngf", "8",
              "--ndf", "8", "--steps", "60", "--lr", "0.002", "--val-fraction", "0.2", "--device", "cpu"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return run


def test_training_infers_the_kind_and_records_the_classes(class_pair, tmp_path, geopix) -> None:
    d, sat, mp, _ = class_pair
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "r", "--tile-size", "64", "--ngf", "8",
               "--ndf", "8", "--steps", "2", "--val-fraction", "0", "--device", "cpu")
    assert r.code == 0, r.err
    assert "map kind: categorical (it has a colour table" in r.err and "validation accuracy" in r.out
    assert ("below the " in r.out or "above the " in r.out) and "everywhere" in r.out
    # classes are learnt by cross-entropy alone: the recipe line and metrics.csv show no L1 (issue 30)
    line = r.err.split("recipe cpu: ")[1].split(" (")[0]
    assert r.err.count("map kind:") == 1 and line.startswith("batch_size 4, lr 0.001, colour_jitter 1")
    assert "lambda_l1" not in line and "edge_weight" not in line
    rows = metric_rows(tmp_path / "r")
    assert all(row["G_L1"] == "" and float(row["G_CE"]) > 0 and row["G_GAN"] != "" for row in rows)
    from geo_pix2pix.files.modelfile import read_meta

    meta = read_meta(tmp_path / "r")
    assert meta.map_kind == "categorical"
    assert meta.output_stats.codes == (10, 20, 30) and meta.output_stats.nodata == 0
    assert meta.generator.out_channels == 3
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "r2", "--tile-size", "64",
               "--ngf", "8", "--ndf", "8", "--steps", "1", "--val-fraction", "0", "--device", "cpu",
               "--map-kind", "continuous", "--overwrite")
    assert r.code == 0, r.err
    assert read_meta(tmp_path / "r2").map_kind == "continuous"


def test_translate_writes_codes_with_the_colour_table_and_nodata(class_pair, class_model, tmp_path, geopix) -> None:
    d, sat, mp, codes = class_pair
    region = write_raster(tmp_path / "region.tif", smooth_image(150, 170, 3, seed=31)[:, :150, :170], nodata=None)
    # a masked corner in the region: nodata there, never a class
    with rasterio.open(region, "r+") as ds:
        m = np.full((150, 170), 255, np.uint8)
        m[-20:, -20:] = 0
        ds.write_mask(m)
    out = tmp_path / "classes_out.tif"
    r = geopix("translate", region, out, "--model", class_model)
    assert r.code == 0, r.err
    with rasterio.open(out) as o, rasterio.open(region) as s:
        assert (o.crs, o.transform, o.shape) == (s.crs, s.transform, s.shape)
        assert o.count == 1 and o.dtypes[0] == "uint8" and o.nodata == 0
        cmap = o.colormap(1)
        assert all(cmap[c] == col for c, col in PALETTE.items())
        a = o.read(1)
        assert set(np.unique(a[:-20, :-20]).tolist()) <= {10, 20, 30}
        assert (a[-20:, -20:] == 0).all()
        assert o.tags(1)["CLASS_10"] == "class 10" and o.tags()["GEOPIX_MAP_KIND"] == "categorical"
        assert o.overviews(1) == [] or o.overviews(1)[0] == 2
    # the classes follow the imagery: mostly right after 60 steps on this easy map
    r = geopix("evaluate", "--model", class_model, "--imagery", sat, "--maps", mp, "--json")
    assert r.code == 0, r.err
    ev = json.loads(r.out)
    assert ev["accuracy"] > 0.6 and set(ev["class_iou"]) == {"class 10", "class 20", "class 30"}
    assert len(ev["confusion"]["counts"]) == 3 and "L1" not in ev
    # the accuracy is read against a map of the majority class everywhere (issue 30)
    counts = [sum(row) for row in ev["confusion"]["counts"]]
    base = ev["majority_baseline"]
    assert base["accuracy"] == max(counts) / sum(counts) and base["class"] == ev["confusion"]["classes"][
        counts.index(max(counts))]
    r = geopix("evaluate", "--model", class_model, "--imagery", sat, "--maps", mp)
    first = r.out.splitlines()[0]
    verdict = "below" if ev["accuracy"] < base["accuracy"] else "above"
    assert f"accuracy {ev['accuracy']:.2%} ({verdict} the {base['accuracy']:.2%} of a map of '{base['class']}'" in first


def test_array_prediction_of_a_class_model_gives_codes(class_model) -> None:
    import geo_pix2pix as geopix

    model = geopix.load_model(class_model, device="cpu")
    img = smooth_image(100, 130, 3, seed=2)
    valid = np.ones((100, 130), bool)
    valid[:5] = False
    got = model.predict(img, mask=valid)
    assert got.shape == (1, 100, 130) and got.dtype == np.uint8
    assert set(np.unique(got.compressed()).tolist()) <= {10, 20, 30} and (got.data[:, :5] == 0).all()


def test_qgis_draws_the_class_raster_in_the_tables_colours(class_model, tmp_path, geopix) -> None:
    if not os.path.exists("/usr/bin/python3") or subprocess.run(
            ["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True).returncode:
        if os.environ.get("CI"):
            pytest.fail("PyQGIS missing in CI: .ci/run installs qgis and python3-qgis")
        pytest.skip("PyQGIS not installed")
    region = write_raster(tmp_path / "region.tif", smooth_image(128, 128, 3, seed=31))
    out = tmp_path / "classes.tif"
    assert geopix("-q", "translate", region, out, "--model", class_model).code == 0
    png = tmp_path / "render.png"
    r = subprocess.run(["/usr/bin/python3", str(REPO / "tests" / "qgis_render.py"), str(out), str(png)],
                       capture_output=True, text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    facts = json.loads(r.stdout.strip().splitlines()[-1])
    assert facts["valid"] and facts["renderer"] == "paletted" and facts["colorinterp"] == ["Palette"]
    from PIL import Image

    drawn = {tuple(int(v) for v in c) for c in np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)}
    table = {c[:3] for c in PALETTE.values()}
    assert drawn & table and len(drawn - table) <= 2  # every pixel drawn in a table colour (edges aside)


def test_probabilities_are_written_and_their_argmax_is_the_code(class_model, tmp_path, geopix) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(100, 120, 3, seed=33))
    codes, probs = tmp_path / "codes.tif", tmp_path / "probs.tif"
    r = geopix("-q", "translate", region, codes, "--model", class_model, "--probabilities", probs)
    assert r.code == 0, r.err
    with rasterio.open(codes) as c, rasterio.open(probs) as p:
        assert p.count == 3 and p.dtypes[0] == "float32" and p.descriptions == ("class 10", "class 20", "class 30")
        pr = p.read()
        np.testing.assert_allclose(pr.sum(0), 1.0, atol=1e-4)
        np.testing.assert_array_equal(np.array([10, 20, 30])[pr.argmax(0)], c.read(1))
    r = geopix("translate", region, tmp_path / "x.tif", "--model", class_model, "--probabilities", probs)
    assert r.code == 1 and "--overwrite" in r.err and not (tmp_path / "x.tif").exists()


def test_a_paletted_map_forced_to_values_is_warned_about(class_pair, tmp_path, geopix, pair_paths) -> None:
    d, sat, mp, _ = class_pair
    small = ["--steps", "1", "--tile-size", "64", "--ngf", "8", "--ndf", "8", "--val-fraction", "0", "--device", "cpu"]
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "p", "--map-kind", "continuous", *small)
    assert r.code == 0, r.err
    assert "has a colour table" in r.err and "--map-kind categorical" in r.err
    rgb_sat, rgb = pair_paths
    r = geopix("train", "--imagery", rgb_sat, "--maps", rgb, "--out", tmp_path / "q", *small)
    assert r.code == 0, r.err
    assert "colour table" not in r.err and "map kind: rendered" in r.err


def test_a_class_table_names_and_colours_the_classes_and_must_list_every_code(class_pair, tmp_path, geopix) -> None:
    d, sat, mp, _ = class_pair
    small = ["--steps", "1", "--tile-size", "64", "--ngf", "8", "--ndf", "8", "--val-fraction", "0", "--device", "cpu"]
    table = tmp_path / "classes.csv"
    table.write_text("code,name,r,g,b\n10,water,0,0,200\n20,forest,0,120,0\n30,fields,220,220,0\n40,snow,250,250,250\n")
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "t", "--class-table", table, *small)
    assert r.code == 0, r.err
    from geo_pix2pix.files.modelfile import read_meta

    classes = read_meta(tmp_path / "t").output_stats
    assert classes.codes == (10, 20, 30, 40) and classes.names == ("water", "forest", "fields", "snow")
    assert classes.colors[0] == (0, 0, 200, 255)  # the file's colour wins over the map's colour table
    short = tmp_path / "short.json"
    short.write_text(json.dumps({"classes": [{"code": 10, "name": "water"}, {"code": 20, "name": "forest"}]}))
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "u", "--class-table", short, *small)
    assert r.code == 1 and "the map holds codes 30 that class table" in r.err
    assert not (tmp_path / "u").exists()


def test_balance_classes_weighs_rare_classes_up(class_pair, tmp_path, geopix, pair_paths) -> None:
    d, sat, mp, codes = class_pair
    small = ["--steps", "2", "--tile-size", "64", "--ngf", "8", "--ndf", "8", "--val-fraction", "0", "--device", "cpu"]
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "b", "--balance-classes", *small)
    assert r.code == 0, r.err
    record = json.loads((tmp_path / "b" / "class_balance.json").read_text())
    assert set(record) == {"class 10", "class 20", "class 30"}
    by_freq = sorted(record.values(), key=lambda v: v["frequency"])
    assert by_freq[0]["weight"] > by_freq[-1]["weight"]  # the rarest class weighs most
    total = sum(v["frequency"] * v["weight"] for v in record.values())
    assert abs(total - 1) < 1e-3  # the expected weight is 1: the loss keeps its scale
    rgb_sat, rgb = pair_paths
    r = geopix("train", "--imagery", rgb_sat, "--maps", rgb, "--out", tmp_path / "c", "--balance-classes", *small)
    assert r.code == 1 and "--balance-classes weighs the classes of a categorical map" in r.err


def test_info_shows_the_kind_and_the_classes(class_model, geopix) -> None:
    r = geopix("info", class_model)
    assert r.code == 0, r.err
    assert "map kind:    categorical" in r.out and "3 classes as uint8 codes, nodata 0" in r.out
    assert "class    10: class 10 (rgb 0,90,255)" in r.out
