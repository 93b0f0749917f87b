"""`KEY=VALUE` settings of a statistic's own dataclass (dose, scatter and sweep verdicts), parsed
and checked before any work, with errors that name the key and the allowed ones."""

from __future__ import annotations

import dataclasses
import math
from typing import TypeVar

from mesascope.commands.common import fail

T = TypeVar("T")

LARGEST_COUNT, LARGEST_SEED = 1_000_000, 2**31 - 1
"""The largest count (resamples, permutations, grid points; beyond it memory runs out) and seed."""


def statistic_settings(cls: type[T], assignments: list[str], option: str) -> T:
    """An instance of the frozen dataclass `cls` with `assignments` (`KEY=VALUE`, from `option`)
    over its defaults; exits with an `error:` naming the key, or the field and its rule."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, int | float] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or key not in fields:
            fail(f"{option}: {assignment!r} is not KEY=VALUE with KEY one of {', '.join(fields)}")
        kind = type(fields[key].default)
        try:
            value = kind(raw) if kind is float else int(raw)
        except ValueError:
            fail(f"{option} {key}: {raw!r} is not {'a number' if kind is float else 'an integer'}")
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"{option} {key}: must be a finite number, got {raw!r}")
        limit = LARGEST_SEED if key == "seed" else LARGEST_COUNT
        if isinstance(value, int) and not -limit <= value <= limit:
            fail(f"{option} {key}: at most {limit:,} in size, got {raw}")
        values[key] = value
    try:
        return cls(**values)
    except ValueError as error:
        fail(f"{option}: {error}")


def settings_help(cls: type, what: str) -> str:
    """The `--help` text of an option that sets `cls`'s fields."""
    return f"KEY=VALUE (repeatable): a setting of the {what}, one of " + ", ".join(
        f"{f.name} (default {f.default:g})" for f in dataclasses.fields(cls)) + "."
