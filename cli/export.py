"""``geopix export RUN OUT.onnx``: a trained model as an ONNX file that GIS tools run (Deepness,
GeoDeep, ONNX Runtime anywhere), with their metadata and geopix's."""

from __future__ import annotations

import click

from geo_pix2pix.cli.config_options import overwrite_opt
from geo_pix2pix.cli.options import quiet


@click.command()
@click.argument("model", type=click.Path())
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--tile", type=click.IntRange(min=1), default=None,
              help="Fix the graph's tile side (a multiple of the generator's stride product). Deepness and GeoDeep "
                   "need a fixed one [default: any multiple, chosen when run].")
@click.option("--opset", type=click.IntRange(min=17), default=None,
              help="ONNX opset [default: 18, with IR version 8: ONNX Runtime 1.14 and later].")
@click.option("--style", type=click.Path(dir_okay=False), default=None,
              help="SPADE with a style encoder: fix the style of this reference image in the graph.")
@click.option("--seed", type=int, default=None,
              help="SPADE with a style encoder: fix a random style drawn with this seed [default: z = 0, the "
                   "deterministic style translate uses].")
@overwrite_opt
@click.pass_context
def export(ctx: click.Context, model: str, out: str, tile: int | None, opset: int | None, style: str | None,
           seed: int | None, overwrite: bool) -> None:
    """Export MODEL (a run directory or model.safetensors) to OUT, an ONNX file with GIS metadata.

    The graph reads the raster's values divided by 255 (uint8; 65535 for uint16; other dtypes as they
    are), applies the model's normalisation itself, and writes per-class probabilities (class maps)
    or values in the output raster's units. geopix translate --model OUT.onnx runs it through ONNX
    Runtime (pip install 'geopix[onnx]').

    \b
    Examples:
      geopix export runs/roads roads.onnx --tile 256       # for Deepness and GeoDeep
      geopix export runs/demo demo.onnx                    # any tile: geopix, ONNX Runtime
      geopix translate region.tif map.tif --model demo.onnx
    """
    from geo_pix2pix.export import DEFAULT_OPSET, ExportConfig, export_onnx

    if style is not None:
        from geo_pix2pix.tiles.raster import check_input_file

        check_input_file(style, "style reference")
    result = export_onnx(ExportConfig(model, out, tile, opset or DEFAULT_OPSET, style, seed, overwrite))
    c = result.contract
    shape = f"batch x {c.input_channels} x " + (f"{c.tile} x {c.tile}" if c.tile else f"{c.multiple}k x {c.multiple}k")
    if not quiet(ctx):
        for note in result.notes:
            click.echo(f"geopix: note: {note}", err=True)
    check = "" if result.max_difference is None else f"; ONNX Runtime matches torch to {result.max_difference:.1e}"
    click.echo(f"wrote {result.path} ({result.bytes / 1e6:.1f} MB, opset {c.opset}, input {shape}, "
               f"{c.output_kind} out; {result.seconds:.1f} s{check})")
