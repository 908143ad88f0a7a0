"""Build the QGIS plugin zip: ``python3 qgis_plugin/build.py [--out dist]`` (``make qgis-plugin``).

The zip holds one top-level folder, ``geopix_provider/``, as QGIS's "Install from ZIP" expects,
with ``metadata.txt``'s version set to geopix's own (``geo_pix2pix/_version.py``, read as text:
building the plugin needs no geopix installation). Entries are sorted and dated 1980-01-01, so the
same sources give the same bytes. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "qgis_plugin" / "geopix_provider"
SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def geopix_version(root: Path = ROOT) -> str:
    """``__version__`` of ``geo_pix2pix/_version.py``."""
    text = (root / "geo_pix2pix" / "_version.py").read_text(encoding="utf-8")
    m = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", text, re.M)
    if m is None:
        raise SystemExit(f"no __version__ in {root / 'geo_pix2pix' / '_version.py'}")
    return m.group(1)


def with_version(metadata: str, version: str) -> str:
    """``metadata.txt`` with its ``version=`` line set to ``version`` (exactly one such line)."""
    text, n = re.subn(r"^version=.*$", f"version={version}", metadata, flags=re.M)
    if n != 1:
        raise SystemExit(f"metadata.txt must have exactly one version= line, found {n}")
    return text


def build(out_dir: Path) -> Path:
    """Write ``out_dir/geopix_provider-<version>.zip`` (through a temporary name) and return it."""
    version = geopix_version()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"geopix_provider-{version}.zip"
    tmp = target.with_name(f".{target.name}.partial")
    files = sorted(p for p in SOURCE.rglob("*")
                   if p.is_file() and not SKIP & set(p.relative_to(SOURCE).parts) and p.suffix != ".pyc")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            data = path.read_bytes()
            if path.name == "metadata.txt" and path.parent == SOURCE:
                data = with_version(data.decode("utf-8"), version).encode("utf-8")
            info = zipfile.ZipInfo(f"geopix_provider/{path.relative_to(SOURCE).as_posix()}", (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder of the zip [default: dist]")
    print(build(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
