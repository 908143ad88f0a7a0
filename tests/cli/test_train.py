"""`geopix train`, `evaluate` and `info` on a model, through the real entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from geo_pix2pix.files.modelfile import read_meta
from tests.cli.conftest import SMALL, metric_rows
from tests.conftest import EXAMPLES, real, same_model, sha256, smooth_image, train_resumed, write_raster


def test_two_step_training_writes_every_artefact(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    before = sha256(sat), sha256(mp)
    run = tmp_path / "runs" / "r1"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "2",
               "--val-every", "1", "--val-fraction", "0", *SMALL)
    assert r.code == 0, r.err
    assert "trained to step 2" in r.out
    for name in ["model.safetensors", "checkpoint.pt", "metrics.csv", "loss.png", "config.json",
                 "samples/step_000001.png", "samples/step_000002.png"]:
        assert (run / name).is_file(), name
    assert (tmp_path / "runs" / "latest").resolve() == run.resolve()
    assert [r["step"] for r in metric_rows(run)] == ["1", "2"]
    meta = read_meta(run / "model.safetensors")
    assert meta.step == 2 and meta.direction == "sat2map" and meta.tile_size == 64
    assert meta.pairs[0]["crs_name"] == "EPSG:32618" and meta.pairs[0]["pixel_size"] == [10.0, 10.0]
    assert (sha256(sat), sha256(mp)) == before
    info = geopix("info", run)
    assert info.code == 0 and "sat2map (3 -> 3 bands)" in info.out and "2 steps" in info.out
    ev = geopix("evaluate", "--model", run, "--imagery", sat, "--maps", mp, "--json", "--device", "cpu")
    assert ev.code == 0 and '"pixel_accuracy"' in ev.out


@pytest.mark.parametrize("variant", ["rgb", "palette_head", "ema"])
def test_resume_is_exact(tmp_path, geopix, tiny_pair, variant) -> None:
    sat, mp = tiny_pair
    common = ["--imagery", sat, "--maps", mp, "--steps", "6", "--val-every", "3", "--seed", "5",
              "--checkpoint-every", "2", "--val-fraction", "0", *SMALL]
    if variant == "ema":
        common += ["--ema-decay", "0.5"]
    if variant == "palette_head":
        pal = tmp_path / "pal.json"
        pal.write_text(json.dumps({"classes": [{"name": "dark", "colors": [[40, 40, 40]]},
                                               {"name": "light", "colors": [[230, 230, 230]]}]}))
        common += ["--palette-head", pal]
    straight = tmp_path / "straight"
    assert geopix("-q", "train", *common, "--out", straight).code == 0
    split = train_resumed(geopix, common, tmp_path / "split", 3)
    assert same_model(straight, split)
    assert metric_rows(straight) == metric_rows(split)  # same losses, steps 1..6 once each
    assert [r["step"] for r in metric_rows(split)] == [str(i) for i in range(1, 7)]


def test_r1_steps_are_logged_and_resume_exactly(tmp_path, geopix, tiny_pair) -> None:
    # --r1-gamma: the penalty on every 16th step (0-based 0 and 16: rows 1 and 17), and a resume
    # between them lands on the same weights as a straight run
    sat, mp = tiny_pair
    common = ["--imagery", sat, "--maps", mp, "--steps", "18", "--seed", "3", "--val-every", "9",
              "--checkpoint-every", "9", "--val-fraction", "0", "--r1-gamma", "1", *SMALL]
    straight = tmp_path / "straight"
    assert geopix("-q", "train", *common, "--out", straight).code == 0
    split = train_resumed(geopix, common, tmp_path / "split", 9)
    assert same_model(straight, split)
    rows = metric_rows(split)
    assert rows == metric_rows(straight)
    assert [r["step"] for r in rows if r["D_R1"]] == ["1", "17"] and float(rows[16]["D_R1"]) > 0


def test_model_file_holds_the_average_and_checkpoint_both(tmp_path, geopix, tiny_pair) -> None:
    import torch

    sat, mp = tiny_pair
    runs = {}
    for name, ema in (("plain", "0"), ("ema", "0.9")):
        runs[name] = tmp_path / name
        r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--steps", "4", "--seed", "2",
                   "--val-fraction", "0", "--ema-decay", ema, "--out", runs[name], *SMALL)
        assert r.code == 0, r.err
    plain = torch.load(runs["plain"] / "checkpoint.pt", weights_only=True)
    avg = torch.load(runs["ema"] / "checkpoint.pt", weights_only=True)
    assert "G_ema" not in plain and "G_ema" in avg
    model_plain = load_file(runs["plain"] / "model.safetensors")
    model_avg = load_file(runs["ema"] / "model.safetensors")
    weights = [k for k in model_avg if k.endswith(".weight")]
    assert all(torch.equal(model_plain[k], plain["G"][k]) for k in model_plain)
    assert all(torch.equal(model_avg[k], avg["G_ema"][k]) for k in model_avg)
    assert all(torch.equal(avg["G"][k], plain["G"][k]) for k in plain["G"])  # the average does not change training
    assert any(not torch.equal(model_avg[k], avg["G"][k]) for k in weights)


def test_resume_drops_metric_rows_written_after_the_checkpoint(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    run = tmp_path / "run"
    assert geopix("-q", "train", "--imagery", sat, "--maps", mp, "--steps", "4", "--stop-at", "2",
                  "--val-fraction", "0", "--out", run, *SMALL).code == 0
    with open(run / "metrics.csv", "a") as f:  # as if killed after logging steps 3-4 without a checkpoint
        f.write("3,0.0002,1,1,1,1,,,,\n4,0.0002,1,1,1,1,,,,\n")
    assert geopix("-q", "train", "--resume", run).code == 0
    assert [r["step"] for r in metric_rows(run)] == ["1", "2", "3", "4"]


def test_train_refuses_existing_run_and_bad_generator(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    run = tmp_path / "run"
    assert geopix("-q", "train", "--imagery", sat, "--maps", mp, "--steps", "1", "--out", run,
                  "--val-fraction", "0", *SMALL).code == 0
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--steps", "1", "--out", run, *SMALL)
    assert r.code == 1 and "--resume" in r.err
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "x",
               "--generator", "smp:nonet", *SMALL)
    assert r.code == 1 and "unknown smp encoder 'nonet'; valid names:" in r.err
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "y", "--tile-size", "80",
               "--workers", "0", "--device", "cpu")
    assert r.code == 1 and "multiple of 32" in r.err
    r = geopix("-q", "train", "--resume", tmp_path / "nothing")
    assert r.code == 1 and "not a geopix run directory" in r.err
    r = geopix("-q", "train", "--maps", mp)
    assert r.code == 2 and "0 --imagery but 1 --maps: give them in pairs" in r.err
    r = geopix("-q", "train", "--out", tmp_path / "z")
    assert r.code == 2 and "--imagery and --maps are required" in r.err


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["sat2map", "map2sat"])
def test_real_google_pair_trains_in_both_directions(tmp_path, geopix, direction) -> None:
    sat = real("google_sat2maps/000008_Charlotte_sat.tif")
    mp = real("google_sat2maps/000008_Charlotte_map.tif")
    run = tmp_path / direction
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--direction", direction, "--steps", "3",
               "--val-every", "3", "--out", run, "--tile-size", "128", "--ngf", "16", "--ndf", "16",
               "--workers", "1", "--device", "cpu")
    assert r.code == 0, r.err
    meta = read_meta(run)
    assert meta.direction == direction and meta.pairs[0]["crs_name"] == "EPSG:3857"
    rows = metric_rows(run)
    assert rows[-1]["val_PSNR"] and float(rows[-1]["val_PSNR"]) > 0


def test_smp_generator_trains(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    run = tmp_path / "smp"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--steps", "1", "--out", run,
               "--generator", "smp:resnet18", "--val-fraction", "0", *SMALL)
    assert r.code == 0, r.err
    assert read_meta(run).generator.name == "smp:resnet18"


def test_unet_shape_is_recorded_and_translate_takes_tiles_of_its_stride(tmp_path, geopix, tiny_pair) -> None:
    # --unet-depth 5 on 64-pixel windows (2x2 bottleneck instead of 1x1), resize upsampling: the
    # model file records both, so translate rebuilds the same network (a mismatch would fail to
    # load the weights), and any multiple of 32 is a valid tile.
    sat, mp = tiny_pair
    run = tmp_path / "d5"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--steps", "1", "--out", run, "--unet-depth", "5",
               "--upsample", "resize", "--val-fraction", "0", *SMALL)
    assert r.code == 0, r.err
    assert (read_meta(run).generator.depth, read_meta(run).generator.upsample) == (5, "resize")
    assert "unet: 5 levels; tiles in multiples of 32" in geopix("info", run).out
    t = geopix("-q", "translate", sat, tmp_path / "out.tif", "--model", run, "--tile-size", "96", "--device", "cpu")
    assert t.code == 0, t.err


def test_epochs_set_the_number_of_steps(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--epochs", "0.5",
               "--batch-size", "2", "--val-fraction", "0", *[a for a in SMALL])
    assert r.code == 0, r.err
    # 192x192 px of 64-px tiles = 9 tile areas per epoch -> 0.5 epoch at batch 2 = ceil(4.5 / 2) = 3 steps.
    assert [r["step"] for r in metric_rows(run)] == ["1", "2", "3"]
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "x", "--epochs", "1",
               "--steps", "3", *SMALL)
    assert r.code == 2 and "not several" in r.err


def test_pairs_csv_and_repeated_options_train_one_model(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    img2 = smooth_image(160, 224, 3, seed=12)
    sub = tmp_path / "more"
    sub.mkdir()
    write_raster(sub / "s2.tif", img2)
    write_raster(sub / "m2.tif", (255 - img2).astype(np.uint8))
    csv_path = sub / "pairs.csv"
    csv_path.write_text("imagery,map\ns2.tif,m2.tif\n")  # relative to the CSV
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--pairs", csv_path, "--out", run, "--steps", "2",
               *SMALL)
    assert r.code == 0, r.err
    meta = read_meta(run)
    assert [p["imagery"] for p in meta.pairs] == [str(sat), str(sub / "s2.tif")]
    bad = sub / "bad.csv"
    bad.write_text("only-one-column\n")
    r = geopix("-q", "train", "--pairs", bad, "--out", tmp_path / "x", *SMALL)
    assert r.code == 2 and "expected 'imagery,map'" in r.err


def test_aligned_directory_trains_and_evaluates_with_a_palette(tmp_path, geopix) -> None:
    import shutil

    d = tmp_path / "aligned"
    d.mkdir()
    for name in ["1.png", "10.png", "100.png", "1000.png", "1001.png"]:
        shutil.copy(real(f"maps256/{name}"), d / name)
    run = tmp_path / "run"
    r = geopix("-q", "train", "--aligned-dir", d, "--out", run, "--steps", "2", "--tile-size", "128",
               "--ngf", "8", "--ndf", "8", "--workers", "0", "--device", "cpu")
    assert r.code == 0, r.err
    meta = read_meta(run)
    assert len(meta.pairs) == 5 and [p["held_out"] for p in meta.pairs] == [False] * 4 + [True]
    palette = EXAMPLES.parent / "palettes" / "google_maps_pix2pix.json"
    ev = geopix("evaluate", "--model", run, "--aligned-dir", d, "--palette", palette, "--json", "--device", "cpu")
    assert ev.code == 0, ev.err
    import json

    out = json.loads(ev.out)
    # The held-out image is scored whole, on the 256-pixel tile translate would use, so the score is
    # the one of the whole image predicted at once.
    assert out["windows"] == "val" and out["count"] == 1 and out["tile_sizes"] == [256]
    assert set(out["class_iou"]) == {"background", "buildings", "roads", "parks", "water", "highways"}
    assert 0 <= out["mIoU"] <= 1
    from PIL import Image

    from geo_pix2pix.evaluation.metrics import MetricAccumulator
    from geo_pix2pix.inference.predict import Predictor

    pred = Predictor(run, "cpu")
    img = np.asarray(Image.open(d / "1001.png")).transpose(2, 0, 1)
    sat, ref = (meta.input_stats.normalize(img[:, :, :256]), meta.output_stats.normalize(img[:, :, 256:]))
    acc = MetricAccumulator()
    acc.add(pred(sat[None]), ref[None], np.ones((1, 1, 256, 256), bool))
    assert out["L1"] == pytest.approx(acc.result().L1, rel=1e-4)
    tta = geopix("evaluate", "--model", run, "--aligned-dir", d, "--tta", "--json", "--device", "cpu")
    assert tta.code == 0, tta.err
    acc = MetricAccumulator()
    acc.add(Predictor(run, "cpu", tta=True)(sat[None]), ref[None], np.ones((1, 1, 256, 256), bool))
    assert json.loads(tta.out)["L1"] == pytest.approx(acc.result().L1, rel=1e-4)
    assert json.loads(tta.out)["tta"] is True and out["tta"] is False
    assert json.loads(tta.out)["L1"] != out["L1"]  # the 8-transform average was scored, not the plain output
    small = geopix("evaluate", "--model", run, "--aligned-dir", d, "--tile-size", "128", "--json", "--device", "cpu")
    assert small.code == 0, small.err
    assert json.loads(small.out)["count"] == 4 and json.loads(small.out)["L1"] != out["L1"]  # 2x2 windows
    bad = geopix("evaluate", "--model", run, "--aligned-dir", d, "--tile-size", "100", "--device", "cpu")
    assert bad.code != 0 and "multiples of" in bad.err and "Traceback" not in bad.err
    r = geopix("-q", "train", "--aligned-dir", d, "--imagery", d / "1.png", "--out", tmp_path / "x")
    assert r.code == 2 and "cannot be combined" in r.err


def _config(run):
    import json

    return json.loads((run / "config.json").read_text())


def test_cpu_recipe_fills_what_is_not_given_and_paper_keeps_the_papers_settings(tmp_path, geopix, tiny_pair) -> None:
    from geo_pix2pix.training.config import CPU_RECIPE

    sat, mp = tiny_pair
    base = ["--imagery", sat, "--maps", mp, "--steps", "1", "--val-fraction", "0", "--workers", "0",
            "--device", "cpu"]
    r = geopix("train", *base, "--out", tmp_path / "cpu", "--ngf", "8")
    assert r.code == 0, r.err
    assert "recipe cpu:" in r.err and "ngf" not in r.err.split("recipe cpu:")[1].split("(")[0]
    c = _config(tmp_path / "cpu")
    assert c["recipe"] == "cpu" and c["ngf"] == 8  # given on the command line: kept
    for k, v in CPU_RECIPE.items():
        if k != "ngf":
            assert c[k] == v, k
    assert read_meta(tmp_path / "cpu" / "model.safetensors").tile_size == CPU_RECIPE["tile"]

    r = geopix("-q", "train", *base, "--out", tmp_path / "paper", "--recipe", "paper", "--ngf", "8", "--ndf", "8",
               "--tile-size", "64")
    assert r.code == 0, r.err
    c = _config(tmp_path / "paper")
    assert (c["recipe"], c["tile"], c["batch_size"], c["lr"], c["lambda_l1"]) == ("paper", 64, 1, 2e-4, 100.0)


@pytest.mark.slow
def test_compiled_training_saves_plain_weights_that_translate(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "2", "--compile",
               "--val-fraction", "0", "--batch-size", "2", *SMALL)
    assert r.code == 0, r.err
    keys = load_file(run / "model.safetensors").keys()
    assert keys and not any("_orig_mod" in k for k in keys)
    assert geopix("-q", "translate", sat, tmp_path / "o.tif", "--model", run).code == 0


def _two_class_palette(tmp_path):
    """A palette of tiny_pair's two map colours: dark (40) and light (230)."""
    pal = tmp_path / "pal.json"
    pal.write_text(json.dumps({"name": "t", "classes": [{"name": "dark", "colors": [[40, 40, 40]]},
                                                         {"name": "light", "colors": [[230, 230, 230]]}]}))
    return pal


