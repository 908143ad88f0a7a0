"""``geopix train``: learn imagery <-> map translation with a model of the Pix2Pix family.

The options are built from the config dataclasses (:class:`geo_pix2pix.training.config.TrainConfig` and each
family's options class), so each is declared once; this module only adds the inputs (rasters,
pairs, aligned images), the recipe choice and ``--resume``, and turns the command line into a
config for :func:`geo_pix2pix.training.loop.fit`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from geo_pix2pix.cli.config_options import config_options, field_option, overwrite_opt
from geo_pix2pix.cli.options import bands_opts, layout_opts, layout_spec, quiet, resampling_opt
from geo_pix2pix.families.base import get_family, iter_families
from geo_pix2pix.training.config import TrainConfig

#: Every family's own options class, in the order of the registry (a new family brings its own).
FAMILY_OPTIONS: tuple[type, ...] = tuple(f.options for f in iter_families() if f.options is not None)
#: TrainConfig fields whose command-line option is placed by hand: their CLI default is computed
#: later (the run name; a share of the aligned images), so the option's default is None.
_EXPLICIT = ("out", "val_pairs")
#: The CPU recipe: what `geopix train` uses on a machine without a GPU unless an option is given.
_CPU_RECIPE = get_family("pix2pix").recipes["cpu"]


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def recipe_text(values: Mapping[str, Any]) -> str:
    """``name value, ...`` of a recipe's values, as the recipe line and --help show them."""
    return ", ".join(f"{k} {_value_text(v)}" for k, v in values.items())


#: --help shows, next to each default (the paper's), the value the CPU recipe gives it.
_RECIPE_NOTES = {k: f"pix2pix CPU recipe, the default without a GPU: {_value_text(v)}" for k, v in _CPU_RECIPE.items()}


@click.command()
@click.option("--imagery", type=click.Path(), multiple=True,
              help="Imagery raster (satellite or aerial); repeat for several pairs.")
@click.option("--maps", type=click.Path(), multiple=True,
              help="Map raster of the same place; repeat, paired in order with --imagery.")
@click.option("--pairs", "pairs_csv", type=click.Path(dir_okay=False), default=None,
              help="CSV of imagery,map rows (one pair a row; relative paths are resolved against the CSV).")
@layout_opts
@click.option("--aligned-dir", type=click.Path(file_okay=False), default=None,
              help="Directory of pix2pix side-by-side images (input|target), e.g. the maps dataset.")
@click.option("--aligned-order", type=click.Choice(["AB", "BA"]), default="AB", show_default=True,
              help="AB: imagery on the left, map on the right; BA: the reverse.")
@field_option(TrainConfig, "out", default=None, type=click.Path(file_okay=False))
@field_option(TrainConfig, "val_pairs", default=None)
@click.option("--recipe", type=click.Choice(["auto", "paper", "cpu"]), default="auto", show_default=True,
              help="Defaults to start from: paper (the family's paper configuration), cpu (what trains best on a "
                   f"CPU in a fixed time; pix2pix: {recipe_text(_CPU_RECIPE)}), auto: cpu when training on a CPU, "
                   "else paper. Options you give override the recipe.")
