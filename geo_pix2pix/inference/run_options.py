"""The options of running a trained model over a region, declared once for every caller.

Each group is a frozen dataclass whose fields are made with
:func:`~geo_pix2pix.training.option_fields.option` (type, default, help text, flag), as training's
options are. ``geopix translate``, ``inpaint`` and ``evaluate`` build their click options from
the fields (``geo_pix2pix.cli.config_options.option_group``, in the manner of rasterio's
``rio/options.py``); the configs of translate and inpaint are made of the groups; and the Python
API's keyword arguments are the fields (:func:`keyword_values`). Adding a field adds the option
everywhere. This module imports neither torch nor numpy, so building ``--help`` costs nothing.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geo_pix2pix.training.option_fields import OptionSpec, option, option_specs

if TYPE_CHECKING:  # pragma: no cover - numpy stays out of --help
    from geo_pix2pix.tiles.mosaic.shard import Shard

__all__ = ["ModelOptions", "TilingOptions", "OutputOptions", "TranslateOptions", "FillOptions", "DEFAULT_MAX_HOLE",
           "keyword_values", "keyword_signature", "values_of"]

#: Holes whose farthest pixel lies more than this many pixels from a known pixel (holes wider than
#: about twice this) are left as nodata: beyond it the CPU recipe's fills fall clearly behind GDAL
#: FillNodata's, and a 128-pixel training window cannot teach what lies further than a quarter of
#: it from every known pixel (bench/README.md, "Inpainting").
DEFAULT_MAX_HOLE = 24.0

_OUTPUT_DTYPES = ("float32", "float64", "uint8", "uint16", "int16", "int32", "uint32")


@dataclass(frozen=True)
class ModelOptions:
    """Which model, and where and how it computes (what :func:`~geo_pix2pix.api.load_model` takes)."""

    model: str = option("runs/latest", "Run directory or model.safetensors.")
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps.")
    amp: bool = option(True, "Float32 everywhere. By default CUDA GPUs and CPUs with native bfloat16 (AVX512-BF16, "
                       "AMX) run the networks in mixed precision.", flag="--no-amp", kind="negated")
    tta: bool = option(False, "Average each tile's output over its 8 rotations and mirrors: smoother, slightly better "
                       "maps (held-out maps256, CPU recipe: mIoU +0.01, L1 -7%) for 8x the compute.")


@dataclass(frozen=True)
class TilingOptions:
    """How the region is read: which bands, in tiles of what size and overlap, how many at a time.

    The generators are fully convolutional, so any multiple of the generator's stride product is a
    valid tile: larger tiles give every pixel more context and cost less blending per pixel.
    """

    tile: int | None = option(None, "Tile side in pixels [default: the training tile, or its smallest multiple of at "
                              "least 256 pixels if it is smaller]; any multiple of the generator's stride product "
                              "(the training tile always is one). Larger tiles: more context, fewer tiles.",
                              flag="--tile-size", min=1)
    overlap: int | None = option(None, "Overlap of neighbouring tiles in pixels [default: a quarter of the tile].",
                                 min=0)
    batch_size: int = option(8, "Tiles per forward pass.", min=1)
    bands: tuple[int, ...] | None = option(
        None, "Bands of REGION to read, in the model's order [default: the model's input bands]; required when "
        "REGION has more bands than the training input (extra bands are never used silently).",
        kind="bands", metavar="1,2,3")


@dataclass(frozen=True)
class OutputOptions:
    """How the output is written: a COG with these GDAL creation options, replacing a file only when asked."""

    creation_options: tuple[tuple[str, str], ...] = option(
        (), "GDAL creation option of the COG driver, e.g. --co COMPRESS=ZSTD (repeatable).", flag="--co",
        kind="creation_options", metavar="KEY=VAL")
    overwrite: bool = option(False, "Replace an existing output.")


@dataclass(frozen=True)
class TranslateOptions:
    """What translate writes besides the plain translation: its coding, extra outputs, a style, a shard.

    ``probabilities`` is a second pass over the region: exactly the scores whose arg-max the codes
    are. Without ``style`` or ``seed`` the output is deterministic; either way one style is used
    for the whole raster (:mod:`geo_pix2pix.inference.style`). A ``shard``'s part is for
    :func:`~geo_pix2pix.tiles.mosaic.merge.merge_parts` (:mod:`geo_pix2pix.tiles.mosaic.shard`).
    """

    output_dtype: str | None = option(None, "Dtype of a measured-value (continuous) output [default: float32], e.g. "
                                      "uint16 for a DEM (rounded, with an integer nodata value).",
                                      choices=_OUTPUT_DTYPES)
    palette: str | None = option(None, "Palette JSON (see README): write an RGB model's map as classes, each pixel "
                                 "the code of its nearest palette colour, with the palette as colour table.",
                                 kind="path")
    probabilities: str | None = option(None, "Also write a class model's per-class probabilities to this float32 COG "
                                       "(one band per class; a second pass over the region).", kind="path")
    style: str | None = option(None, "SPADE with a style encoder: paint in the style of this reference image (the "
                               "model's imagery bands and dtype). One style for the whole output.", kind="path")
    seed: int | None = option(None, "SPADE with a style encoder: paint in a random style drawn with this seed "
                              "(reproducible). Without --style or --seed the output is deterministic.")
    force: bool = option(False, "Translate a region whose content looks like the other side of the model's pairs "
                         "(a map given to a satellite -> map model), which is otherwise refused: for a region you "
                         "know to be the right kind despite its colours.")
    shard: Shard | None = option(None, "Write only shard I (counted from 0) of N, a band of tile rows, as a GeoTIFF "
                                 "part at OUT; 'geopix merge' joins the N parts into the COG a single translate "
                                 "writes, pixel for pixel. Under torchrun each rank takes its shard by itself and "
                                 "rank 0 merges.", kind="shard", metavar="I/N")


@dataclass(frozen=True)
class FillOptions:
    """Which holes inpaint fills, which it leaves, and where it records what it did."""

    holes: str | None = option(None, "The pixels to fill: a mask raster (non-zero = hole, any grid and CRS) or "
                               "polygons (any vector format and CRS, e.g. clouds.gpkg) [default: REGION's own nodata, "
                               "alpha, mask and NaN pixels].", kind="path", metavar="PATH")
    max_hole: float = option(DEFAULT_MAX_HOLE, "Leave holes whose farthest pixel lies more than this many pixels from "
                             "a known pixel (holes wider than twice it) as nodata, with a warning, rather than invent "
                             f"them [default: {DEFAULT_MAX_HOLE:g}, measured in bench/README.md].", min=0)
    record: str | None = option(None, "Where to write the filled-pixels record: a one-band COG of codes 0 kept, 1 "
                                "filled, 2 hole too large (nodata), 3 input nodata outside --holes, with a colour "
                                "table [default: OUT's name with .filled.tif].", kind="path")


def values_of(*groups: Any) -> dict[str, Any]:
    """The field values of option groups (dataclass instances), by field name."""
    return {f.name: getattr(g, f.name) for g in groups for f in dataclasses.fields(g)}


def _declared(classes: Sequence[type], only: Collection[str] | None) -> Iterator[tuple[dataclasses.Field[Any],
                                                                                     OptionSpec]]:
    for cls in classes:
        for f, spec in option_specs(cls):
            if only is None or f.name in only:
                yield f, spec


def keyword_values(classes: Sequence[type], options: Mapping[str, Any], caller: str,
                   only: Collection[str] | None = None) -> dict[str, Any]:
    """The API's keyword arguments ``options`` as the field values of ``classes`` (only the fields
    named in ``only``, if given).

    The API takes what a Python caller has at hand: ``None`` for a field's default, any path-like
    for a path, any sequence of band numbers (empty: the default), creation options as a mapping
    (checked against the COG driver), a shard as ``"I/N"`` or ``(I, N)``. A name that is no field is
    a ``TypeError``, as for any Python function.
    """
    declared = {f.name: (f, spec) for f, spec in _declared(classes, only)}
    unknown = sorted(set(options) - set(declared))
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    return {name: _coerced(f, spec, options[name]) for name, (f, spec) in declared.items() if name in options}


def _coerced(f: dataclasses.Field[Any], spec: OptionSpec, value: Any) -> Any:
    if value is None:
        return f.default
    if spec.kind == "path":
        return os.fspath(value)
    if spec.kind == "bands":
        return tuple(int(b) for b in value) or None
    if spec.kind == "creation_options":
        from geo_pix2pix.tiles.mosaic.cog_options import check_creation_options

        return tuple(check_creation_options(dict(value)).items())
    if spec.kind == "shard":
        from geo_pix2pix.tiles.mosaic.shard import Shard, parse_shard

        if isinstance(value, Shard):
            return value
        return parse_shard(value if isinstance(value, str) else "{}/{}".format(*map(int, value)))
    return value


def keyword_signature(method: Any, classes: Sequence[type], only: Collection[str] | None = None,
                      after: Sequence[inspect.Parameter] = ()) -> inspect.Signature:
    """The signature ``method`` (which takes ``**options``) shows in ``help()`` and IDEs: its own
    parameters, then the declared fields as keyword-only parameters with their defaults, then ``after``."""
    own = [p for p in inspect.signature(method).parameters.values() if p.kind is not p.VAR_KEYWORD]
    declared = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
                for f, _ in _declared(classes, only)]
    return inspect.Signature([*own, *declared, *after])