def test_balance_palette_records_class_weights(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    pal = _two_class_palette(tmp_path)
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "2", "--tile-size", "64",
               "--ngf", "8", "--ndf", "8", "--device", "cpu", "--balance-palette", pal)
    assert r.code == 0, r.err
    bal = json.loads((run / "class_balance.json").read_text())
    assert set(bal) == {"dark", "light"}
    f = {k: v["frequency"] for k, v in bal.items()}
    assert f["dark"] + f["light"] == pytest.approx(1.0) and 0 < f["dark"] < 1
    rare = min(bal, key=lambda k: f[k])
    assert bal[rare]["weight"] > bal[max(bal, key=lambda k: f[k])]["weight"]  # the rarer class weighs more
    assert json.loads((run / "config.json").read_text())["balance_palette"] == str(pal)


def test_missing_balance_palette_is_one_line_error(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "run", "--steps", "2",
               "--device", "cpu", "--balance-palette", tmp_path / "nope.json")
    assert r.code != 0 and "nope.json" in r.err and "Traceback" not in r.err
    errors = [line for line in r.err.strip().splitlines() if "error" in line]
    assert len(errors) == 1 and "palette not found" in errors[0]  # one line (after the recipe notice)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("missing", ["imagery", "map"])
def test_missing_input_is_refused_before_the_recipe_line(tmp_path, geopix, tiny_pair, missing) -> None:
    """A refused run prints its error alone: a recipe line first would read as a start."""
    sat, mp = tiny_pair
    paths = {"imagery": sat, "map": mp, missing: tmp_path / "nope.tif"}
    r = geopix("train", "--imagery", paths["imagery"], "--maps", paths["map"], "--out", tmp_path / "run",
               "--steps", "2", "--device", "cpu")
    nope = tmp_path / "nope.tif"
    assert r.code == 1 and r.err.strip().splitlines() == [f"geopix: error: {missing} not found: {nope}"]
    assert not (tmp_path / "run").exists()


def test_palette_head_trains_paints_palette_colours_and_refuses_map2sat(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    pal = _two_class_palette(tmp_path)
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", sat, "--maps", mp, "--out", run, "--steps", "2", *SMALL,
               "--palette-head", pal, "--class-weight", "2")
    assert r.code == 0, r.err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["palette_head"] == str(pal) and cfg["class_weight"] == 2.0
    meta = read_meta(run / "model.safetensors")
    assert meta.generator.palette_classes == (0, 1) and meta.extra["palette"]["classes"] == ["dark", "light"]
    out = tmp_path / "out.tif"
    assert geopix("-q", "translate", sat, out, "--model", run, "--device", "cpu").code == 0
    import rasterio

    with rasterio.open(out) as ds:
        px = ds.read()
    assert px.min() >= 40 - 1 and px.max() <= 230 + 1  # a mix of the palette's colours, nothing else
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "rev", "--steps", "2", *SMALL,
               "--direction", "map2sat", "--palette-head", pal)
    assert r.code != 0 and "sat2map" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "rev").exists()
