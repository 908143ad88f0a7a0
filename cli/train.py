"""``geopix train``: learn imagery <-> map translation with Pix2Pix on georeferenced rasters."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .options import bands_opts, no_amp_opt, overwrite_opt, parse_duration, quiet, resampling_opt, split_opts


@click.command()
@click.option("--imagery", type=click.Path(), multiple=True,
              help="Imagery raster (satellite or aerial); repeat for several pairs.")
@click.option("--maps", type=click.Path(), multiple=True,
              help="Map raster of the same place; repeat, paired in order with --imagery.")
@click.option("--pairs", "pairs_csv", type=click.Path(dir_okay=False), default=None,
              help="CSV of imagery,map rows (one pair a row; relative paths are resolved against the CSV).")
@click.option("--aligned-dir", type=click.Path(file_okay=False), default=None,
              help="Directory of pix2pix side-by-side images (input|target), e.g. the maps dataset.")
@click.option("--aligned-order", type=click.Choice(["AB", "BA"]), default="AB", show_default=True,
              help="AB: imagery on the left, map on the right; BA: the reverse.")
@click.option("--val-pairs", type=click.IntRange(min=0), default=None,
              help="Hold out the last N pairs (or aligned images) whole for validation "
                   "[default: 0 for rasters (blocks of every pair), 20% of aligned images].")
@click.option("--direction", type=click.Choice(["sat2map", "map2sat"]), default="sat2map", show_default=True,
              help="sat2map: imagery -> map; map2sat: map -> synthetic imagery.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run directory (default: runs/<date>-<time>-<direction>).")
@click.option("--generator", default="unet", show_default=True,
              help="unet (the paper's U-Net) or smp:<encoder>, e.g. smp:resnet34.")
@click.option("--encoder-weights", type=click.Path(dir_okay=False), default=None,
              help="Local encoder weights (.safetensors or .pth state dict) for smp generators.")
@click.option("--recipe", type=click.Choice(["auto", "paper", "cpu"]), default="auto", show_default=True,
              help="Defaults to start from: paper (the paper's configuration), cpu (what trains best on a CPU "
                   "in a fixed time: tile 64, batch 16, ngf/ndf 32, lr 1e-3, lambda 400, edge weight 4), auto: cpu when "
                   "training on a CPU, else paper. Options you give override the recipe.")
@click.option("--tile-size", type=click.IntRange(min=32), default=256, show_default=True,
              help="Training window side in pixels (a multiple of 32).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps [default: 1000].")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Train for this many passes over the training area instead of --steps.")
@click.option("--time-budget", callback=parse_duration, default=None, metavar="DURATION",
              help="Train until this much time has passed (e.g. 20m), the learning-rate schedule fitted into it.")
@click.option("--val-every", type=click.IntRange(min=1), default=250, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--stop-at", type=click.IntRange(min=1), default=None,
              help="Stop after this step with a checkpoint, as if interrupted (continue with --resume).")
@click.option("--lambda-l1", type=click.FloatRange(min=0), default=100.0, show_default=True)
@click.option("--edge-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Extra L1 weight of pixels at the map's colour edges (thin strokes such as roads); 0: the paper's L1.")
@click.option("--balance-palette", type=click.Path(dir_okay=False), default=None,
              help="Palette JSON of the map's classes (e.g. examples/palettes/google_maps_pix2pix.json): weigh the L1 of "
                   "each class by its training frequency ** -POWER, so rare classes (highways, water) are learnt.")
@click.option("--balance-power", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Exponent of --balance-palette's class weights (0.5: inverse square root of frequency).")
@click.option("--palette-head", type=click.Path(dir_okay=False), default=None,
              help="Palette JSON of the map's classes: the generator predicts which palette colour each pixel is "
                   "and paints it, trained with a class cross-entropy next to the L1 (sat2map, RGB maps).")
@click.option("--class-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of --palette-head's class cross-entropy.")
@click.option("--gan-loss", type=click.Choice(["vanilla", "lsgan", "hinge"]), default="vanilla", show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=2e-4, show_default=True)
@click.option("--decay-start", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of training after which the learning rate decays linearly to zero.")
@click.option("--ngf", type=click.IntRange(min=1), default=64, show_default=True,
              help="Generator filters in the first layer (unet; fewer: smaller, faster model).")
@click.option("--ndf", type=click.IntRange(min=1), default=64, show_default=True,
              help="Discriminator filters in the first layer.")
@click.option("--norm", type=click.Choice(["batch", "instance"]), default="batch", show_default=True,
              help="Generator normalisation (unet).")
@click.option("--d-layers", type=click.IntRange(1, 6), default=3, show_default=True,
              help="PatchGAN layers (3: 70x70 patches).")
@click.option("--d-norm", type=click.Choice(["batch", "instance", "spectral"]), default="batch", show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@no_amp_opt
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile G and D (worth it on GPUs for long runs; the first steps wait for compilation).")
@click.option("--workers", type=int, default=-1, show_default=True, help="DataLoader worker processes (-1: auto = none on a CPU, up to 8 on a GPU).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this directory from its last checkpoint.")
@bands_opts
@resampling_opt
@split_opts
@overwrite_opt
@click.pass_context
def train(ctx: click.Context, **kw: Any) -> None:
    """Train a Pix2Pix model (U-Net generator, PatchGAN, adversarial + lambda * L1).

    \b
    Examples:
      geopix train --imagery examples/data/houston_sat.tif --maps examples/data/houston_map.tif \\
                   --tile-size 128 --steps 200 --out runs/houston
      geopix train --resume runs/houston --steps 400
    """
    from geo_pix2pix.train import fit

    cfg, resume = _config(kw)
    if not resume:
        cfg = _apply_recipe(ctx, cfg, kw["recipe"])
    result = fit(cfg, resume=resume, progress=not quiet(ctx))
    msg = f"trained to step {result.step}; model: {result.run_dir / 'model.safetensors'}"
    if result.val is not None:
        v = result.val
        msg += f" (validation L1 {v.L1:.4f}, PSNR {v.PSNR:.2f} dB, SSIM {v.SSIM:.3f})"
    click.echo(msg)


def _config(kw: dict[str, Any]) -> tuple[Any, bool]:
    from geo_pix2pix.config import TrainConfig
    from geo_pix2pix.tiles.errors import GeopixError, OutputExistsError
    from geo_pix2pix.tiles.pair import PairSpec

    given = [k for k in ("steps", "epochs", "time_budget") if kw[k] is not None]
    if len(given) > 1:
        raise click.UsageError("give one of --steps, --epochs and --time-budget, not several")
    if kw["resume"]:
        run = Path(kw["resume"])
        if not (run / "config.json").is_file() or not (run / "checkpoint.pt").is_file():
            raise GeopixError(f"{run} is not a geopix run directory with a checkpoint (config.json, checkpoint.pt)")
        try:
            cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise GeopixError(f"{run}/config.json is damaged ({exc})") from None
        changes: dict[str, Any] = {"out": str(run), "stop_at": kw["stop_at"]}
        if kw["steps"] is not None:
            changes.update(steps=kw["steps"], time_budget=None)
        if kw["time_budget"] is not None:
            changes["time_budget"] = kw["time_budget"]
        if kw["device"] != "auto":
            changes["device"] = kw["device"]
        return cfg.with_(**changes), True
    if kw["aligned_dir"]:
        if kw["imagery"] or kw["maps"] or kw["pairs_csv"]:
            raise click.UsageError("--aligned-dir cannot be combined with --imagery/--maps/--pairs")
        from geo_pix2pix.tiles.aligned import aligned_specs

        aligned = aligned_specs(kw["aligned_dir"], kw["aligned_order"])
        pairs = [(s.imagery, s.maps) for s in aligned]
        if kw["val_pairs"] is None:
            kw["val_pairs"] = max(1, round(0.2 * len(pairs))) if len(pairs) > 1 else 0
    else:
        pairs = _pairs(kw["imagery"], kw["maps"], kw["pairs_csv"])
    out = Path(kw["out"] or f"runs/{time.strftime('%Y%m%d-%H%M%S')}-{kw['direction']}")
    if out.exists() and any(out.iterdir()):
        if not kw["overwrite"]:
            raise OutputExistsError(f"run directory {out} exists; use --resume {out} to continue it or --overwrite")
        import shutil

        shutil.rmtree(out)
    extra = {"epochs": kw["epochs"]} if kw["epochs"] else {}
    order = kw["aligned_order"] if kw["aligned_dir"] else None
    specs = tuple(PairSpec(i, m, kw["imagery_bands"], kw["map_bands"], kw["resampling"], order) for i, m in pairs)
    return TrainConfig(
        pairs=specs, val_pairs=kw["val_pairs"] or 0, time_budget=kw["time_budget"], out=str(out), direction=kw["direction"], generator=kw["generator"],
        encoder_weights=kw["encoder_weights"], ngf=kw["ngf"], ndf=kw["ndf"], norm=kw["norm"], d_layers=kw["d_layers"], d_norm=kw["d_norm"],
        gan_loss=kw["gan_loss"], lambda_l1=kw["lambda_l1"], edge_weight=kw["edge_weight"],
        balance_palette=kw["balance_palette"], balance_power=kw["balance_power"],
        palette_head=kw["palette_head"], class_weight=kw["class_weight"], lr=kw["lr"], decay_start=kw["decay_start"], tile=kw["tile_size"],
        batch_size=kw["batch_size"], steps=kw["steps"] or 1000, val_every=kw["val_every"],
        checkpoint_every=kw["checkpoint_every"], stop_at=kw["stop_at"], seed=kw["seed"], device=kw["device"],
        amp=not kw["no_amp"], compile=kw["compile_"], workers=kw["workers"], min_valid=kw["min_valid"],
        val_fraction=kw["val_fraction"], val_aoi=kw["val_aoi"], extra=extra,
    ), False


#: TrainConfig field -> the ``geopix train`` parameter that sets it, where the names differ.
_PARAM = {"tile": "tile_size"}


def _apply_recipe(ctx: click.Context, cfg: Any, recipe: str) -> Any:
    """Start from ``recipe``'s defaults, keeping every option given on the command line."""
    from click.core import ParameterSource

    from geo_pix2pix.config import RECIPES
    from geo_pix2pix.device import plan_device

    if recipe == "auto":
        recipe = "cpu" if plan_device(cfg.device, cfg.amp).device.type == "cpu" else "paper"
    given = {k for k in RECIPES[recipe]
             if ctx.get_parameter_source(_PARAM.get(k, k)) not in (ParameterSource.DEFAULT, None)}
    changes = {k: v for k, v in RECIPES[recipe].items() if k not in given}
    if changes and not quiet(ctx):
        shown = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in changes.items())
        click.echo(f"recipe {recipe}: {shown} (options you give override it; --recipe paper for the "
                   "paper's settings)", err=True)
    return cfg.with_(recipe=recipe, **changes)


def _pairs(imagery: tuple[str, ...], maps: tuple[str, ...], csv_path: str | None) -> list[tuple[str, str]]:
    """Pairs from repeated --imagery/--maps (in order) and/or a CSV of imagery,map rows."""
    import csv

    from geo_pix2pix.tiles.raster import check_input_file

    if len(imagery) != len(maps):
        raise click.UsageError(f"{len(imagery)} --imagery but {len(maps)} --maps: give them in pairs")
    pairs = list(zip(imagery, maps))
    if csv_path:
        path = check_input_file(csv_path, "pairs CSV")
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].lstrip().startswith("#")]
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["imagery", "map"]:
            rows = rows[1:]  # header
        for n, row in enumerate(rows, 1):
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise click.UsageError(f"{csv_path} row {n}: expected 'imagery,map', got {','.join(row)!r}")
            pairs.append(tuple(str((path.parent / c.strip())) if not Path(c.strip()).is_absolute()
                               else c.strip() for c in row[:2]))  # type: ignore[arg-type]
    if not pairs:
        raise click.UsageError("--imagery and --maps are required (or --pairs CSV, or --resume RUN_DIR)")
    return pairs
