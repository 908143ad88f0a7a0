"""The geopix model file: generator weights in safetensors plus JSON metadata. No pickle.

A model file is everything translate needs: the model family and its generator's architecture
config, the input and
output bands, the normalisation statistics of both sides, the tile size, the direction, the CRS
and pixel size of the training imagery, the training step and the geopix version. The weights are
plain tensors in the safetensors format, which holds no code, so a model file downloaded from
anywhere is safe to open. Metadata lives under the safetensors header key ``geopix``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from geo_pix2pix._version import __version__
from geo_pix2pix.tiles.atomic import atomic_path
from geo_pix2pix.tiles.encoding.classes import ClassTable, codec_from_dict
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import ModelFileError, first_line

__all__ = ["ModelMeta", "save_model", "load_model", "read_meta", "resolve_model_path",
           "describe_model", "FORMAT_VERSION"]

#: How people write each family's name (the file stores it in lower case).
_FAMILY_NAMES = {"pix2pix": "Pix2Pix", "pix2pixhd": "Pix2PixHD", "spade": "SPADE (GauGAN)", "inpaint": "Inpainting"}

#: Format 1: Pix2Pix files (also every file written before model families: no ``family`` key).
#: Format 2: other families; a geopix that only knows format 1 refuses them ("upgrade geopix")
#: instead of misreading their generator config.
FORMAT_VERSION = 2
META_KEY = "geopix"


@dataclass(frozen=True)
class ModelMeta(Mapping[str, Any]):
    """Metadata of a model file: a frozen dataclass that is also a read-only mapping of the same
    values, so ``meta.family`` and ``meta["family"]``, ``meta.get("family")``, ``dict(meta)`` all
    work (the keys are the attributes below and ``map_kind``; the values are the same objects).

    Attributes:
        generator: architecture of the generator (the family's generator config).
        direction: ``sat2map`` (imagery -> map) or ``map2sat``.
        input_bands / output_bands: 1-based bands of the input and output rasters.
        input_stats / output_stats: normalisation of input and output values (a
            :class:`~geo_pix2pix.tiles.encoding.classes.ClassTable` for a categorical side).
        tile_size: tile side the model was trained on.
        step: training steps done.
        pairs: training pairs: imagery and map paths, CRS (WKT and short name), pixel size.
        geopix_version: version that wrote the file.
        family: model family (:mod:`geo_pix2pix.families`) that builds the generator.
    """

    generator: Any
    direction: str
    input_bands: tuple[int, ...]
    output_bands: tuple[int, ...]
    input_stats: BandStats | ClassTable
    output_stats: BandStats | ClassTable
    tile_size: int
    step: int
    pairs: tuple[dict[str, Any], ...] = ()
    geopix_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)
    family: str = "pix2pix"

    @property
    def map_kind(self) -> str:
        """``categorical``, ``continuous`` or ``rendered``: the kind of the map side (recorded by
        training; files written before map kinds are rendered for 3/4-band uint8, else continuous)."""
        stats = self.output_stats if self.direction == "sat2map" else self.input_stats
        if isinstance(stats, ClassTable):
            return "categorical"
        recorded = self.extra.get("map_kind")
        if recorded:
            return str(recorded)
        return "rendered" if stats.dtype == "uint8" and stats.bands in (3, 4) else "continuous"

    def __getitem__(self, key: str) -> Any:
        if key not in _META_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_META_KEYS)

    def __len__(self) -> int:
        return len(_META_KEYS)

    def summary(self) -> str:
        """One line a person reads: the family, its generator where the family has several, what it
        turns into what, and the step (``Pix2Pix with a U-Net, imagery -> rendered map, step 600``)."""
        family = _FAMILY_NAMES.get(self.family, self.family)
        gen = self.generator.name
        if gen != self.family:  # SPADE's and Pix2PixHD's generators are the family's own
            family += " with " + (f"an smp {gen[4:]} U-Net" if gen.startswith("smp:") else
                                  "a U-Net" if gen == "unet" else f"a {gen} generator")
        kind = {"categorical": "class", "continuous": "value", "rendered": "rendered"}.get(self.map_kind, self.map_kind)
        what = ("fills holes in imagery" if self.family == "inpaint" else
                f"imagery -> {kind} map" if self.direction == "sat2map" else
                "class layout -> imagery" if self.map_kind == "categorical" else f"{kind} map -> imagery")
        return f"{family}, {what}, step {self.step}"

    def _has_classes(self) -> bool:
        return isinstance(self.input_stats, ClassTable) or isinstance(self.output_stats, ClassTable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": 1 if self.family == "pix2pix" and not self._has_classes() else FORMAT_VERSION,
            "geopix_version": self.geopix_version,
            "family": self.family,
            "generator": self.generator.to_dict(),
            "direction": self.direction,
            "input_bands": list(self.input_bands),
            "output_bands": list(self.output_bands),
            "input_stats": self.input_stats.to_dict(),
            "output_stats": self.output_stats.to_dict(),
            "tile_size": self.tile_size,
            "step": self.step,
            "pairs": list(self.pairs),
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelMeta:
        from geo_pix2pix.families.base import get_family

        family = str(d.get("family", "pix2pix"))  # files before families are Pix2Pix files
        return cls(
            family=family,
            generator=get_family(family).generator_config(d["generator"]),
            direction=str(d["direction"]),
            input_bands=tuple(int(b) for b in d["input_bands"]),
            output_bands=tuple(int(b) for b in d["output_bands"]),
            input_stats=codec_from_dict(d["input_stats"]),
            output_stats=codec_from_dict(d["output_stats"]),
            tile_size=int(d["tile_size"]),
            step=int(d["step"]),
            pairs=tuple(d.get("pairs", ())),
            geopix_version=str(d.get("geopix_version", "?")),
            extra=dict(d.get("extra", {})),
        )


#: The keys of a ModelMeta as a mapping: its fields, then the derived map kind.
_META_KEYS = (*(f.name for f in fields(ModelMeta)), "map_kind")


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """A run directory or a ``.safetensors`` file -> the model file; clear error if absent."""
    p = Path(path)
    if p.is_dir():
        p = p / "model.safetensors"
    if not p.is_file():
        raise ModelFileError(
            f"no model at {path}; train one with 'geopix train --imagery SAT --maps MAP' "
            "or pass --model RUN_DIR_OR_FILE"
        )
    return p


def save_model(path: str | os.PathLike[str], state_dict: dict[str, Any], meta: ModelMeta) -> None:
    """Write weights and metadata atomically (temporary file, then rename)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    try:
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta.to_dict())})
    except Exception as exc:  # safetensors raises its own error type for I/O failures
        raise ModelFileError(
            f"could not write model file {path} ({first_line(exc)}); "
            "is the disk full? The previous model file is unchanged"
        ) from None


