"""``geopix evaluate``: L1, PSNR, SSIM, pixel accuracy and palette classes of a model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click

from geo_pix2pix.cli.config_options import field_option, option_group
from geo_pix2pix.cli.options import quiet
from geo_pix2pix.inference.run_options import ModelOptions, TilingOptions


@click.command()
@option_group(ModelOptions, "model")
@click.option("--imagery", type=click.Path(), help="Imagery raster.")
@click.option("--maps", type=click.Path(), help="Map raster.")
@click.option("--aligned-dir", type=click.Path(file_okay=False), default=None,
              help="Evaluate on a directory of pix2pix side-by-side images instead.")
@click.option("--aligned-order", type=click.Choice(["AB", "BA"]), default="AB", show_default=True)
@click.option("--palette", type=click.Path(dir_okay=False), default=None,
              help="Palette JSON (classes and colours) for per-class IoU and mIoU, e.g. "
                   "examples/palettes/google_maps_sat2maps.json.")
@click.option("--windows", type=click.Choice(["auto", "val", "all"]), default="auto", show_default=True,
              help="val: held-out windows of a training pair; all: every window; auto: val if the pair "
                   "was trained on, else all.")
@click.option("--tile-size", type=click.IntRange(min=1), default=None,
              help="Side of the windows scored on whole pairs [default: the tile translate would use: the "
                   "training tile, or its smallest multiple of at least 256 pixels]. Validation blocks of a "
                   "training pair keep the training tile.")
@field_option(TilingOptions, "batch_size")
@click.option("--hole-kind", type=click.Choice(["clouds", "stripes"]), default="clouds", show_default=True,
              help="Inpainting models: the holes drawn into --imagery (cloud blobs, or Landsat 7 SLC-off stripes).")
@click.option("--hole-sizes", default=None, metavar="8,16,32",
              help="Inpainting models: hole sizes in pixels (cloud diameters, stripe widths) [default: 8,16,32,64 "
                   "for clouds, 2,4,8,16 for stripes].")
@click.option("--seed", type=int, default=0, show_default=True, help="Inpainting models: seed of the holes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(model: ModelOptions, imagery: str | None, maps: str | None, aligned_dir: str | None, aligned_order: str,
             palette: str | None, windows: str, tile_size: int | None, batch_size: int, hole_kind: str,
             hole_sizes: str | None, seed: int, as_json: bool) -> None:
    """Score a model: L1, PSNR, SSIM, the maps pixel accuracy (channel error < 5/255) and, with a
    palette, per-class IoU and mIoU.

    \b
    Examples:
      geopix evaluate --model runs/demo --imagery examples/data/charlotte_sat.tif \\
                      --maps examples/data/charlotte_map.tif --palette examples/palettes/google_maps_sat2maps.json
      geopix evaluate --model runs/maps --aligned-dir ../shared/data/maps256
      geopix evaluate --model runs/inpaint --imagery held_out.tif --hole-kind stripes

    An inpainting model (--task inpaint) is scored on --imagery alone: holes of each size are drawn
    on its valid pixels and filled by the model and by GDAL's FillNodata; PSNR, SSIM and MAE inside
    the holes, against the real pixels.
    """
    from geo_pix2pix.evaluation.evaluate import evaluate_pairs
    from geo_pix2pix.evaluation.palette import load_palette
    from geo_pix2pix.files.modelfile import read_meta, resolve_model_path

    if read_meta(resolve_model_path(model.model)).family == "inpaint":
        return _evaluate_inpainting(model, imagery, maps or aligned_dir, hole_kind, hole_sizes, seed, batch_size,
                                    as_json)
    specs = _pair_specs(imagery, maps, aligned_dir, aligned_order)
    pal = load_palette(palette) if palette else None
    ev = evaluate_pairs(model.model, specs, windows=windows, device=model.device, batch_size=batch_size, palette=pal,
                        amp=model.amp, tile=tile_size, tta=model.tta)
    if as_json:
        click.echo(json.dumps(ev.to_dict(), indent=2))
        return
    for line in _evaluation_lines(ev, model.model):
        click.echo(line)


def _pair_specs(imagery: str | None, maps: str | None, aligned_dir: str | None, aligned_order: str) -> list[Any]:
    """The pairs to score: one imagery/map pair, or every image of an aligned directory."""
    from geo_pix2pix.tiles.pairs.pair import PairSpec

    if aligned_dir:
        if imagery or maps:
            raise click.UsageError("give --aligned-dir or --imagery/--maps, not both")
        from geo_pix2pix.tiles.pairs.aligned import aligned_specs

        return aligned_specs(aligned_dir, aligned_order)
    if imagery and maps:
        return [PairSpec(imagery, maps)]
    raise click.UsageError("--imagery and --maps are required (or --aligned-dir)")


def _evaluation_lines(ev: Any, model: str) -> Iterator[str]:
    """What evaluate prints, leading with what the map kind is measured in: for classes, accuracy
    against the majority-class baseline, mIoU, per-class IoU and the confusion; for measured
    values, MAE/RMSE/bias in the map's units, then the normalised image scores; for rendered maps,
    L1 and SSIM (and palette IoU when asked for)."""
    m = ev.metrics
    sizes = "/".join(map(str, ev.tiles))
    head = f"{ev.count} {ev.windows} windows of {sizes} px{' (8-transform average)' if ev.tta else ''}"
    if ev.categorical:
        yield f"{head}: accuracy {m.pixel_accuracy:.2%}{_against_baseline(ev)}  mIoU {ev.miou:.3f}"
        yield "IoU: " + "  ".join(f"{k} {v:.3f}" for k, v in (ev.class_iou or {}).items())
        names = list(ev.class_iou or ())
        yield "confusion (rows: reference, columns: predicted): " + names.__repr__()
        for name, row in zip(names, ev.confusion or (), strict=True):
            yield f"  {name:>16}: " + " ".join(f"{v:>9d}" for v in row)
        return
    if ev.values is not None:
        from geo_pix2pix.files.modelfile import read_meta
        from geo_pix2pix.tiles.encoding.normalize import BandStats

        out = read_meta(model).output_stats
        units = (out.units if isinstance(out, BandStats) else None) or "map units"
        v = ev.values
        yield (f"{head}: MAE {v['MAE']:.4g} {units}  RMSE {v['RMSE']:.4g} {units}  bias {v['bias']:+.4g} {units}  "
               f"over {v['pixels']} pixels")
        for band in v["bands"]:
            yield (f"  reference {band['from']:>10.4g} .. {band['to']:<10.4g}: MAE {band['MAE']:.4g}  "
                   f"RMSE {band['RMSE']:.4g}  bias {band['bias']:+.4g}  ({band['pixels']} px)")
        yield f"normalised: L1 {m.L1:.4f}  PSNR {m.PSNR:.2f} dB  SSIM {m.SSIM:.4f}"
        return
    yield f"{head}: L1 {m.L1:.4f}  SSIM {m.SSIM:.4f}  PSNR {m.PSNR:.2f} dB  pixel accuracy {m.pixel_accuracy:.2%}"
    if ev.class_iou is not None:
        yield "palette IoU: " + "  ".join(f"{k} {v:.3f}" for k, v in ev.class_iou.items()) + f"  mIoU {ev.miou:.3f}"


def _against_baseline(ev: Any) -> str:
    """The accuracy's comparison with a map of the majority class everywhere."""
    if ev.baseline is None:
        return ""
    name, share = ev.baseline
    verdict = "below" if ev.metrics.pixel_accuracy < share else "above"
    if f"{ev.metrics.pixel_accuracy:.2%}" == f"{share:.2%}":  # equal as shown: neither above nor below
        verdict = "level with"
    return f" ({verdict} the {share:.2%} of a map of '{name}' everywhere)"


