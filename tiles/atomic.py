"""Writing files so that a reader never sees a partial one.

Outputs are written to a temporary file *in the same directory* (so the final rename stays on
one file system and is atomic) and renamed over the target only when complete. On any failure,
including Ctrl-C, the temporary file is removed and the previous target, if any, is untouched.
Temporary names start with ``.<name>.`` and end with ``.partial`` so stale ones left by a
``kill -9`` can be recognised and cleaned up.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from geo_pix2pix.tiles.errors import OutputExistsError, OutputNameError

__all__ = ["atomic_path", "check_output", "mkdtemp_beside", "PARTIAL_SUFFIX", "remove_stale_partials"]

PARTIAL_SUFFIX = ".partial"
#: Names a raster output may have: geopix writes (Cloud Optimized) GeoTIFFs only.
GEOTIFF_SUFFIXES = (".tif", ".tiff")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` if the block succeeds."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield tmp_path
        if tmp_path.exists():  # a writer may have replaced the file (safetensors does): mode again
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def mkdtemp_beside(target: Path) -> Path:
    """A temporary directory beside ``target`` with the mode a new directory gets (mkdtemp makes
    0700, which would keep other users out of the renamed output)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_partials(target: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files a killed process left beside ``target``; return what was removed."""
    target = Path(target)
    removed = []
    for p in target.parent.glob(f".{target.name}.*{PARTIAL_SUFFIX}"):
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def check_output(out: str | os.PathLike[str], inputs: list[str | os.PathLike[str]], overwrite: bool) -> Path:
    """Validate an output path: its directory exists and is writable, it is not an input, and
    it exists only if ``overwrite``.

    Raises:
        OutputExistsError: if ``out`` equals an input or exists without ``overwrite``.
        FileNotFoundError / PermissionError: if its directory is missing or not writable.
    """
    if os.fspath(out).startswith("/vsi"):
        raise OutputNameError(f"output {os.fspath(out)}: geopix writes outputs to a local file system (a temporary "
                              "file renamed when complete); write it locally, then copy it (e.g. gdal_translate "
                              "or your storage's upload tool)")
    out = Path(out)
    if out.suffix.lower() not in GEOTIFF_SUFFIXES:
        raise OutputNameError(f"output {out}: geopix writes Cloud Optimized GeoTIFFs; name the output "
                                f"{out.with_suffix('.tif').name} (a {out.suffix or 'suffix-less'} name would hide "
                                "a GeoTIFF under another format's name)")
    for i in inputs:
        same = Path(i).resolve() == out.resolve()
        if not same and out.exists() and Path(i).exists():
            same = os.path.samefile(out, i)
        if same:
            raise OutputExistsError(f"output {out} is the same file as input {i}; choose another output path")
    if out.is_dir():
        raise OutputExistsError(f"output {out} is a directory; give a file path")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"output {out} exists; pass --overwrite to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(2, "output directory does not exist", str(parent))
    if not os.access(parent, os.W_OK):
        raise PermissionError(13, "output directory is not writable", str(parent))
    return out
