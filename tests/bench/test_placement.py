"""bench/placement.py tells a road drawn a pixel off from a road not drawn: the best move finds the
offset and recovers the IoU, and the relaxed measures (Mnih and Hinton's slack) forgive the offset
but not a missing road."""

from __future__ import annotations

import numpy as np

from tests.bench import bench_script


def _road(columns: slice, side: int = 32) -> np.ndarray:
    mask = np.zeros((side, side), bool)
    mask[:, columns] = True
    return mask


def test_a_road_drawn_one_pixel_off_is_found_by_its_move() -> None:
    placement = bench_script("placement")
    ref, pred = _road(slice(10, 14)), _road(slice(11, 15))  # drawn one column right
    iou, best, move = placement.best_move(pred, ref, moves=2)
    assert iou == 3 / 5
    assert best == 1.0 and move == (0, -1)  # moved back one column it is the reference


def test_the_slack_forgives_an_offset_within_it_but_not_a_missing_road() -> None:
    placement = bench_script("placement")
    ref, off = _road(slice(10, 14)), _road(slice(11, 15))
    hit, drawn, found, there = placement.relaxed(off, ref, 0)
    assert (hit / drawn, found / there) == (3 / 4, 3 / 4)  # slack 0: plain precision and recall
    hit, drawn, found, there = placement.relaxed(off, ref, 1)
    assert (hit / drawn, found / there) == (1.0, 1.0)
    hit, drawn, found, there = placement.relaxed(np.zeros_like(ref), ref, 2)
    assert (drawn, found, there) == (0, 0, 4 * 32)  # nothing drawn: nothing found at any slack