def _evaluate_inpainting(model: ModelOptions, imagery: str | None, other: str | None, kind: str,
                         sizes_text: str | None, seed: int, batch_size: int, as_json: bool) -> None:
    """geopix and GDAL FillNodata inside drawn holes of ``imagery``, one line per size."""
    from geo_pix2pix.api import load_model
    from geo_pix2pix.evaluation.fill_scores import HoleScore, evaluate_inpainting
    from geo_pix2pix.tiles.raster import check_input_file

    if not imagery or other:
        raise click.UsageError("an inpainting model is scored on --imagery alone (holes are drawn into it)")
    check_input_file(imagery, "imagery")
    try:
        sizes = tuple(int(v) for v in sizes_text.split(",")) if sizes_text else None
    except ValueError:
        raise click.BadParameter(f"{sizes_text!r} is not a comma-separated list of sizes in pixels",
                                 param_hint="--hole-sizes") from None
    if sizes is not None and (not sizes or min(sizes) < 1):
        raise click.BadParameter("hole sizes are positive pixel counts, e.g. 8,16,32", param_hint="--hole-sizes")
    from geo_pix2pix.runtime.progress import deferred_progress

    filler = load_model(model.model, device=model.device, amp=model.amp, tta=model.tta)
    with deferred_progress(disable=quiet(click.get_current_context()), unit="tile",
                           desc=f"evaluate ({kind} holes, one inpaint pass per size)") as progress:
        scores = evaluate_inpainting(filler, imagery, kind, sizes, seed, batch_size, progress=progress)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in scores], indent=2))
        return
    click.echo(f"{kind} holes in {imagery}, inside the holes (geopix / GDAL FillNodata):")
    by_size: dict[int, dict[str, HoleScore]] = {}
    for s in scores:
        by_size.setdefault(s.size, {})[s.method] = s
    for size, m in by_size.items():
        g, f = m["geopix"], m["gdal"]
        click.echo(f"  {size:>3} px ({g.pixels} px): PSNR {g.PSNR:.2f} / {f.PSNR:.2f} dB  "
                   f"SSIM {g.SSIM:.3f} / {f.SSIM:.3f}  MAE {g.MAE:.4g} / {f.MAE:.4g}")
