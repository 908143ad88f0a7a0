"""``geopix translate REGION OUT``: a whole region through a trained model, out as a COG."""

from __future__ import annotations

import click

from .options import no_amp_opt, overwrite_opt, parse_bands, parse_creation_options, quiet, tta_opt


@click.command()
@click.argument("region", type=click.Path())
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--model", default="runs/latest", show_default=True, help="Run directory or model.safetensors.")
@click.option("--tile-size", type=click.IntRange(min=1), default=None,
              help="Tile side in pixels [default: the training tile, or its smallest multiple of at least 256 "
                   "pixels if it is smaller]; any multiple of the generator's stride product (the training tile "
                   "always is one). Larger tiles: more context, fewer tiles.")
@click.option("--overlap", type=click.IntRange(min=0), default=None,
              help="Overlap of neighbouring tiles in pixels [default: a quarter of the tile].")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@no_amp_opt
@tta_opt
@click.option("--co", "creation_options", multiple=True, callback=parse_creation_options, metavar="KEY=VAL",
              help="GDAL creation option of the COG driver, e.g. --co COMPRESS=ZSTD (repeatable).")
@click.option("--bands", callback=parse_bands, metavar="1,2,3",
              help="Bands of REGION to read, in the model's order [default: the model's input bands]; required "
                   "when REGION has more bands than the training input (extra bands are never used silently).")
@click.option("--output-dtype", type=click.Choice(["float32", "float64", "uint8", "uint16", "int16", "int32",
                                                   "uint32"]), default=None,
              help="Dtype of a measured-value (continuous) output [default: float32], e.g. uint16 for a DEM "
                   "(rounded, with an integer nodata value).")
@click.option("--palette", type=click.Path(dir_okay=False), default=None,
              help="Palette JSON (see README): write an RGB model's map as classes, each pixel the code of its "
                   "nearest palette colour, with the palette as colour table.")
@click.option("--probabilities", type=click.Path(dir_okay=False), default=None,
              help="Also write a class model's per-class probabilities to this float32 COG (one band per class; "
                   "a second pass over the region).")
@overwrite_opt
@click.pass_context
def translate(ctx: click.Context, region: str, out: str, model: str, tile_size: int | None,
              overlap: int | None, batch_size: int, device: str, no_amp: bool, tta: bool,
              creation_options: dict[str, str], bands: tuple[int, ...] | None, output_dtype: str | None,
              palette: str | None, probabilities: str | None, overwrite: bool) -> None:
    """Translate REGION (a raster) into OUT, a Cloud Optimized GeoTIFF on the same grid.

    \b
    Example:
      geopix translate examples/data/charlotte_sat.tif out/charlotte_map.tif --model runs/demo
    """
    from geo_pix2pix.api import load_model
    from geo_pix2pix.progress import progress_bar
    from geo_pix2pix.tiles.atomic import check_output
    from geo_pix2pix.tiles.cog_options import check_creation_options
    from geo_pix2pix.tiles.raster import check_input_file

    check_input_file(region, "region")
    check_output(out, [region], overwrite)  # before loading the model: fail fast
    check_creation_options(creation_options)
    model = load_model(model, device=device, amp=not no_amp, tta=tta)
    if not quiet(ctx):  # a notice: -q leaves only errors on stderr
        m = model.meta
        click.echo(f"model: {model.path.resolve()} ({m.family} {m.generator.name}, {m.direction}, step {m.step})",
                   err=True)
    with progress_bar(disable=quiet(ctx), unit="tile", desc="translate") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = model.translate(region, out, tile=tile_size, overlap=overlap, batch_size=batch_size,
                                 creation_options=creation_options, bands=bands, output_dtype=output_dtype,
                                 palette=palette, probabilities=probabilities, overwrite=overwrite,
                                 progress=progress)
    click.echo(f"wrote {result.path} ({result.width} x {result.height} px, {result.tiles} tiles"
               f"{', input mask carried over' if result.masked else ''})")
