"""``geopix`` with a fault planted in one rank, for the torchrun tests (run as
``torchrun ... -m tests.geo_pix2pix.runtime.rank_fault geopix-args...``).

``GEOPIX_TEST_FAULT``:
* ``input:R``: rank R finds its input unreadable, as a node whose copy of a raster is damaged
  would (the data preparation raises geopix's one-line error there, and only there);
* ``kill:R:S``: rank R is killed (SIGKILL, no handler runs) at step S of the first attempt, as a
  node that dies; torchrun's elastic restart then starts every rank again.
"""

from __future__ import annotations

import os
import signal

import geo_pix2pix.training.loop as train
from geo_pix2pix.cli.main import main
from geo_pix2pix.tiles.errors import NotARasterError

kind, rank, *rest = os.environ["GEOPIX_TEST_FAULT"].split(":")
if int(os.environ["RANK"]) == int(rank):
    if kind == "input":
        def unreadable(cfg):
            raise NotARasterError(f"imagery {cfg.pairs[0].imagery} is not a raster GDAL can read, or is truncated "
                                  "or corrupt (planted on this rank)")

        train.prepare_training = unreadable  # type: ignore[assignment]
    elif kind == "kill" and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0)) == 0:
        real_step, at = train.gan_step, int(rest[0])
        count = [0]

        def dying_step(*args, **kw):
            count[0] += 1
            if count[0] == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_step(*args, **kw)

        train.gan_step = dying_step  # type: ignore[assignment]
main()
