"""metrics.csv on resume: rows after the checkpoint, and a torn last row, are dropped."""

from __future__ import annotations

import csv

from geo_pix2pix.files.runs import METRIC_FIELDS, MetricsLog


def test_truncate_after_drops_later_rows_and_a_torn_tail(tmp_path) -> None:
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    for step in (1, 2, 3):
        log.write({"step": step, "lr": 0.1, "D_real": 0.5, "D_fake": 0.5, "G_GAN": 1.0, "G_L1": 0.2})
    log.close()
    with open(path, "a") as f:
        f.write("1")  # the first byte of row 12, cut by a kill -9: reads as a row for step 1
    log = MetricsLog(path)
    log.truncate_after(2)
    log.close()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == METRIC_FIELDS


def test_each_row_is_in_the_file_as_soon_as_it_is_written(tmp_path) -> None:
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    for step in (1, 2):
        log.write({"step": step, "lr": 0.1, "G_L1": 0.2})
        with open(path, newline="") as f:  # a second reader, as `tail -f` would be: no flush, no close
            assert [r["step"] for r in csv.DictReader(f)] == [str(s) for s in range(1, step + 1)]
    log.truncate_after(1)
    log.write({"step": 2, "lr": 0.1, "G_L1": 0.3})
    with open(path, newline="") as f:
        assert [r["G_L1"] for r in csv.DictReader(f)] == ["0.2", "0.3"]
    log.close()
