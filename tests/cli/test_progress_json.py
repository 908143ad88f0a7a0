"""``geopix --progress json|none``: progress as one JSON object per update, or none, instead of a bar."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo_pix2pix.runtime import progress
from tests.cli.conftest import SMALL
from tests.conftest import smooth_image, write_raster


def _split(err: str) -> tuple[list[dict], list[str]]:
    """stderr as (JSON progress records, other lines); every line that opens with ``{`` must parse."""
    records, other = [], []
    for line in err.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
        else:
            other.append(line)
    return records, other


@pytest.fixture
def region(tmp_path):
    return write_raster(tmp_path / "region.tif", smooth_image(192, 160, 3, seed=4))


def test_translate_reports_every_update_as_json_and_no_bar(tmp_path, geopix, tiny_model, region) -> None:
    r = geopix("--progress", "json", "translate", region, tmp_path / "out.tif", "--model", tiny_model,
               "--tile-size", "64", "--overlap", "16", "--batch-size", "1", "--device", "cpu")
    assert r.code == 0, r.err
    records, other = _split(r.err)
    assert "%|" not in r.err and "tile/s" not in r.err  # no tqdm bar drawn
    assert all(set(rec) >= {"phase", "done", "total", "unit", "message"} for rec in records)
    assert {rec["phase"] for rec in records} == {"translate"} and records[0]["done"] == 0
    done = [rec["done"] for rec in records]
    assert done == sorted(done) and len(done) > 3  # one line per batch of tiles, in order
    assert records[-1]["done"] == records[-1]["total"] > 1 and records[-1]["unit"] == "tile"
    assert any(line.startswith("model:") for line in other)  # log lines stay plain text beside the records
    assert "wrote" in r.out


def test_training_steps_carry_their_losses(tmp_path, geopix, tiny_pair) -> None:
    sat, mp = tiny_pair
    r = geopix("--progress", "json", "train", "--imagery", sat, "--maps", mp, "--out", tmp_path / "run",
               "--steps", "3", "--val-fraction", "0", *SMALL)
    assert r.code == 0, r.err
    records, _ = _split(r.err)
    steps = [rec for rec in records if rec["phase"] == "train"]
    assert [rec["done"] for rec in steps] == [0, 1, 2, 3] and {rec["total"] for rec in steps} == {3}
    assert steps[0]["message"] is None and "values" not in steps[0]  # the start, before any loss
    for rec in steps[1:]:
        assert set(rec["values"]) == {"D", "G_GAN", "L1"}
        assert all(isinstance(v, float) and np.isfinite(v) for v in rec["values"].values())
        assert rec["message"].startswith("D=")


def test_none_and_quiet_report_nothing(tmp_path, geopix, tiny_model, region) -> None:
    for i, opts in enumerate((["--progress", "none"], ["-q", "--progress", "json"])):
        r = geopix(*opts, "translate", region, tmp_path / f"out{i}.tif", "--model", tiny_model, "--device", "cpu")
        assert r.code == 0, r.err
        assert _split(r.err)[0] == [] and "%|" not in r.err
        assert "wrote" in r.out


def test_the_mode_is_chosen_per_invocation(tmp_path, geopix, tiny_model, region) -> None:
    """The mode is process-wide, but each invocation of the group sets it: a bar after JSON."""
    assert geopix("--progress", "json", "info", region).code == 0
    assert progress.get_mode() == "json"
    r = geopix("translate", region, tmp_path / "out.tif", "--model", tiny_model, "--device", "cpu")
    assert r.code == 0, r.err
    assert progress.get_mode() == "bar" and _split(r.err)[0] == [] and "translate" in r.err


def test_an_unknown_mode_is_a_usage_error(geopix) -> None:
    r = geopix("--progress", "xml", "info", "x.tif")
    assert r.code == 2 and "'xml' is not one of" in r.err
    with pytest.raises(ValueError, match="not one of bar, json, none"):
        progress.set_mode("xml")  # type: ignore[arg-type]


def test_json_records_stay_valid_json_for_non_finite_losses(capsys) -> None:
    bar = progress.JsonProgress(phase="train", total=None, initial=5, unit="step")
    bar.set_postfix(D="nan", G_GAN=float("inf"), L1="0.250", note="warm-up", refresh=False)
    bar.update(1)
    lines = capsys.readouterr().err.splitlines()
    first, second = (json.loads(line, parse_constant=pytest.fail) for line in lines)  # NaN/Infinity not allowed
    assert first == {"phase": "train", "done": 5, "total": None, "unit": "step", "message": None}
    assert second["done"] == 6
    assert second["values"] == {"D": "nan", "G_GAN": "inf", "L1": 0.25, "note": "warm-up"}
    assert second["message"] == "D=nan, G_GAN=inf, L1=0.250, note=warm-up"


def test_follow_and_counting_drive_a_json_reporter(capsys) -> None:
    bar = progress.JsonProgress(phase="merge", total=None, unit="row")
    count = progress.counting(progress.follow(bar), 10)
    for n in (4, 4, 2):
        count(n)
    done = [(r["done"], r["total"]) for r in map(json.loads, capsys.readouterr().err.splitlines())]
    assert done == [(0, None), (4, 10), (8, 10), (10, 10)]


@pytest.fixture(autouse=True)
def _bar_mode_after():
    yield
    progress.set_mode("bar")  # the process-wide mode back to its default for later tests
