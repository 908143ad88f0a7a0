"""``geopix inpaint REGION OUT``: fill a raster's holes (clouds, stripes, nodata) with a trained
inpainting model; valid pixels come out bit for bit, with a record of what was painted."""

from __future__ import annotations

import click

from geo_pix2pix.cli.options import overwrite_opt, quiet, tiling_opts


@click.command()
@click.argument("region", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--model", default="runs/latest", show_default=True,
              help="Run directory or model.safetensors of a model trained with --task inpaint.")
@click.option("--holes", type=click.Path(), default=None,
              help="The pixels to fill: a mask raster (non-zero = hole, any grid and CRS) or polygons (any vector "
                   "format and CRS, e.g. clouds.gpkg) [default: REGION's own nodata, alpha, mask and NaN pixels].")
@click.option("--max-hole", type=click.FloatRange(min=0), default=None,
              help="Leave holes whose farthest pixel lies more than this many pixels from a known pixel (holes "
                   "wider than twice it) as nodata, with a warning, rather than invent them [default: 24, measured "
                   "in bench/README.md].")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Where to write the filled-pixels record: a one-band COG of codes 0 kept, 1 filled, 2 hole too "
                   "large (nodata), 3 input nodata outside --holes, with a colour table [default: OUT's name with "
                   ".filled.tif].")
@tiling_opts
@overwrite_opt
@click.pass_context
def inpaint(ctx: click.Context, region: str, out: str, model: str, holes: str | None, max_hole: float | None,
            record: str | None, tile_size: int | None, overlap: int | None, batch_size: int, device: str,
            no_amp: bool, tta: bool, creation_options: dict[str, str], bands: tuple[int, ...] | None,
            overwrite: bool) -> None:
    """Fill the holes of REGION into OUT, a Cloud Optimized GeoTIFF on REGION's grid, in its dtype and
    bands; OUT.filled.tif records which pixels were painted.

    \b
    Examples:
      geopix inpaint scene.tif scene_filled.tif --model runs/inpaint
      geopix inpaint scene.tif scene_filled.tif --model runs/inpaint --holes clouds.gpkg
      geopix inpaint landsat7.tif filled.tif --model runs/l7 --holes slc_gaps.tif --max-hole 16
    """
    from geo_pix2pix.api import load_model
    from geo_pix2pix.inference.inpainting import record_path
    from geo_pix2pix.runtime.distributed import launched
    from geo_pix2pix.runtime.progress import follow, progress_bar
    from geo_pix2pix.tiles.atomic import check_output
    from geo_pix2pix.tiles.mosaic.cog_options import check_creation_options
    from geo_pix2pix.tiles.raster import check_input_file

    if launched():
        raise click.UsageError("geopix inpaint runs as one process (its tiles without holes are skipped, so a "
                               "sparse country-sized fill is cheap); start it without torchrun")
    check_input_file(region, "region")
    if holes is not None:
        check_input_file(holes, "holes")
    check_output(out, [region, *([holes] if holes else [])], overwrite)
    check_output(record or record_path(out), [region, out, *([holes] if holes else [])], overwrite)
    check_creation_options(creation_options)
    filler = load_model(model, device=device, amp=not no_amp, tta=tta)
    if not quiet(ctx):
        m = filler.meta
        click.echo(f"model: {filler.path.resolve()} ({m.family} {m.generator.name}, step {m.step})", err=True)
    with progress_bar(disable=quiet(ctx), unit="tile", desc="inpaint") as bar:
        result = filler.inpaint(region, out, holes=holes, max_hole=max_hole, record=record, tile=tile_size,
                                overlap=overlap, batch_size=batch_size, creation_options=creation_options,
                                bands=bands, overwrite=overwrite, progress=follow(bar))
    p = result.plan
    click.echo(f"wrote {result.path} ({p.filled_pixels} px filled in {p.holes - p.too_large} hole(s), "
               f"{p.unfilled_pixels} px left as nodata in {p.too_large} too large; {result.tiles_run} of "
               f"{result.tiles} tiles run) and the record {result.record}")
