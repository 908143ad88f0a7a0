"""The geopix error hierarchy.

Every error a user can cause derives from :class:`GeopixError`; the CLI turns each into a
one-line message and a non-zero exit code instead of a traceback. The hierarchy lives in
``tiles`` (the lowest layer) so that the model and CLI layers can raise and catch the same
classes without ``tiles`` importing anything above it. Narrow classes also inherit the builtin
they refine, so callers that already catch ``FileNotFoundError`` or ``ValueError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "first_line",
    "GeopixError",
    "InputNotFoundError",
    "NotARasterError",
    "GeoreferencingError",
    "NoOverlapError",
    "BandError",
    "TileSizeError",
    "NoValidDataError",
    "Interrupted",
    "OutputExistsError",
    "OutputNameError",
    "OutputWriteError",
    "ModelFileError",
    "CheckpointError",
    "GDALError",
    "FileSystemError",
    "CreationOptionError",
    "one_line",
    "environment_error",
]


def one_line(message: str) -> str:
    """The informative line of a message (DataLoader workers wrap errors in a traceback text)."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return message
    if lines[0].startswith("Caught ") and "Original Traceback" in message:
        last = lines[-1]
        return last.split(": ", 1)[1] if ": " in last and "Error" in last.split(": ", 1)[0] else last
    return lines[0]


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name if it has none)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


class GeopixError(Exception):
    """Raised when geopix refuses or fails an operation for a reason the user can act on."""

    exit_code = 1


class InputNotFoundError(GeopixError, FileNotFoundError):
    """Raised when an input path does not exist or is a directory where a file is expected."""


class NotARasterError(GeopixError, ValueError):
    """Raised when a file exists but GDAL cannot read it as a raster (text, truncated, corrupt)."""


class GeoreferencingError(GeopixError, ValueError):
    """Raised when a raster lacks the CRS or transform an operation needs."""


class NoOverlapError(GeopixError, ValueError):
    """Raised when two rasters share no footprint, or less than one tile of it."""


class BandError(GeopixError, ValueError):
    """Raised when a band index is out of range or band counts do not match."""


class TileSizeError(GeopixError, ValueError):
    """Raised when a tile size or overlap cannot be used with the raster or the model."""


class NoValidDataError(GeopixError, ValueError):
    """Raised when nodata, masks or NaN leave too few valid pixels to work with."""


class OutputNameError(GeopixError, ValueError):
    """Raised when an output's name promises a format geopix does not write (``out.jpg``)."""


class Interrupted(GeopixError):
    """Raised when a signal (Ctrl-C, SIGTERM) stopped a command cleanly. Its message is the one
    wording of every interruption, "interrupted by SIGNAL", then what was kept if anything (a
    training checkpoint); the command line prints it as a notice, not as an error."""

    def __init__(self, detail: str = "", signum: int = 2) -> None:
        import signal

        self.signal_name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {self.signal_name}" + (f" {detail}" if detail else ""))


class OutputExistsError(GeopixError, FileExistsError):
    """Raised when an output exists and ``--overwrite`` was not given, or equals an input."""


class OutputWriteError(GeopixError, OSError):
    """Raised when an output cannot be written (full disk, vanished directory); nothing is left."""


class ModelFileError(GeopixError, ValueError):
    """Raised when a model file is missing, corrupt, or not a geopix model."""


class CheckpointError(GeopixError, ValueError):
    """Raised when a training checkpoint is corrupt or holds objects that are not plain tensors."""


class CreationOptionError(GeopixError, ValueError):
    """Raised when a ``--co KEY=VALUE`` creation option is not one the COG driver knows."""


class GDALError(GeopixError):
    """Raised when GDAL fails on something outside geopix's checks (an unreadable /vsi path...)."""


class FileSystemError(GeopixError, OSError):
    """Raised when the operating system refuses a file operation (permissions, a full disk)."""


def environment_error(exc: BaseException) -> GeopixError | None:
    """The geopix error for an error of the environment (GDAL, the file system), or ``None``.

    One place decides how such errors read, so the Python API raises, and the CLI prints, the same
    line. rasterio is only consulted if something already imported it.
    """
    import errno
    import sys

    if isinstance(exc, GeopixError):
        return exc
    if "rasterio" in sys.modules:
        from rasterio._err import CPLE_BaseError
        from rasterio.errors import RasterioError

        if isinstance(exc, (RasterioError, CPLE_BaseError)):
            return GDALError(f"GDAL: {one_line(str(exc))}")
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f": {exc.filename}" if exc.filename else ""
        if exc.errno == errno.ENOSPC:
            return FileSystemError(f"no space left on the device{where}; free some space or write elsewhere")
        return FileSystemError(f"{exc.strerror or exc}{where}")
    return None
