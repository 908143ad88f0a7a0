"""A training option is declared once: the config field; the CLI option and config.json follow."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from pathlib import Path

import click
import pytest

import geo_pix2pix as geopix
from geo_pix2pix.cli.evaluate import evaluate
from geo_pix2pix.cli.inpaint import inpaint
from geo_pix2pix.cli.train import FAMILY_OPTIONS, train
from geo_pix2pix.cli.translate import translate
from geo_pix2pix.families.base import iter_families
from geo_pix2pix.inference.inpainting import InpaintConfig
from geo_pix2pix.inference.run_options import (
    FillOptions,
    ModelOptions,
    OutputOptions,
    TilingOptions,
    TranslateOptions,
    keyword_values,
)
from geo_pix2pix.inference.translate import TranslateConfig
from geo_pix2pix.tiles.mosaic.shard import Shard
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.option_fields import option_specs

#: geopix train options that are not config fields: the inputs and the command's own switches.
INPUTS = {"imagery", "maps", "pairs_csv", "aligned_dir", "aligned_order", "recipe", "resume", "imagery_bands",
          "map_bands", "resampling", "overwrite", "layout", "class_field", "all_touched"}


def test_every_declared_field_is_a_train_option_with_its_default_and_help() -> None:
    params = {p.name: p for p in train.params if isinstance(p, click.Option)}
    for cls in (TrainConfig, *FAMILY_OPTIONS):
        for f, _spec in option_specs(cls):
            assert f.name in params, f"{cls.__name__}.{f.name} has no geopix train option"
            p = params[f.name]
            assert p.help, f"--{f.name} has no help line"
            if f.name not in ("out", "val_pairs"):  # their CLI defaults are computed (run name, aligned share)
                assert p.default == f.default, f"--{f.name}: CLI default {p.default!r} != field default {f.default!r}"
    declared = {f.name for cls in (TrainConfig, *FAMILY_OPTIONS) for f in dataclasses.fields(cls)}
    stray = set(params) - declared - INPUTS
    assert not stray, f"train options that no config field declares: {sorted(stray)}"
    assert all(p.help for p in params.values()), [n for n, p in params.items() if not p.help]


def test_every_family_options_class_is_offered_and_names_do_not_collide() -> None:
    own = [f.options for f in iter_families() if f.options is not None]
    assert list(FAMILY_OPTIONS) == own
    # a name two families share must be one declaration (an inherited field, e.g. --num-d of
    # pix2pixhd, spade and inpaint), never two fields that happen to have the same name
    declared: dict[str, dataclasses.Field] = {}
    for cls in (TrainConfig, *own):
        for f in dataclasses.fields(cls):
            assert declared.setdefault(f.name, f) is f, f"--{f.name} is declared twice"
    assert sum(declared["num_d"] in dataclasses.fields(cls) for cls in own) == 3  # pix2pixhd, spade, inpaint


def test_config_round_trips_with_every_field_changed() -> None:
    changed: dict = {}
    for f in dataclasses.fields(TrainConfig):
        d = f.default
        if f.name == "pairs":
            changed[f.name] = (PairSpec("a.tif", "b.tif", (1, 2), (1,), "bilinear"),)
        elif f.name == "family_options":
            changed[f.name] = {"num_d": 3, "vgg_weights": "vgg.pth"}
        elif f.name == "extra":
            changed[f.name] = {"note": "x"}
        elif isinstance(d, bool):
            changed[f.name] = not d
        elif isinstance(d, int):
            changed[f.name] = d + 3
        elif isinstance(d, float):
            changed[f.name] = d / 2 + 0.01
        elif d is None:
            changed[f.name] = 7.5 if f.name in ("epochs", "time_budget") else (5 if f.name == "stop_at" else "x.json")
        else:
            changed[f.name] = "pix2pixhd" if f.name == "family" else d + "_x"
    cfg = TrainConfig(**changed)
    back = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    base = TrainConfig(pairs=())
    assert all(getattr(back, k) != getattr(base, k) for k in changed)


# -- translate, inpaint, evaluate and the API share the option groups of inference/run_options -------------------

def _params(command) -> dict:
    return {p.name: p for p in command.params if isinstance(p, click.Option)}


def test_each_shared_option_is_one_declaration_in_every_command_that_takes_it() -> None:
    takes = {translate: (ModelOptions, TilingOptions, OutputOptions, TranslateOptions),
             inpaint: (ModelOptions, TilingOptions, OutputOptions, FillOptions),
             evaluate: (ModelOptions,)}
    for command, groups in takes.items():
        params = _params(command)
        for cls in groups:
            for f, spec in option_specs(cls):
                p = params[f.name]
                assert p.default == f.default, f"{command.name} --{f.name}: {p.default!r} != {f.default!r}"
                assert p.opts == [spec.flag or "--" + f.name.replace("_", "-")]
                if not (command.name == "inpaint" and f.name == "model"):  # inpaint narrows --model's help
                    assert p.help == spec.help, f"{command.name} --{f.name}"
    assert _params(evaluate)["batch_size"].help == _params(translate)["batch_size"].help


def test_inpaint_config_is_translate_config_without_translate_s_own_options() -> None:
    def names(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    shared = names(TranslateConfig) - names(TranslateOptions)
    assert shared == names(InpaintConfig) - names(FillOptions)
    assert {"model", "tile", "overlap", "batch_size", "device", "amp", "tta", "creation_options", "overwrite",
            "bands"} <= shared
    for name in shared:  # the same field objects' declarations, not look-alikes
        a = next(f for f in dataclasses.fields(TranslateConfig) if f.name == name)
        b = next(f for f in dataclasses.fields(InpaintConfig) if f.name == name)
        assert a.metadata is b.metadata and a.default == b.default


def test_the_api_takes_the_declared_fields_as_keywords_and_coerces_them_in_one_place() -> None:
    sig = inspect.signature(geopix.Model.translate).parameters
    assert list(sig)[:4] == ["self", "region", "out", "progress"]
    assert sig["tile"].default is None and sig["batch_size"].default == 8 and sig["shard"].default is None
    assert set(inspect.signature(geopix.Model.predict).parameters) == {"self", "array", "mask", "tile", "overlap",
                                                                       "batch_size", "style", "seed"}
    got = keyword_values([TilingOptions], {"bands": [3, 2, 1], "batch_size": None}, "translate")
    assert got == {"bands": (3, 2, 1), "batch_size": 8}  # None: the declared default
    got = keyword_values([TranslateOptions], {"shard": (1, 4), "style": Path("ref.tif")}, "translate")
    assert got == {"shard": Shard(1, 4), "style": os.fspath(Path("ref.tif"))}
    with pytest.raises(TypeError, match="translate\\(\\) got an unexpected keyword argument 'tile_size'"):
        keyword_values([TilingOptions], {"tile_size": 64}, "translate")
