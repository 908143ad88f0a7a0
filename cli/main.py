"""The ``geopix`` group: version, verbosity, lazy subcommands and one-line errors.

Subcommands are imported only when invoked, and heavy libraries (torch, rasterio) only inside
command bodies, so ``geopix --help`` is instant. Every :class:`GeopixError` (and the common OS
errors of a bad path) becomes one line on stderr and exit code 1; click's usage errors exit 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any, cast

import click

from geo_pix2pix._version import __version__
from geo_pix2pix.runtime.progress import MODES, Mode, set_mode

#: command name -> (module, attribute, one-line help shown by --help without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "info": ("geo_pix2pix.cli.info", "info", "Describe a raster or a geopix model file."),
    "tile": ("geo_pix2pix.cli.tile", "tile", "Cut an imagery/map pair into georeferenced chip pairs."),
    "train": ("geo_pix2pix.cli.train", "train", "Train a Pix2Pix-family model (or, --task inpaint, a hole filler)."),
    "evaluate": ("geo_pix2pix.cli.evaluate", "evaluate", "Score a model on a pair (an inpainting model: on imagery)."),
    "translate": ("geo_pix2pix.cli.translate", "translate", "Translate a region into a georeferenced raster."),
    "merge": ("geo_pix2pix.cli.merge", "merge", "Merge the parts of a sharded translate into one COG."),
    "inpaint": ("geo_pix2pix.cli.inpaint", "inpaint", "Fill holes (clouds, stripes, nodata) in imagery."),
    "export": ("geo_pix2pix.cli.export", "export", "Export a model to ONNX with GIS metadata (Deepness, GeoDeep)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(name):
            return None
        module, attr, _ = COMMANDS[name]
        return cast(click.Command, getattr(importlib.import_module(module), attr))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0]) is not None


class _ProgressAwareHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each message on a line of its own above any progress bar (``tqdm.write`` clears the
    bar, prints, and redraws it) instead of into the bar's line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if "tqdm" in sys.modules:
                from tqdm import tqdm

                tqdm.write(self.format(record), file=sys.stderr)
            else:
                super().emit(record)
        except Exception:  # noqa: BLE001 (logging must never raise)
            self.handleError(record)


def _configure_logging(verbose: int, quiet: int) -> None:
    """Levels: default = warnings and notices (what geopix inferred for you); ``-q`` = errors only;
    ``-v`` = what geopix is doing (device, resume, class weights); ``-vv`` = debug, and tracebacks of
    unexpected errors."""
    from geo_pix2pix.runtime.progress import NOTICE

    level = logging.ERROR if quiet else {0: NOTICE, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = _ProgressAwareHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("geopix: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="geopix")
@click.option("-v", "--verbose", count=True, help="More messages (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Fewer messages: no progress bars, only errors.")
@click.option("--progress", "progress", type=click.Choice(MODES), default="bar", show_default=True,
              help="How progress is reported on stderr: a bar, one JSON object per update for programs "
                   '({"phase", "done", "total", "unit", "message"}; training steps add their losses as '
                   '"values"), or not at all. -q silences it in every mode.')
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, progress: Mode) -> None:
    """geopix: learn and apply satellite <-> map translation on georeferenced rasters (Pix2Pix).

    \b
    Typical use:
      geopix train --imagery sat.tif --maps map.tif
      geopix translate region.tif out.tif
    """
    ctx.obj = {"verbose": verbose, "quiet": quiet, "progress": progress}
    set_mode(progress)
    _configure_logging(verbose, quiet)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: run the group, turning errors into one-line messages.

    Exit codes: 0 success, 1 refused or failed (bad input, GDAL error, full disk...), 2 usage,
    130 interrupted. An unexpected exception (a geopix bug) is also one line, unless ``-v`` was
    given, in which case its traceback is shown for the bug report.
    """
    from geo_pix2pix.tiles.errors import GeopixError, Interrupted, environment_error, one_line

    try:
        return cli.main(args=argv, prog_name="geopix", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted) as exc:  # one wording for every command
        stop = exc if isinstance(exc, Interrupted) else Interrupted()
        click.echo(f"geopix: {one_line(str(stop))}", err=True)
        sys.exit(stop.exit_code)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx is not None else "geopix"
        click.echo(f"geopix: error: {exc.format_message()} (see '{cmd} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"geopix: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except GeopixError as exc:
        click.echo(f"geopix: error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 (the last line of defence: never a traceback by default)
        known = environment_error(exc)
        if known is None and logging.getLogger().isEnabledFor(logging.INFO):
            raise
        text = str(known) if known is not None else (
            f"internal error: {type(exc).__name__}: {one_line(str(exc))} "
            "(please report it; run with -v to see the traceback)")
        click.echo(f"geopix: error: {text}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
