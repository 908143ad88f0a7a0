"""Option decorators and value parsers shared by the geopix commands.

Callbacks turn text into typed values and raise :class:`click.BadParameter` quoting the bad
value, so usage mistakes exit with code 2 and a one-line message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def parse_bands(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    """``"1,2,3"`` -> ``(1, 2, 3)``; ``None`` stays ``None`` (all bands but alpha)."""
    if value is None:
        return None
    try:
        bands = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of band numbers, e.g. 1,2,3") from None
    if not bands or any(b < 1 for b in bands):
        raise click.BadParameter(f"{value!r}: band numbers start at 1, e.g. 1,2,3")
    return bands


def parse_creation_options(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    """``("COMPRESS=ZSTD", ...)`` -> ``{"COMPRESS": "ZSTD"}`` (GDAL creation options)."""
    out: dict[str, str] = {}
    for item in value:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE, e.g. --co COMPRESS=ZSTD")
        k, v = item.split("=", 1)
        out[k.strip().upper()] = v.strip()
    return out


def parse_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``"20m"``, ``"90s"``, ``"1h30m"`` or plain seconds -> seconds."""
    if value is None:
        return None
    import re

    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text)
        if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
            raise click.BadParameter(f"{value!r} is not a duration, e.g. 20m, 90s or 1h30m")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise click.BadParameter(f"{value!r}: the duration must be positive")
    return seconds


def tile_size_opt(default: int | None = 256) -> Callable[[F], F]:
    return click.option(
        "--tile-size", type=click.IntRange(min=16), default=default, show_default=default is not None,
        help="Square window side in pixels.",
    )


def overwrite_opt(f: F) -> F:
    return click.option("--overwrite", is_flag=True, help="Replace an existing output.")(f)


def bands_opts(f: F) -> F:
    f = click.option("--map-bands", callback=parse_bands, metavar="1,2,3",
                     help="Map bands to use (default: all but alpha).")(f)
    f = click.option("--imagery-bands", callback=parse_bands, metavar="1,2,3",
                     help="Imagery bands to use (default: all but alpha).")(f)
    return f


def tta_opt(f: F) -> F:
    """``--tta``: test-time augmentation (the 8 rotations/mirrors of each tile, averaged)."""
    return click.option(
        "--tta", is_flag=True,
        help="Average each tile's output over its 8 rotations and mirrors: smoother, slightly better maps "
             "(held-out maps256, CPU recipe: mIoU +0.01, L1 -7%) for 8x the compute.")(f)


def no_amp_opt(f: F) -> F:
    """``--no-amp``: float32 everywhere instead of bf16/fp16 mixed precision."""
    return click.option(
        "--no-amp", is_flag=True,
        help="Float32 everywhere. By default CUDA GPUs and CPUs with native bfloat16 (AVX512-BF16, AMX) "
             "run the networks in mixed precision.")(f)


def tiling_opts(f: F) -> F:
    """How a model runs over a region (translate, inpaint): tiles, batch, device, precision, TTA, the
    COG's creation options and the region's bands."""
    for deco in reversed([
        click.option("--tile-size", type=click.IntRange(min=1), default=None,
                     help="Tile side in pixels [default: the training tile, or its smallest multiple of at least "
                          "256 pixels if it is smaller]; any multiple of the generator's stride product (the "
                          "training tile always is one). Larger tiles: more context, fewer tiles."),
        click.option("--overlap", type=click.IntRange(min=0), default=None,
                     help="Overlap of neighbouring tiles in pixels [default: a quarter of the tile]."),
        click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
        no_amp_opt,
        tta_opt,
        click.option("--co", "creation_options", multiple=True, callback=parse_creation_options, metavar="KEY=VAL",
                     help="GDAL creation option of the COG driver, e.g. --co COMPRESS=ZSTD (repeatable)."),
        click.option("--bands", callback=parse_bands, metavar="1,2,3",
                     help="Bands of REGION to read, in the model's order [default: the model's input bands]; "
                          "required when REGION has more bands than the training input (extra bands are never "
                          "used silently)."),
    ]):
        f = deco(f)
    return f


def resampling_opt(f: F) -> F:
    return click.option(
        "--resampling", type=click.Choice(["nearest", "bilinear", "cubic", "average", "mode"]),
        default=None,
        help="Resampling of the map onto the imagery grid (default: by the map's kind: nearest for "
        "categorical maps, bilinear for continuous and rendered maps).",
    )(f)


def split_opts(f: F) -> F:
    f = click.option("--val-aoi", type=click.Path(dir_okay=False), default=None,
                     help="Polygons (any vector format, any CRS) whose windows form the validation set.")(f)
    f = click.option("--val-fraction", type=click.FloatRange(0, 0.9), default=0.2, show_default=True,
                     help="Share of spatial blocks held out for validation (0: none).")(f)
    f = click.option("--min-valid", type=click.FloatRange(0, 1), default=0.95, show_default=True,
                     help="Skip windows with a smaller share of valid (not nodata) pixels.")(f)
    return f


def quiet(ctx: click.Context) -> bool:
    """True when ``-q`` was given to the group."""
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("quiet"))


def layout_opts(f: F) -> F:
    """Vector layers as a class layout (SPADE): the same options for train and translate."""
    f = click.option("--all-touched", is_flag=True, default=False,
                     help="Burn every pixel a feature touches, not only those whose centre it covers (keeps thin "
                          "lines such as road centre-lines connected).")(f)
    f = click.option("--class-field", default=None, metavar="FIELD",
                     help="Attribute holding each feature's class, for layers that have it (one class per value); "
                          "other layers are one class each.")(f)
    return click.option("--layout", "layout", multiple=True, metavar="[NAME=]PATH",
                        help="Vector layer (any OGR format, any CRS) burnt into the class layout, repeatable; later "
                             "layers are drawn over earlier ones; the class is NAME (default: the file's stem). "
                             "Pixels no feature covers are class 'background'.")(f)


def layout_spec(layout: tuple[str, ...], class_field: str | None, all_touched: bool) -> Any:
    """The :class:`~geo_pix2pix.tiles.encoding.layout.LayoutSpec` of the layout options (None without --layout)."""
    if not layout:
        if class_field or all_touched:
            raise click.UsageError("--class-field and --all-touched apply to --layout vector layers")
        return None
    from geo_pix2pix.tiles.encoding.layout import LayoutSpec

    return LayoutSpec(tuple(layout), class_field, all_touched)
