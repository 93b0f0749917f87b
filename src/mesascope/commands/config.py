"""`mesascope config [PRESET]`: every config key `--set` accepts, with its type, default,
allowed values and documentation, all generated from the metadata beside each field (the same
metadata `validate()` checks); `config_epilog` puts the same list under `mesascope run --help`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.padding import Padding
from rich.table import Table

from mesascope.commands.common import console, fail, text


def config_command(
    preset: Optional[str] = typer.Argument(None, help="A preset or world name: show its values as the defaults (and its world's options)."),
) -> None:
    """List every config key (`--set KEY=VALUE`) with its type, default, allowed values and meaning."""
    from mesascope.experiments import config as config_module
    from mesascope.experiments import presets

    base = config_module.ExperimentConfig()
    if preset is not None:
        try:
            base = presets.get(preset)
        except ValueError as error:
            fail(str(error))
    rows = config_module.config_rows(base)
    title = f"config keys of {text(preset or 'the default experiment')} (set with --set KEY=VALUE)"
    if console.width < 120:  # five columns do not fit: one key per paragraph instead, nothing cut
        console.print(f"[bold]{title}[/]")
        for key, kind, default, allowed, doc in rows:
            console.print(text(key), style="bold")
            # padded, so that every wrapped line keeps the indent, not only the first
            console.print(Padding(text(f"{kind}, default {default}; allowed: {allowed or 'any'}\n{doc}"), (0, 0, 0, 4), expand=False))
    else:
        table = Table(title=title, show_lines=False)
        for column in ("key", "type", "default", "allowed", "meaning"):
            table.add_column(column)
        for row in rows:
            table.add_row(*(text(cell) for cell in row))
        console.print(table)
    if preset in presets.GRID_PRESETS:
        axes = " × ".join(f"{key} ∈ {{{', '.join(values)}}}" for key, values in presets.GRID_PRESETS[preset][1])
        console.print(text(f"{preset} is a sweep preset: `mesascope sweep {preset}` trains the grid {axes} "
                           f"over these values, {base.seeds} seeds per cell; the keys above hold every other setting."))


def config_epilog() -> str:
    """The config keys as help text for `mesascope run --help` (escaped for Rich)."""
    from mesascope.experiments import config as config_module

    lines = ["[bold]Config keys[/] (--set KEY=VALUE; `mesascope config PRESET` shows a preset's values):"]
    for key, kind, default, allowed, doc in config_module.config_rows():
        rule = f"; allowed {allowed}" if allowed else ""
        lines.append(text(f"{key} ({kind}, default {default}{rule}): {doc}"))
    return "\n\n".join(lines)


def knobs_command() -> None:
    """The knobs a bias study varies (`mesascope sweep --grid KNOB=...`): traced ones share one
    compiled program, static ones need a program per value; and what each stands for."""
    from mesascope.experiments.knobs import KNOB_MEANINGS

    table = Table(title="training knobs (sweep --grid KNOB=V1,V2,...)")
    for column in ("knob", "kind", "what it changes", "what it stands for"):
        table.add_column(column)
    for knob, (kind, changes, meaning) in KNOB_MEANINGS.items():
        table.add_row(knob, kind, changes, meaning)
    console.print(table)
    console.print("Traced knobs vary per agent inside one program (and across its host devices); static knobs give one program per "
                  "combination. Every agent records its knob values; `mesascope diagnose RUN` re-diagnoses without retraining.")