@config_options([TrainConfig], skip=_EXPLICIT, notes=_RECIPE_NOTES)
@config_options(FAMILY_OPTIONS)
@click.option("--resume", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this directory from its last checkpoint (--steps, --time-budget, "
                   "--stop-at and --device may change).")
@bands_opts
@resampling_opt
@overwrite_opt
@click.pass_context
def train(ctx: click.Context, /, **kw: Any) -> None:  # ctx positional: click passes it first
    """Train a Pix2Pix-family model (default pix2pix: U-Net generator, PatchGAN, adversarial + lambda * L1).

    \b
    Examples:
      geopix train --imagery examples/data/houston_sat.tif --maps examples/data/houston_map.tif \\
                   --tile-size 128 --steps 200 --out runs/houston
      geopix train --resume runs/houston --steps 400
      geopix train --family pix2pixhd --imagery sat.tif --maps map.tif --tile-size 512
      geopix train --family spade --imagery sat.tif --layout buildings.gpkg --layout roads.gpkg
      geopix train --task inpaint --imagery scene1.tif --imagery scene2.tif --time-budget 20m
    """
    from geo_pix2pix.api import fit
    from geo_pix2pix.runtime.distributed import agree, init_world, on_main

    given = {p.name for p in ctx.command.params
             if p.name and ctx.get_parameter_source(p.name) not in (click.core.ParameterSource.DEFAULT, None)}
    world = init_world(kw["device"])
    if world.distributed:
        _as_rank(ctx, world, kw)
    if kw["resume"]:
        cfg, resume = agree(lambda: _resumed(kw, given)), True
    else:
        def new_run() -> TrainConfig:  # once (rank 0): the run directory is checked, named and made once
            cfg = _apply_recipe(ctx, _config(kw, given), kw["recipe"], given)
            spec = layout_spec(kw["layout"], kw["class_field"], kw["all_touched"])
            return _with_layout(cfg, spec, kw["imagery"]) if spec is not None else cfg

        cfg, resume = on_main(new_run), False
    result = fit(cfg, resume=resume, progress_bar=not quiet(ctx) and world.is_main)
    if not world.is_main:
        return
    msg = f"trained to step {result.step}; model: {result.run_dir / 'model.safetensors'}"
    if result.val is not None:
        msg += f" (validation {_validation_summary(result.val, result.run_dir)})"
    click.echo(msg)


def _validation_summary(v: Any, run_dir: Path) -> str:
    """The last validation, led by what the map kind is measured in: a class map's accuracy against
    its majority-class baseline; a one-band value map's MAE in its units; otherwise L1 and SSIM."""
    if v.L1 != v.L1:  # a categorical map: classes, scored by accuracy
        text = f"accuracy {v.pixel_accuracy:.1%}"
        if v.majority is not None:
            name, share = v.majority
            verdict = "below" if v.pixel_accuracy < share else "above"
            if f"{v.pixel_accuracy:.1%}" == f"{share:.1%}":  # "97.6%, above the 97.6%" reads as a win
                verdict = "level with"
            text += f", {verdict} the {share:.1%} of a map of '{name}' everywhere"
        return text
    from geo_pix2pix.evaluation.metrics import units_mae
    from geo_pix2pix.files.modelfile import read_meta

    meta = read_meta(run_dir)
    if meta.map_kind == "continuous" and meta.direction == "sat2map":
        mae = units_mae(v.L1, meta.output_stats)
        if mae is not None:
            units = getattr(meta.output_stats, "units", None) or "map units"
            return f"MAE {mae:.4g} {units}, L1 {v.L1:.4f}, SSIM {v.SSIM:.3f}"
    return f"L1 {v.L1:.4f}, SSIM {v.SSIM:.3f}, PSNR {v.PSNR:.2f} dB"


def _as_rank(ctx: click.Context, world: Any, kw: dict[str, Any]) -> None:
    """Under torchrun: the run directory must be named (every rank and every elastic restart
    must find the same one); after an elastic restart the run resumes from its last checkpoint;
    ranks other than 0 print errors only."""
    import logging

    from geo_pix2pix.runtime.progress import NOTICE

    if not world.is_main:
        ctx.obj["quiet"] = 1
        logging.getLogger().setLevel(logging.ERROR)
    if not kw["resume"] and not kw["out"]:
        raise click.UsageError("under torchrun give --out RUN: every rank, and every restart, must name the same "
                               "run directory (on a file system all nodes see)")
    if world.restarts and not kw["resume"]:
        if (Path(kw["out"]) / "checkpoint.pt").is_file():
            kw["resume"] = kw["out"]
            logging.getLogger(__name__).log(NOTICE, "elastic restart %d: resuming %s from its last checkpoint",
                                            world.restarts, kw["out"])
        else:
            kw["overwrite"] = True  # restarted before the first checkpoint: start the run again


def _family_options(kw: dict[str, Any], given: set[str], family: str) -> dict[str, Any]:
    """The chosen family's option values; another family's option given is a usage error."""
    own = get_family(family).options
    chosen = {f.name: kw[f.name] for f in fields(own)} if own is not None else {}
    for cls in FAMILY_OPTIONS:
        for f in fields(cls):
            if f.name not in chosen and f.name in given:
                flag = "--" + f.name.replace("_", "-")
                raise click.UsageError(f"{flag} is an option of another model family than {family}; "
                                       f"choose that family with --family")
    return chosen


def _resumed(kw: dict[str, Any], given: set[str]) -> TrainConfig:
    """The stored config of ``--resume RUN``, with what may change between sessions."""
    from geo_pix2pix.tiles.errors import GeopixError

    run = Path(kw["resume"])
    if not (run / "config.json").is_file() or not (run / "checkpoint.pt").is_file():
        raise GeopixError(f"{run} is not a geopix run directory with a checkpoint (config.json, checkpoint.pt)")
    try:
        cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise GeopixError(f"{run}/config.json is damaged ({exc})") from None
    _one_length(given)
    changes: dict[str, Any] = {"out": str(run), "stop_at": kw["stop_at"]}
    if "steps" in given:  # a step count replaces the stored epochs or time budget
        changes.update(steps=kw["steps"], epochs=None, time_budget=None)
    if "time_budget" in given:
        changes.update(time_budget=kw["time_budget"], epochs=None)
    if "epochs" in given:
        changes.update(epochs=kw["epochs"], time_budget=None)
    if "device" in given:
        changes["device"] = kw["device"]
    return cfg.with_(**changes)


def _with_layout(cfg: TrainConfig, spec: Any, imagery: tuple[str, ...]) -> TrainConfig:
    """The config with each imagery raster paired with the layers burnt onto its grid (in the run
    directory's ``layouts/``), after the config has been checked (nothing is written for a config
    that cannot train)."""
    from geo_pix2pix.inference.vector_layouts import layout_pairs
    from geo_pix2pix.tiles.pairs.pair import PairSpec
    from geo_pix2pix.training.build import check_config

    if cfg.class_table or cfg.classes_from_palette:
        raise click.UsageError("--layout defines the classes itself: drop --class-table / --classes-from-palette")
    check_config(cfg)
    pairs, table = layout_pairs(imagery, spec, Path(cfg.out) / "layouts")
    p0 = cfg.pairs[0] if cfg.pairs else None
    specs = tuple(PairSpec(i, m, p0.imagery_bands if p0 else None, None, "nearest") for i, m in pairs)
    return cfg.with_(pairs=specs, class_table=table, map_kind="categorical")


def _one_length(given: set[str]) -> None:
    lengths = [k for k in ("steps", "epochs", "time_budget") if k in given]
    if len(lengths) > 1:
        raise click.UsageError("give one of --steps, --epochs and --time-budget, not several")


def _config(kw: dict[str, Any], given: set[str]) -> TrainConfig:
    """A new run's config from the command line (before the recipe)."""
    from geo_pix2pix.tiles.errors import OutputExistsError
    from geo_pix2pix.tiles.pairs.pair import PairSpec
    from geo_pix2pix.tiles.raster import check_input_file

    _one_length(given)
    if kw["task"] == "inpaint":
        if kw["maps"] or kw["pairs_csv"] or kw["layout"] or kw["aligned_dir"] or not kw["imagery"]:
            raise click.UsageError("--task inpaint learns from imagery alone: give --imagery (repeat for several "
                                   "rasters), without --maps, --pairs, --layout or --aligned-dir")
        if "family" not in given:
            kw["family"] = "inpaint"
        pairs = [(i, i) for i in kw["imagery"]]  # each raster is its own target
    elif kw["aligned_dir"]:
        if kw["imagery"] or kw["maps"] or kw["pairs_csv"]:
            raise click.UsageError("--aligned-dir cannot be combined with --imagery/--maps/--pairs")
        from geo_pix2pix.tiles.pairs.aligned import aligned_specs

        aligned = aligned_specs(kw["aligned_dir"], kw["aligned_order"])
        pairs = [(s.imagery, s.maps) for s in aligned]
        if kw["val_pairs"] is None:
            kw["val_pairs"] = max(1, round(0.2 * len(pairs))) if len(pairs) > 1 else 0
    elif kw["layout"]:
        if kw["maps"] or kw["pairs_csv"] or not kw["imagery"]:
            raise click.UsageError("--layout pairs vector layers with each --imagery raster: give --imagery, "
                                   "without --maps or --pairs")
        pairs = [(i, i) for i in kw["imagery"]]  # the maps: the layers burnt on its grid, after the checks
        kw["map_kind"] = "categorical"  # the layers' classes
    else:
        pairs = _pairs(kw["imagery"], kw["maps"], kw["pairs_csv"])
    for imagery, maps in pairs:  # refused here, before the recipe line reads as a start
        check_input_file(imagery, "imagery")
        check_input_file(maps, "map")
    what = "inpaint" if kw["task"] == "inpaint" else kw["direction"]
    out = Path(kw["out"] or f"runs/{time.strftime('%Y%m%d-%H%M%S')}-{what}")
    if out.exists() and any(out.iterdir()):
        if not kw["overwrite"]:
            raise OutputExistsError(f"run directory {out} exists; use --resume {out} to continue it or --overwrite")
        import shutil

        shutil.rmtree(out)
    order = kw["aligned_order"] if kw["aligned_dir"] else None
    specs = tuple(PairSpec(i, m, kw["imagery_bands"], kw["map_bands"], kw["resampling"], order) for i, m in pairs)
    values = {f.name: kw[f.name] for f in fields(TrainConfig) if f.name in kw}
    values.update(pairs=specs, out=str(out), val_pairs=kw["val_pairs"] or 0,
                  family_options=_family_options(kw, given, kw["family"]))
    return TrainConfig(**values)


def _apply_recipe(ctx: click.Context, cfg: TrainConfig, recipe: str, given: set[str]) -> TrainConfig:
    """Start from the family's ``recipe`` defaults, keeping every option given on the command line."""
    from geo_pix2pix.runtime.device import plan_device
    from geo_pix2pix.training.recipes import apply_recipe, values_in_use

    if recipe == "auto":
        recipe = "cpu" if plan_device(cfg.device, cfg.amp).device.type == "cpu" else "paper"
    cfg, taken = apply_recipe(cfg, recipe, given)
    taken = values_in_use(cfg, taken)  # e.g. no L1 weights for a categorical map
    if taken and not quiet(ctx):
        click.echo(f"recipe {recipe}: {recipe_text(taken)} (options you give override it; --recipe paper for the "
                   "paper's settings)", err=True)
    return cfg


def _pairs(imagery: tuple[str, ...], maps: tuple[str, ...], csv_path: str | None) -> list[tuple[str, str]]:
    """Pairs from repeated --imagery/--maps (in order) and/or a CSV of imagery,map rows."""
    import csv

    from geo_pix2pix.tiles.raster import check_input_file

    if len(imagery) != len(maps):
        raise click.UsageError(f"{len(imagery)} --imagery but {len(maps)} --maps: give them in pairs")
    pairs = list(zip(imagery, maps, strict=True))
    if csv_path:
        path = check_input_file(csv_path, "pairs CSV")
        try:
            with open(path, newline="") as f:
                rows = [r for r in csv.reader(f) if r and not r[0].lstrip().startswith("#")]
        except (UnicodeDecodeError, csv.Error) as exc:  # a raster or other binary file given as the CSV
            raise click.UsageError(f"{csv_path} is not a CSV of imagery,map rows ({exc})") from None
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["imagery", "map"]:
            rows = rows[1:]  # header
        for n, row in enumerate(rows, 1):
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise click.UsageError(f"{csv_path} row {n}: expected 'imagery,map', got {','.join(row)!r}")
            pairs.append(tuple(str(path.parent / c.strip()) if not Path(c.strip()).is_absolute()
                               else c.strip() for c in row[:2]))  # type: ignore[arg-type]
    if not pairs:
        raise click.UsageError("--imagery and --maps are required (or --pairs CSV, or --resume RUN_DIR)")
    return pairs