def read_meta(path: str | os.PathLike[str]) -> ModelMeta:
    """Read only the metadata of a model file (fast: the header, not the weights)."""
    from safetensors import safe_open

    p = resolve_model_path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as exc:
        kind = _foreign_kind(p)
        if kind is not None:
            raise ModelFileError(f"{p} is {kind}, not a geopix model (a model is a run folder or "
                                 "its model.safetensors)") from None
        raise ModelFileError(f"{p} is not a readable safetensors model file ({exc})") from None
    if META_KEY not in header:
        raise ModelFileError(f"{p} is a safetensors file but not a geopix model (no geopix metadata)")
    try:
        d = json.loads(header[META_KEY])
        if int(d.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelFileError(f"{p} was written by a newer geopix ({d.get('geopix_version')}); upgrade geopix")
        return ModelMeta.from_dict(d)
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"{p} has damaged geopix metadata ({exc})") from None


#: Leading bytes of the files most often given as a model by mistake -> what to call them.
_MAGIC = {b"II*\0": "a raster (TIFF)", b"MM\0*": "a raster (TIFF)", b"II+\0": "a raster (BigTIFF)",
          b"MM\0+": "a raster (BigTIFF)", b"\x89PNG": "an image (PNG)", b"\xff\xd8\xff": "an image (JPEG)",
          b"PK\x03\x04": "a zip archive (a PyTorch .pt/.pth checkpoint?)"}


def _foreign_kind(path: Path) -> str | None:
    """What a file that is no safetensors file is, from its first bytes (a raster named as the model
    is the common mistake, and safetensors' own message, "header too large", does not say so)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if path.suffix.lower() == ".onnx":
        return "an ONNX export (geopix export writes it from a model; it is not read back)"
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def load_model(path: str | os.PathLike[str], device: Any = "cpu") -> tuple[Any, ModelMeta]:
    """Rebuild the generator from the file alone; returns ``(generator in eval mode, meta)``."""
    from safetensors.torch import load_file

    from geo_pix2pix.families.base import get_family

    p = resolve_model_path(path)
    meta = read_meta(p)
    try:
        state = load_file(str(p), device=str(device))
    except Exception as exc:
        raise ModelFileError(f"{p} is corrupt or truncated ({exc})") from None
    from geo_pix2pix.models.class_head import with_output_head

    G = with_output_head(get_family(meta.family).build_generator(meta.generator, init=False), meta.output_stats)
    try:
        G.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"{p} weights do not fit its architecture ({first_line(exc)})") from None
    return G.to(device).eval(), meta


def describe_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Metadata plus path and parameter count, for ``geopix info``."""
    from safetensors import safe_open

    p = resolve_model_path(path)
    meta = read_meta(p)
    n = 0
    with safe_open(str(p), framework="pt") as f:
        for k in f.keys():
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked")):
                n += math.prod(f.get_slice(k).get_shape())
    d = meta.to_dict()
    d.update(path=str(p), parameters=n)
    d["in_channels"] = meta.generator.in_channels
    d["out_channels"] = meta.generator.out_channels
    d["map_kind"] = meta.map_kind
    return d
