"""``geopix inpaint REGION OUT``: fill a raster's holes (clouds, stripes, nodata) with a trained
inpainting model; valid pixels come out bit for bit, with a record of what was painted."""

from __future__ import annotations

import click

from geo_pix2pix.cli.config_options import option_group
from geo_pix2pix.cli.options import quiet
from geo_pix2pix.inference.run_options import FillOptions, ModelOptions, OutputOptions, TilingOptions


@click.command()
@click.argument("region", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@option_group(ModelOptions, "model", help={
    "model": "Run directory or model.safetensors of a model trained with --task inpaint."})
@option_group(FillOptions, "fill")
@option_group(TilingOptions, "tiling")
@option_group(OutputOptions, "output")
@click.pass_context
def inpaint(ctx: click.Context, region: str, out: str, model: ModelOptions, fill: FillOptions, tiling: TilingOptions,
            output: OutputOptions) -> None:
    """Fill the holes of REGION into OUT, a Cloud Optimized GeoTIFF on REGION's grid, in its dtype and
    bands; OUT.filled.tif records which pixels were painted.

    \b
    Examples:
      geopix inpaint scene.tif scene_filled.tif --model runs/inpaint
      geopix inpaint scene.tif scene_filled.tif --model runs/inpaint --holes clouds.gpkg
      geopix inpaint landsat7.tif filled.tif --model runs/l7 --holes slc_gaps.tif --max-hole 16
    """
    from geo_pix2pix.api import load_model
    from geo_pix2pix.inference.run_options import values_of
    from geo_pix2pix.runtime.distributed import launched
    from geo_pix2pix.runtime.progress import deferred_progress

    if launched():
        raise click.UsageError("geopix inpaint runs as one process (its tiles without holes are skipped, so a "
                               "sparse country-sized fill is cheap); start it without torchrun")
    _check_inputs(region, out, fill, output)
    filler = load_model(model.model, device=model.device, amp=model.amp, tta=model.tta)
    if not quiet(ctx):
        m = filler.meta
        click.echo(f"model: {filler.path.resolve()} ({m.summary()})", err=True)
    with deferred_progress(disable=quiet(ctx), unit="tile", desc="inpaint") as progress:
        result = filler.inpaint(region, out, progress=progress, **values_of(fill, tiling, output))
    p = result.plan
    click.echo(f"wrote {result.path} ({p.filled_pixels} px filled in {p.holes - p.too_large} hole(s), "
               f"{p.unfilled_pixels} px left as nodata in {p.too_large} too large; {result.tiles_run} of "
               f"{result.tiles} tiles run) and the record {result.record}")


def _check_inputs(region: str, out: str, fill: FillOptions, output: OutputOptions) -> None:
    """Refuse missing inputs, existing outputs and unknown creation options before the model loads."""
    from geo_pix2pix.inference.inpainting import record_path
    from geo_pix2pix.tiles.atomic import check_output
    from geo_pix2pix.tiles.mosaic.cog_options import check_creation_options
    from geo_pix2pix.tiles.raster import check_input_file

    holes = [fill.holes] if fill.holes else []
    check_input_file(region, "region")
    if fill.holes is not None:
        check_input_file(fill.holes, "holes")
    check_output(out, [region, *holes], output.overwrite)
    check_output(fill.record or record_path(out), [region, out, *holes], output.overwrite)
    check_creation_options(dict(output.creation_options))
