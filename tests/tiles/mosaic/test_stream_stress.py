"""Every streaming writer under random timing: translate, its shards' merge and inpaint's fill.

The fast version of ``bench/stream_stress.py`` (:mod:`tests.tiles.mosaic.stream_stress`): a few
dozen random rasters (dtypes, masks, odd and even sides, tiles, overlaps, ``BLOCKSIZE``) with random
delays in the reader, the predictor and the writer and a GDAL block cache of one byte, each output
compared with a reference that does not stream: the in-memory mosaic for the pixels, GDAL's own
overviews of the same pixels for every level.
"""

from __future__ import annotations

from tests.tiles.mosaic.stream_stress import run_rounds, streams_overviews

ROUNDS, SEED = 20, 0


def test_the_cases_cover_streamed_overviews() -> None:
    """The rounds must exercise the path where overview levels are written while tiles are read."""
    assert sum(streams_overviews(SEED + i) for i in range(ROUNDS)) >= 6


def test_streaming_writers_under_random_timing() -> None:
    assert run_rounds(ROUNDS, SEED, max_delay=0.001) == []


def test_the_stress_sees_a_lost_row(monkeypatch) -> None:  # noqa: ANN001
    """A writer that loses one row of an overview level, or one block of full-resolution values,
    is caught: the stress can fail."""
    from geo_pix2pix.tiles.mosaic import mosaicker, overviews

    halve = overviews.halve

    def lossy(rows):  # noqa: ANN001, ANN202
        out = halve(rows)
        out[:, :1] = 0
        return out

    monkeypatch.setattr(overviews, "halve", lossy)
    seeds = [s for s in range(SEED, SEED + ROUNDS) if streams_overviews(s)][:2]
    assert all(run_rounds(1, s, max_delay=0.0, writers=("translate",)) for s in seeds)
    monkeypatch.undo()
    block = mosaicker._Values.block
    monkeypatch.setattr(mosaicker._Values, "block", lambda self, row, col, values: block(self, row, col, values * 0.5))
    assert run_rounds(1, SEED, max_delay=0.0, writers=("translate",))
