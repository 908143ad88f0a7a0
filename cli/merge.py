"""``geopix merge OUT PARTS...``: the parts of a sharded translate, one COG."""

from __future__ import annotations

import click

from geo_pix2pix.cli.config_options import overwrite_opt
from geo_pix2pix.cli.options import quiet


@click.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("parts", nargs=-1, required=True, type=click.Path())
@overwrite_opt
@click.pass_context
def merge(ctx: click.Context, out: str, parts: tuple[str, ...], overwrite: bool) -> None:
    """Merge the parts written by 'geopix translate --shard I/N' (files, or a folder of them) into OUT.

    The parts must belong together: one model and options, one source grid, every shard 0..N-1
    exactly once (a missing or foreign part is named). OUT is the Cloud Optimized GeoTIFF, with
    overviews, that one 'geopix translate' of the whole region writes, pixel for pixel.

    \b
    Examples:
      geopix merge big_map.tif parts/
      geopix merge big_map.tif parts/part-0.tif parts/part-1.tif parts/part-2.tif
    """
    from geo_pix2pix.api import merge as run
    from geo_pix2pix.runtime.progress import deferred_progress

    with deferred_progress(disable=quiet(ctx), unit="row", desc="merge") as progress:
        result = run(out, list(parts), overwrite=overwrite, progress=progress)
    click.echo(f"wrote {result.path} ({result.width} x {result.height} px, merged from {result.parts} parts"
               f"{', mask carried over' if result.masked else ''})")
