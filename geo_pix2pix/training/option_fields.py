"""Training options declared once: a dataclass field carries its type, default and help.

A training option is a field of a frozen config dataclass (:class:`~geo_pix2pix.training.config.TrainConfig`
or a model family's own options class) made with :func:`option`. The field's metadata holds what a
command line needs (help text, flag, choices, bounds); ``geopix train`` builds its click options from
those fields (``geo_pix2pix.cli.config_options``) and the JSON round trip follows the fields, so an
option cannot be forgotten in one of the places: adding the field adds the option. This module is
torch- and click-free, so reading the declarations costs nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OptionSpec", "option", "internal", "option_specs"]

#: Metadata key of an option's :class:`OptionSpec`.
KEY = "geopix_option"


@dataclass(frozen=True)
class OptionSpec:
    """What a command line needs to know about one option.

    Attributes:
        help: one-line help text.
        flag: the option's flag (default: ``--`` + the field name with dashes).
        kind: ``int`` | ``float`` | ``str`` | ``bool`` | ``path`` | ``duration`` | ``negated`` (a
            ``bool`` field set to False by the flag, e.g. ``--no-amp`` for ``amp``).
        choices: allowed values of a ``str`` option.
        min / max: bounds of a number (inclusive); ``min_open``: the minimum itself is excluded.
        cli: False for fields no command line sets (set by other means, e.g. ``pairs``).
        metavar: how the value is shown in ``--help``.
    """

    help: str
    flag: str | None = None
    kind: str | None = None
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    cli: bool = True
    metavar: str | None = None


def option(default: Any, help: str, **spec: Any) -> Any:  # noqa: A002 (the natural name)
    """A dataclass field that is a training option (see :class:`OptionSpec` for ``spec``)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults need a default_factory; use an immutable value")
    return field(default=default, metadata={KEY: OptionSpec(help=help, **spec)})


def internal(default: Any = dataclasses.MISSING, help: str = "", **kw: Any) -> Any:  # noqa: A002
    """A config field set by other means than its own command-line option (e.g. ``pairs``)."""
    return field(default=default, metadata={KEY: OptionSpec(help=help, cli=False)}, **kw)


def option_specs(cls: type, only_cli: bool = True) -> Iterator[tuple[dataclasses.Field[Any], OptionSpec]]:
    """The declared options of a config dataclass, in declaration order."""
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(KEY)
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with option() or internal()")
        if spec.cli or not only_cli:
            yield f, spec


def flag_of(name: str, spec: OptionSpec) -> str:
    """The command-line flag of field ``name``."""
    return spec.flag or "--" + name.replace("_", "-")

