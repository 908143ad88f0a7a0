"""Peak host memory of one forward pass: ``python bench/tile_memory.py RUN TILE BATCH``.

Prints the growth of the process's peak resident memory over one batch of ``TILE``-pixel tiles
through the model's generator (float32, CPU) and that growth per tile pixel; the figure that
chose ``geo_pix2pix.inference.tiling.BYTES_PER_PIXEL_FILTER`` (bench/README.md, "Tile memory").
"""

from __future__ import annotations

import resource
import sys

import numpy as np

from geo_pix2pix.inference.predict import Predictor


def main() -> None:
    run, tile, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pred = Predictor(run, "cpu", False, False)
    g = pred.meta.generator
    x = np.random.default_rng(0).standard_normal((batch, g.in_channels, tile, tile)).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    pred(x, None)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(f"{g.name} ngf {g.ngf}, tile {tile}, batch {batch}: peak grew {grown / 2**20:.0f} MiB, "
          f"{grown / (batch * tile * tile):.0f} bytes a pixel")


if __name__ == "__main__":
    main()
