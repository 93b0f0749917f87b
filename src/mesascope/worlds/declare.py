"""Declarations a grid world makes instead of writing code: its constructor options as data, and
the parts of its documentation (observation, actions, Gymnasium id) that follow from them.

`declare(size=9, layout="rooms", ..., num_plants=Option(3, 1, 5))` lists a world's options in
order: a plain value for a common option (`COMMON`: size, view, max_steps, the shifts and the
layout-bank options) is its default with the common allowed values; an `Option` declares
anything else. `GridWorld` turns the declaration into its constructor (`signature`, checks by
`Option.check`); `card` adds the generated sections to a world's docstring.
"""

from __future__ import annotations

import inspect
import numbers
import textwrap
from dataclasses import dataclass, replace
from typing import Any, Sequence

from mesascope.gym_plugin import env_id
from mesascope.worlds import grid


def require(label: str, value: Any, low: float | None = None, high: float | None = None, high_open: bool = False) -> None:
    """Raise a ValueError naming `label` unless low <= value <= high (value < high if `high_open`)."""
    below = low is not None and not value >= low
    above = high is not None and not (value < high if high_open else value <= high)
    if below or above:
        if high is None:
            raise ValueError(f"{label} must be at least {low}, got {value}")
        raise ValueError(f"{label} must be in [{low}, {high}{')' if high_open else ']'}, got {value}")


