"""``geopix evaluate``: L1, PSNR, SSIM and pixel accuracy of a model on an imagery/map pair."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--model", default="runs/latest", show_default=True, help="Run directory or model.safetensors.")
@click.option("--imagery", required=True, type=click.Path(), help="Imagery raster.")
@click.option("--maps", required=True, type=click.Path(), help="Map raster.")
@click.option("--windows", type=click.Choice(["auto", "val", "all"]), default="auto", show_default=True,
              help="val: held-out windows of a training pair; all: every window; auto: val if the pair "
                   "was trained on, else all.")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(model: str, imagery: str, maps: str, windows: str, device: str, batch_size: int,
             as_json: bool) -> None:
    """Score a model: L1, PSNR, SSIM and the maps pixel accuracy (channel error < 5/255).

    \b
    Example:
      geopix evaluate --model runs/houston --imagery examples/data/houston_sat.tif \\
                      --maps examples/data/houston_map.tif
    """
    from geo_pix2pix.evaluate import evaluate as run

    ev = run(model, imagery, maps, windows=windows, device=device, batch_size=batch_size)
    m = ev.metrics
    if as_json:
        click.echo(json.dumps({**m.to_dict(), "windows": ev.windows, "count": ev.count}, indent=2))
        return
    click.echo(f"{ev.count} {ev.windows} windows: L1 {m.L1:.4f}  PSNR {m.PSNR:.2f} dB  SSIM {m.SSIM:.4f}  "
               f"pixel accuracy {m.pixel_accuracy:.2%}")
