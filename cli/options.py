"""Value parsers and the option decorators of command-line inputs shared by geopix commands.

Callbacks turn text into typed values and raise :class:`click.BadParameter` quoting the bad
value, so usage mistakes exit with code 2 and a one-line message. Options that are fields of a
config or option group (tiling, device, output) are built from their declarations instead
(:mod:`geo_pix2pix.cli.config_options`).
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


def bands_opts(f: F) -> F:
    f = click.option("--map-bands", callback=parse_bands, metavar="1,2,3",
                     help="Map bands to use (default: all but alpha).")(f)
    f = click.option("--imagery-bands", callback=parse_bands, metavar="1,2,3",
                     help="Imagery bands to use (default: all but alpha).")(f)
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
