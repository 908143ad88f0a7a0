"""Progress bars (tqdm) that stay readable in log files.

On a terminal the bar refreshes ten times a second; when stderr is a file or a pipe (CI, nohup,
``make demo > log``) it refreshes at most every 30 seconds, so logs get a few lines, not thousands.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["progress_bar", "follow", "counting", "NOTICE"]

#: Log level of notices: what geopix decided for the user (a map kind it inferred, a recipe it
#: applied). Shown by default, hidden by ``-q`` (errors only); between INFO and WARNING.
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")


def progress_bar(disable: bool = False, **kw: Any) -> Any:
    """A tqdm bar on stderr; ``disable`` hides it (``-q``)."""
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(disable=disable, file=sys.stderr, dynamic_ncols=tty, mininterval=0.1 if tty else 30.0,
                **kw)


def follow(bar: Any) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback (translate's, merge's) that moves ``bar`` to ``done`` of ``total``."""
    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return progress


def counting(progress: Callable[[int, int], None], total: int) -> Callable[[int], None]:
    """The mosaicker's ``progress(n)`` (tiles finished since the last call) as a caller's
    ``progress(done, total)``: the running count of ``total``."""
    done = 0

    def count(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    return count
