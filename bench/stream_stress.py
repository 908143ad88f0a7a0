"""The streaming writers under random timing, at length (issue 29 section 1).

Runs :mod:`tests.tiles.mosaic.stream_stress` (what it draws, injects and compares is said there)
for many rounds in a fresh process with GDAL's block cache debugging on, so GDAL also sleeps
between taking a dirty block out of its cache and writing it. ``make test`` runs a few dozen
rounds of the same in-process (``tests/tiles/mosaic/test_stream_stress.py``).

    .venv/bin/python bench/stream_stress.py [--rounds 2000] [--seed 0] [--parallel 1] [--base REV]

``--parallel N`` runs N rounds at a time in threads of one process: N pipelines and the checks'
own reads then share GDAL's block cache, and GDAL writes out one thread's blocks from another's,
which geopix does not do within one translation but did before issue 29 (a reader and a writer
thread) and which a program running several translations in threads would do. ``--base REV`` runs
the same rounds with the code of an earlier revision (extracted as ``bench/parity.py`` does).
Prints every difference found and a summary line; exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-delay", type=float, default=0.002, help="seconds, per injected delay")
    ap.add_argument("--parallel", type=int, default=1, help="rounds at a time, in threads of one process")
    ap.add_argument("--writers", default="translate,fill", help="of translate (with its merge), fill")
    ap.add_argument("--base", default=None, help="run the code of this git revision instead of today's")
    a = ap.parse_args()
    from tests.tiles.mosaic.stream_stress import run_fresh

    with tempfile.TemporaryDirectory(prefix="geopix-stress-base-") as d:
        code = None
        if a.base:
            from parity import extract

            code = extract(a.base, Path(d))
        sys.exit(run_fresh(a.rounds, a.seed, a.max_delay, a.parallel, a.writers, code))


if __name__ == "__main__":
    main()