def require_choice(label: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise a ValueError naming `label` and the allowed values unless `value` is one of them."""
    if value not in choices:
        raise ValueError(f"{label} must be one of {tuple(choices)}, got {value!r}")


@dataclass(frozen=True)
class Option:
    """A constructor option: its default and its allowed values, a range [low, high] (`high_open`:
    [low, high); `positive`: above 0) or `choices`. None (a default to be worked out) is always
    allowed; what depends on other options a world checks in its `setup`."""

    default: Any = None
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    positive: bool = False
    integer: bool | None = None
    """Whether values must be integers; None: when the default is one (a float such as 1.5
    would otherwise be truncated by the world while the config keeps 1.5)."""

    def describe(self) -> str:
        """The allowed values in words, as `check` enforces them ("in [5, 31]", "one of a, b")."""
        integer = self.integer if self.integer is not None else isinstance(self.default, int) and not isinstance(self.default, bool)
        parts = [f"one of {', '.join(map(str, self.choices))}"] if self.choices is not None else []
        if self.low is not None or self.high is not None:
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            parts.append(f"in [{low}, {high}{')' if self.high_open else ']'}")
        if self.positive:
            parts.append("> 0")
        return ", ".join(parts + ["an integer"] * integer) or "any value the world accepts"

    def check(self, label: str, value: Any) -> None:
        """Raise a ValueError naming `label` unless `value` is allowed."""
        if value is None:
            return
        integer = self.integer if self.integer is not None else isinstance(self.default, int) and not isinstance(self.default, bool)
        if integer and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise ValueError(f"{label} must be an integer, got {value!r}")
        if self.choices is not None:
            require_choice(label, value, self.choices)
        require(label, value, self.low, self.high, self.high_open)
        if self.positive and not value > 0:
            raise ValueError(f"{label} must be positive, got {value}")


COMMON: dict[str, Option] = {
    "size": Option(7, 5, 31),
    "view": Option("egocentric", choices=grid.VIEWS),
    "max_steps": Option(None, integer=True),  # World checks it (at least 1) once the default is worked out
    "train_shift": Option(0.0),  # checked against the world's `shift_range`
    "test_shift": Option(1.0),
    "layout": Option("open", choices=grid.LAYOUTS),
    "bank_size": Option(1024, 1),
    "layout_seed": Option(0),
    "obstacle_density": Option(0.25, 0.0, 1.0, high_open=True),
}
"""The options grid worlds share, with their allowed values; `declare` sets the defaults."""


def declare(**options: Any) -> dict[str, Option]:
    """A world's options in signature order: an `Option` as given; a plain value for a name of
    `COMMON` is that option's default (declare `size=Option(9, 5, 11)` for another size range)."""
    declared = {}
    for name, value in options.items():
        if isinstance(value, Option):
            declared[name] = value
        elif name not in COMMON:
            raise TypeError(f"option {name!r} is not one of the common options {sorted(COMMON)}; declare it as Option(default, ...)")
        else:
            declared[name] = replace(COMMON[name], default=value)
    return declared


def signature(options: dict[str, Option]) -> inspect.Signature:
    """The constructor signature of a declaration (what `registry.options` and `help()` show)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([inspect.Parameter(name, kind, default=option.default) for name, option in options.items()])


def edges(*chains: str) -> tuple[tuple[str, str], ...]:
    """Causal edges written as chains, in order: "a, b -> c -> d" is (a, c), (b, c), (c, d); a
    comma-separated group sends an edge from each of its names to each name of the next group."""
    out = []
    for chain in chains:
        groups = [[name.strip() for name in group.split(",")] for group in chain.split("->")]
        if len(groups) < 2 or not all(all(group) for group in groups):
            raise ValueError(f"a causal chain needs names on both sides of each '->', got {chain!r}")
        out += [(cause, effect) for left, right in zip(groups, groups[1:]) for cause in left for effect in right]
    return tuple(out)


# --------------------------------------------------------------------------- documentation
def observation_text(options: dict[str, Option], objects: Sequence[str], inventory: Sequence[str], held: tuple[str, int] | None = None) -> str:
    """The generated `## Observation` paragraph: channels of both views at the default size, and
    the inventory planes (with `held` = (count, n), the thermometer of that count)."""
    size, default = options.get("size", COMMON["size"]).default, options["view"].default if "view" in options else "global"
    side = 2 * size - 5
    names = ", ".join(("wall", *objects))
    views = {
        "egocentric": f"{names} channels of the interior in a (2H-5, 2W-5) window centred on the agent ({side}x{side} "
        f"for size {size}), wall outside the interior (every interior cell is always in view)",
        "global": f"{names.replace('wall', 'wall, agent', 1)} channels over the (H, W) grid",
    }
    order = [default, *(v for v in grid.VIEWS if v != default)] if "view" in options else ["global"]
    parts = [f'`view="{view}"`' + (" (default)" if view == default and "view" in options else "") + f": {views[view]}." for view in order]
    planes = [f"Then the constant planes {', '.join(inventory)} (each lit everywhere or nowhere)."] if inventory else []
    if held is not None:
        planes = [f"Then the constant planes {', '.join(inventory)}: `{held[0]}_k` is lit everywhere when `{held[0]}` is at least k."]
    return " ".join(["One-hot channels (uint8).", *parts, *planes])


def actions_text(action_names: Sequence[str]) -> str:
    """The generated `## Actions` sentence."""
    return ", ".join(f"{i} {name}" for i, name in enumerate(action_names)) + ". Moving into a wall leaves the agent in place."


def distributions_text(shift_name: str, options: dict[str, Option], descriptions: Sequence[str]) -> str:
    """The generated `## Distributions` sentence: each distribution's default dial and description
    (empty where a default is worked out by the world, which then says it itself)."""
    values = [options.get(f"{label}_shift", COMMON[f"{label}_shift"]).default for label in ("train", "test")]
    if any(value is None for value in values):
        return ""
    parts = [f"`{label}`: `{shift_name}` = {value:g}" + (f" ({text})" if text else "") for label, value, text in zip(("train", "test"), values, descriptions)]
    return "; ".join(parts) + "."


@dataclass(frozen=True)
class Section:
    """A generated docstring section: `text` goes first under `## heading` (or last, with
    `last`) where the docstring has that heading; otherwise a new section is made before the
    first of the headings `before` that the docstring has (at the end if none). With `unless`,
    nothing is added where the section already contains that string."""

    heading: str
    text: str
    before: tuple[str, ...] = ()
    last: bool = False
    unless: str | None = None


def card(doc: str, name: str, sections: Sequence[Section]) -> str:
    """`doc` with the generated `sections` added, then the Gymnasium id appended."""
    lines = doc.rstrip().split("\n")
    indent = min((len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()), default=4)
    pad = " " * indent
    for section in sections:
        if not section.text:
            continue
        body = textwrap.wrap(section.text, 96 - indent, initial_indent=pad, subsequent_indent=pad)
        at = next((i for i, line in enumerate(lines) if line.strip().startswith(f"## {section.heading}")), None)
        if at is None:
            before = tuple(f"## {h}" for h in section.before)
            at = next((i for i, line in enumerate(lines) if before and line.strip().startswith(before)), len(lines))
            lines[at:at] = [f"{pad}## {section.heading}", *body, ""]
            continue
        end = next((i for i in range(at + 1, len(lines)) if lines[i].strip().startswith("## ")), len(lines))
        while end > at + 1 and not lines[end - 1].strip():
            end -= 1
        if section.unless is not None and section.unless in "\n".join(lines[at:end]):
            continue
        where = end if section.last else at + 1
        lines[where:where] = body
    return "\n".join([*lines, "", f"{pad}Registered Gymnasium id: `{env_id(name)}`.", pad])
