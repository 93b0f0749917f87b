"""Allowed values declared beside each config field, so validation and help come from one place.

A config dataclass declares a field as `width: int = setting(64, low=1, high=4096)`; the
metadata says which values are allowed (a closed or open range, a list of choices, for lists:
non-empty and without repeats, each item in the range). `check` tests one value against it and
`describe` renders the rule for `mesascope config` and `--help`. Floats must always be finite;
every int field declares both bounds (a test checks), so no absurd value reaches training.
This module imports nothing from mesascope: every layer may use it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

SPEC_KEY = "mesascope_spec"


@dataclass(frozen=True)
class Spec:
    """The values a field allows.

    Attributes:
        low, high: inclusive bounds (None: unbounded on that side); for lists, of each item.
        low_open, high_open: make the bound exclusive.
        choices: the allowed values (strings), for the field or each of its items.
        nonempty: a list field needs at least one item.
        unique: a list field must not repeat an item.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    nonempty: bool = False
    unique: bool = False

    def describe(self) -> str:
        """The rule in words, e.g. '[1, 4096]', '(0, 1)', 'one of a, b', 'non-empty, no repeats'."""
        parts = []
        if self.choices is not None:
            parts.append("one of " + ", ".join(self.choices))
        if self.low is not None or self.high is not None:
            low = "-inf" if self.low is None else _number(self.low)
            high = "inf" if self.high is None else _number(self.high)
            parts.append(f"{'(' if self.low_open or self.low is None else '['}{low}, {high}{')' if self.high_open or self.high is None else ']'}")
        if self.nonempty:
            parts.append("non-empty")
        if self.unique:
            parts.append("no repeats")
        return ", ".join(parts)

    def item_problem(self, value: Any) -> str | None:
        """Why one value (or list item) is not allowed, or None when it is."""
        if self.choices is not None and value not in self.choices:
            return f"must be one of {list(self.choices)}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            return f"must be in {self.describe_range()}, got {value}"
        return None

    def describe_range(self) -> str:
        """Just the numeric range part of `describe`."""
        return Spec(self.low, self.high, self.low_open, self.high_open).describe()

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed for the field, or None when it is."""
        if isinstance(value, str) and self.nonempty and not value.strip():
            return "must not be empty"
        if isinstance(value, tuple):
            if self.nonempty and not value:
                return "needs at least one value, got none"
            if self.unique and len(set(value)) != len(value):
                return f"must not repeat a value, got {list(value)}"
            for item in value:
                why = self.item_problem(item)
                if why:
                    return why
            return None
        return self.item_problem(value)


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **rule: Any) -> Any:
    """A dataclass field with its allowed values (`Spec` keywords) as metadata."""
    if "choices" in rule:
        rule["choices"] = tuple(rule["choices"])
    return dataclasses.field(default=default, default_factory=default_factory, metadata={SPEC_KEY: Spec(**rule)})


def spec_of(field: dataclasses.Field) -> Spec | None:
    """The `Spec` declared on a field, or None."""
    return field.metadata.get(SPEC_KEY)


def finite_problem(value: Any) -> str | None:
    """Why a float (or a list of floats) is not finite, or None."""
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if isinstance(item, float) and not math.isfinite(item):
            return f"must be a finite number, got {item}"
    return None
