"""Click options built from declared fields: an option is declared once, as a dataclass field.

A field made with :func:`geo_pix2pix.training.option_fields.option` carries its type, default,
help, flag, bounds and choices. :func:`click_option` turns one into a click option whose parameter
is the field's name, so ``--help`` shows the defaults the config really has. Three ways to use it:

* :func:`config_options`: every field of some classes as loose parameters (``geopix train``,
  whose options are :class:`~geo_pix2pix.training.config.TrainConfig`'s and the families').
* :func:`option_group`: every field of one class, handed to the command as one instance of it
  (``translate(model: ModelOptions, tiling: TilingOptions, ...)``), as rasterio's ``rio``
  commands share the decorators of ``rio/options.py``.
* :func:`field_option`: one field, where a command takes a single option of a group.

Kinds beyond :class:`~geo_pix2pix.training.option_fields.OptionSpec`'s plain ones: ``bands``
(``1,2,3``), ``creation_options`` (repeatable ``--co KEY=VAL``, a tuple of pairs) and ``shard``
(``I/N``, a :class:`~geo_pix2pix.tiles.mosaic.shard.Shard`; a bad one is a one-line error).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field
from typing import Any, TypeVar

import click

from geo_pix2pix.cli.options import parse_bands, parse_creation_options, parse_duration
from geo_pix2pix.inference.run_options import OutputOptions
from geo_pix2pix.training.option_fields import OptionSpec, flag_of, option_specs

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["config_options", "click_option", "option_group", "field_option", "overwrite_opt"]

#: Path options that may name a directory: run directories, and vector sources (OGR opens a
#: folder of shapefiles as one).
_DIRECTORY_OK = ("out", "from_run", "init_from", "holes")


def _kind(f: Field[Any], spec: OptionSpec) -> str:
    if spec.kind:
        return spec.kind
    t = str(f.type)
    for name in ("bool", "int", "float"):
        if t.startswith(name):
            return name
    return "str"


def _creation_options(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
                      ) -> tuple[tuple[str, str], ...]:
    return tuple(parse_creation_options(ctx, param, value).items())


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from geo_pix2pix.tiles.mosaic.shard import parse_shard

    return None if value is None else parse_shard(value)


def _typed(kind: str, name: str, spec: OptionSpec) -> dict[str, Any]:
    """The click keywords of an option of ``kind``: its type, or the callback that parses it."""
    if kind == "duration":
        return {"callback": parse_duration, "metavar": spec.metavar or "DURATION", "show_default": False}
    if kind == "bands":
        return {"callback": parse_bands}
    if kind == "creation_options":
        return {"callback": _creation_options, "multiple": True, "show_default": False}
    if kind == "shard":
        return {"callback": _shard}
    if kind == "path":
        return {"type": click.Path(dir_okay=name in _DIRECTORY_OK)}
    if spec.choices:
        return {"type": click.Choice(list(spec.choices))}
    if kind in ("int", "float") and spec.min is None and spec.max is None:
        return {"type": int if kind == "int" else float}  # a range without bounds would show "x<=None"
    if kind == "int":
        return {"type": click.IntRange(min=None if spec.min is None else int(spec.min),
                                       max=None if spec.max is None else int(spec.max))}
    if kind == "float":
        return {"type": click.FloatRange(min=spec.min, max=spec.max, min_open=spec.min_open)}
    return {}


def click_option(f: Field[Any], spec: OptionSpec, note: str | None = None, **override: Any) -> Callable[[F], F]:
    """The click option of one declared field; ``note`` is appended to its help in brackets;
    ``override``: click keywords that replace the field's (a command's own default or help).

    A help text that states its own default (``[default: ...]``) is not followed by click's."""
    kind = _kind(f, spec)
    default = None if f.default is MISSING else f.default
    flag = flag_of(f.name, spec)
    text = f"{spec.help} [{note}]" if note else spec.help
    kw: dict[str, Any] = {"help": text, "default": default}
    if kind in ("bool", "negated"):
        kw.update(is_flag=True, flag_value=kind == "bool")
    else:
        kw["show_default"] = default is not None and "[default:" not in text
        kw.update(_typed(kind, f.name, spec))
        if spec.metavar and "metavar" not in kw:
            kw["metavar"] = spec.metavar
    kw.update(override)
    return click.option(flag, f.name, **kw)


def config_options(classes: Sequence[type], skip: Sequence[str] = (),
                   notes: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """Decorator adding the options of every declared field of ``classes`` (in order) except
    ``skip``; ``notes`` maps field names to a remark shown in their help (e.g. a recipe's value)."""
    notes = notes or {}
    seen = set(skip)  # an option several classes share (by inheritance) is declared once
    decorators = []
    for cls in classes:
        for f, spec in option_specs(cls):
            if f.name not in seen:
                seen.add(f.name)
                decorators.append(click_option(f, spec, notes.get(f.name)))

    def deco(fn: F) -> F:
        for add in reversed(decorators):
            fn = add(fn)
        return fn

    return deco


def option_group(cls: type, param: str, help: Mapping[str, str] | None = None) -> Callable[[F], F]:  # noqa: A002
    """Decorator: the options of every declared field of the dataclass ``cls``, handed to the
    command as one ``cls`` instance, its parameter ``param``. ``help`` replaces a field's help text
    where the command gives the option a narrower meaning (inpaint's ``--model``)."""
    specs = list(option_specs(cls))
    names = [f.name for f, _ in specs]
    decorators = [click_option(f, spec, **({"help": help[f.name]} if help and f.name in help else {}))
                  for f, spec in specs]

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def command(*args: Any, **kw: Any) -> Any:
            kw[param] = cls(**{n: kw.pop(n) for n in names})
            return fn(*args, **kw)

        for add in reversed(decorators):
            command = add(command)
        return command  # type: ignore[return-value]

    return deco


def field_option(cls: type, name: str, **override: Any) -> Callable[[F], F]:
    """Decorator: the option of the one declared field ``name`` of ``cls`` (``override``: click
    keywords that replace the field's, e.g. a default the command computes later)."""
    for f, spec in option_specs(cls):
        if f.name == name:
            return click_option(f, spec, **override)
    raise KeyError(f"{cls.__name__} declares no option {name!r}")


#: ``--overwrite``: replace an existing output (every command that writes one).
overwrite_opt = field_option(OutputOptions, "overwrite")
