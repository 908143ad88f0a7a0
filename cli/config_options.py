"""Click options built from config dataclasses: a training option is declared once, as a field.

:func:`config_options` turns every field declared with :func:`geo_pix2pix.training.option_fields.option` into a
click option with the field's name as its parameter name, its default, help, bounds and choices,
so ``geopix train`` cannot lose a field and ``--help`` shows the defaults the config really has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field
from typing import Any, TypeVar

import click

from geo_pix2pix.cli.options import parse_duration
from geo_pix2pix.training.option_fields import OptionSpec, flag_of, option_specs

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["config_options", "click_option"]


def _kind(f: Field[Any], spec: OptionSpec) -> str:
    if spec.kind:
        return spec.kind
    t = str(f.type)
    for name in ("bool", "int", "float"):
        if t.startswith(name):
            return name
    return "str"


def click_option(f: Field[Any], spec: OptionSpec, note: str | None = None) -> Callable[[F], F]:
    """The click option of one declared field; ``note`` is appended to its help in brackets."""
    kind = _kind(f, spec)
    default = None if f.default is MISSING else f.default
    flag = flag_of(f.name, spec)
    text = f"{spec.help} [{note}]" if note else spec.help
    kw: dict[str, Any] = {"help": text, "default": default, "show_default": default is not None}
    if kind in ("bool", "negated"):
        return click.option(flag, f.name, is_flag=True, flag_value=kind == "bool",
                            default=default, help=text)
    if kind == "duration":
        kw.update(callback=parse_duration, metavar=spec.metavar or "DURATION", show_default=False)
    elif kind == "path":
        kw["type"] = click.Path(dir_okay=f.name in ("out", "from_run"))
    elif spec.choices:
        kw["type"] = click.Choice(list(spec.choices))
    elif kind == "int":
        kw["type"] = click.IntRange(min=None if spec.min is None else int(spec.min),
                                    max=None if spec.max is None else int(spec.max))
    elif kind == "float":
        kw["type"] = click.FloatRange(min=spec.min, max=spec.max, min_open=spec.min_open)
    if spec.metavar and "metavar" not in kw:
        kw["metavar"] = spec.metavar
    return click.option(flag, f.name, **kw)


def config_options(classes: Sequence[type], skip: Sequence[str] = (),
                   notes: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """Decorator adding the options of every declared field of ``classes`` (in order) except
    ``skip``; ``notes`` maps field names to a remark shown in their help (e.g. a recipe's value)."""
    notes = notes or {}
    seen = set(skip)  # an option several classes share (by inheritance) is declared once
    opts = []
    for cls in classes:
        for f, spec in option_specs(cls):
            if f.name not in seen:
                seen.add(f.name)
                opts.append(click_option(f, spec, notes.get(f.name)))

    def deco(fn: F) -> F:
        for opt in reversed(opts):
            fn = opt(fn)
        return fn

    return deco
