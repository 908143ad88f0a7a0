"""``geopix translate REGION OUT``: a whole region through a trained model, out as a COG.

For a model that paints from class layouts (SPADE), the region may instead be vector layers
(``--layout``) over a grid named by ``--like ref.tif`` or ``--bounds/--res/--crs``; then only OUT
is given."""

from __future__ import annotations

import datetime
import os
from typing import Any

import click

from geo_pix2pix.cli.config_options import option_group
from geo_pix2pix.cli.options import layout_opts, layout_spec, quiet
from geo_pix2pix.inference.run_options import ModelOptions, OutputOptions, TilingOptions, TranslateOptions


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(), metavar="[REGION] OUT")
@option_group(ModelOptions, "model")
@option_group(TilingOptions, "tiling")
@option_group(TranslateOptions, "translation")
@layout_opts
@click.option("--like", type=click.Path(dir_okay=False), default=None,
              help="With --layout: burn the layers onto this raster's grid (CRS, transform, size).")
@click.option("--bounds", type=float, nargs=4, default=None, metavar="LEFT BOTTOM RIGHT TOP",
              help="With --layout: the grid's extent in --crs units (with --res and --crs).")
@click.option("--res", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --bounds: pixel size in --crs units.")
@click.option("--crs", default=None, help="With --bounds: the grid's CRS (e.g. EPSG:32616).")
@option_group(OutputOptions, "output")
@click.pass_context
def translate(ctx: click.Context, paths: tuple[str, ...], model: ModelOptions, tiling: TilingOptions,
              translation: TranslateOptions, layout: tuple[str, ...], class_field: str | None, all_touched: bool,
              like: str | None, bounds: tuple[float, ...] | None, res: float | None, crs: str | None,
              output: OutputOptions) -> None:
    """Translate REGION (a raster) into OUT, a Cloud Optimized GeoTIFF on the same grid.

    \b
    Examples:
      geopix translate examples/data/charlotte_sat.tif out/charlotte_map.tif --model runs/demo
      geopix translate --layout buildings.gpkg --like pan.tif out/synthetic.tif --model runs/spade --seed 3
      geopix translate big.tif parts/part-0.tif --shard 0/4   # ... 3/4, then: geopix merge big_map.tif parts/
      torchrun --nproc-per-node 4 $(which geopix) translate big.tif big_map.tif
    """
    from geo_pix2pix.api import load_model
    from geo_pix2pix.inference.run_options import values_of
    from geo_pix2pix.runtime.distributed import init_world
    from geo_pix2pix.runtime.progress import deferred_progress

    world = init_world(model.device, timeout=SHARD_WAIT)
    region, out = _region(paths, layout_spec(layout, class_field, all_touched), like, bounds, res, crs)
    # checked before loading the model; a vector region's inputs are its layers and --like raster
    inputs: list[str | os.PathLike[str]] = (
        [region] if isinstance(region, str) else [*region.layout.paths, *([like] if like else [])])
    if world.distributed:
        if translation.shard is not None:
            raise click.UsageError("under torchrun every rank takes its own shard: leave out --shard")
        return _translate_ranks(ctx, world, region, out, inputs, model, values_of(tiling, translation, output))
    _check_inputs(region, out, inputs, translation, output)
    loaded = load_model(model.model, device=model.device, amp=model.amp, tta=model.tta)
    if not quiet(ctx):  # a notice: -q leaves only errors on stderr
        m = loaded.meta
        click.echo(f"model: {loaded.path.resolve()} ({m.summary()})",
                   err=True)
    with deferred_progress(disable=quiet(ctx), unit="tile", desc="translate") as progress:
        result = loaded.translate(region, out, progress=progress, **values_of(tiling, translation, output))
    shard = translation.shard
    what = f"shard {shard} part: {result.height} rows" if shard else f"{result.width} x {result.height} px"
    click.echo(f"wrote {result.path} ({what}, {result.tiles} tiles"
               f"{', input mask carried over' if result.masked else ''})")


def _check_inputs(region: Any, out: str, inputs: list[str | os.PathLike[str]], translation: TranslateOptions,
                  output: OutputOptions) -> None:
    """Refuse missing inputs, an existing output and unknown creation options before the model loads."""
    from geo_pix2pix.tiles.atomic import check_output
    from geo_pix2pix.tiles.mosaic.cog_options import check_creation_options
    from geo_pix2pix.tiles.raster import check_input_file

    if isinstance(region, str):
        check_input_file(region, "region")
    if translation.style is not None:
        check_input_file(translation.style, "style reference")
    check_output(out, inputs, output.overwrite)
    check_creation_options(dict(output.creation_options))


#: How long rank 0 waits at the end of a torchrun translate for the slowest shard. A rank that
#: fails is torchrun's to notice (it stops the others); this bounds a wait on a lost node.
SHARD_WAIT = datetime.timedelta(hours=24)


def _translate_ranks(ctx: click.Context, world: Any, region: Any, out: str, inputs: list[str | os.PathLike[str]],
                     model: ModelOptions, options: dict[str, Any]) -> None:
    """Under torchrun: rank r translates shard r/N into a part in a temporary folder beside OUT,
    on its own device; when all are written rank 0 merges them into OUT and removes the folder.
    Checks come first and are agreed, so a bad input is one line on every rank, before any work."""
    import shutil
    from pathlib import Path

    from geo_pix2pix.api import load_model, merge
    from geo_pix2pix.runtime.distributed import agree, barrier, device_for, on_main
    from geo_pix2pix.tiles.atomic import check_output, mkdtemp_beside

    target, overwrite = Path(out), options["overwrite"]
    parts = Path(on_main(lambda: str(mkdtemp_beside(check_output(target, inputs, overwrite)))))
    try:
        m = agree(lambda: load_model(model.model, device=device_for(model.device), amp=model.amp, tta=model.tta))
        part = parts / f"part-{world.rank:05d}.tif"
        result = agree(lambda: m.translate(region, part, **{**options, "shard": f"{world.rank}/{world.size}"}))
        if not quiet(ctx):
            click.echo(f"rank {world.rank}: wrote shard {world.rank}/{world.size} ({result.height} rows, "
                       f"{result.tiles} tiles)", err=True)
        barrier()
        if world.is_main:
            merged = merge(target, parts, overwrite=overwrite)
            click.echo(f"wrote {merged.path} ({merged.width} x {merged.height} px, merged from {merged.parts} shards)")
        barrier()
    finally:
        if world.is_main:
            shutil.rmtree(parts, ignore_errors=True)


def _region(paths: tuple[str, ...], spec: Any, like: str | None, bounds: tuple[float, ...] | None,
            res: float | None, crs: str | None) -> tuple[Any, str]:
    """(REGION raster path or vector region, OUT) from the arguments."""
    grid_given = like is not None or bounds is not None or res is not None or crs is not None
    if spec is None:
        if grid_given:
            raise click.UsageError("--like and --bounds/--res/--crs place --layout vector layers; give --layout")
        if len(paths) != 2:
            raise click.UsageError("expected REGION OUT (or --layout with --like/--bounds and OUT)")
        return paths[0], paths[1]
    if len(paths) != 1:
        raise click.UsageError("with --layout the region is the layers: give only OUT")
    from geo_pix2pix.inference.vector_layouts import VectorRegion
    from geo_pix2pix.tiles.encoding.layout import Grid

    if like is not None:
        if bounds is not None or res is not None or crs is not None:
            raise click.UsageError("give --like or --bounds/--res/--crs, not both")
        from geo_pix2pix.tiles.raster import check_input_file

        return VectorRegion(spec, Grid.like(check_input_file(like, "--like raster"))), paths[0]
    if bounds is None or res is None or crs is None:
        raise click.UsageError("--layout needs a grid: --like RASTER, or --bounds LEFT BOTTOM RIGHT TOP with --res "
                               "and --crs")
    return VectorRegion(spec, Grid.from_bounds(bounds, res, crs)), paths[0]
