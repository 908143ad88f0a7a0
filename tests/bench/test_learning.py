"""bench/learning.py's training sets: ``--pairs N`` trains on N training images and never on the
held-out ones; ``--seen`` trains on the held-out images too, and they stay the last 8, the
images every run is validated and scored on (issue 33's per-pair and ceiling figures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.bench import bench_script

IMAGES = [Path(f"/data/{i}.png") for i in range(1001, 1041)]  # 40 names that sort as numbers do


def test_pairs_keeps_the_first_n_training_images_and_the_held_out_ones_last() -> None:
    links = bench_script("learning").training_images(list(reversed(IMAGES)), pairs=16)
    assert [f for _, f in links] == IMAGES[:16] + IMAGES[-8:]
    names = [name for name, _ in links]
    assert sorted(names) == names  # aligned_specs sorts by name: the held-out 8 stay the last 8


def test_seen_trains_on_the_held_out_images_under_names_that_sort_first() -> None:
    links = bench_script("learning").training_images(IMAGES, seen=True)
    names = sorted(name for name, _ in links)
    by_name = dict(links)
    assert [by_name[n] for n in names[-8:]] == IMAGES[-8:]  # still validated on, last
    assert [by_name[n] for n in names[:8]] == IMAGES[-8:]  # and trained on: all 40 + 8 copies
    assert len(links) == 48


def test_pairs_out_of_range_is_refused() -> None:
    with pytest.raises(SystemExit, match="--pairs must be 1 to 32"):
        bench_script("learning").training_images(IMAGES, pairs=33)


def test_a_reference_moved_one_pixel_loses_a_thin_road_across_it_not_along_it() -> None:
    learning = bench_script("learning")
    palette = learning.BEIGE
    colour = dict(zip(palette.classes, (rgba[:3] for rgba in palette.class_table().colors), strict=True))
    ref = np.empty((1, 32, 32, 3), np.uint8)
    ref[:] = colour["background"]
    ref[:, :, 10:14] = colour["roads"]  # a road 4 pixels wide, running down the image
    scene = learning.Scene("synthetic", ref.transpose(0, 3, 1, 2), ref.transpose(0, 3, 1, 2), palette)
    assert learning.shifted_reference(scene, 0)["roads"] == 1.0
    # moved along the road: all of it still overlaps; across: 3 of 5 columns. Pooled over the four
    # directions, per row: intersection 4 + 4 + 3 + 3, union 4 + 4 + 5 + 5
    assert learning.shifted_reference(scene, 1)["roads"] == pytest.approx(14 / 18)
