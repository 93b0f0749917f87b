"""A short terminal summary of one experiment, as rich tables."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mesascope.diagnose.verdict import VerdictThresholds
from mesascope.records.results import ExperimentResult
from mesascope.report import figure
from mesascope.report import summary
from mesascope.report.imitation import imitation_table

MAX_AGENT_ROWS = 32
"""The per-agent table is printed only for populations this small."""

TABLE_STYLE = {"box": box.SIMPLE_HEAD, "title_justify": "left", "caption_justify": "left", "pad_edge": False,
               "collapse_padding": True}
"""Light tables without vertical rules, so they fit an 80-column terminal."""


def _objective_header(result: ExperimentResult, k: int) -> Text:
    """The objective's name, the intended one in bold with a '*'."""
    return Text(result.objectives[k] + ("*" if k == 0 else ""), style="bold" if k == 0 else "")


def _verdict_text(verdict: str, header: bool = False) -> Text:
    """A verdict coloured by its category; as a column header, one word per line."""
    label = verdict.replace(" ", "\n").replace("-", "-\n") if header else verdict
    return Text(label, style=f"bold {figure.verdict_colour(verdict)}")


def _interval_cell(mean: float, low: float, high: float) -> str:
    """'0.81' over '0.70–0.90' (the 95% interval), so narrow terminals keep every digit; 'no
    interval' under a mean of one unit."""
    if not np.isfinite(mean):
        return summary.format_number(mean)
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.2f}\nno interval"
    return f"{mean:.2f}\n{span(low, high)}"


def span(low: float, high: float) -> str:
    """'0.70–0.90'; '-0.11 to -0.10' where a dash would read as a minus sign."""
    return f"{low:.2f}{' to ' if low < 0 or high < 0 else '–'}{high:.2f}"


def _returns_note(result: ExperimentResult) -> str:
    """The caption under both tables: what the objective columns hold."""
    return (f"objective columns: mean normalised return on {summary.test_distribution(result)} "
            f"(0 random, 1 optimal); * marks the intended objective")


def shift_table(result: ExperimentResult) -> Table:
    """Verdict counts and mean normalised test returns (95% CI over agents) per training shift."""
    verdicts = summary.all_verdicts(result)
    title = f"Verdicts on {summary.test_distribution(result)} by {result.shift_name} in training"
    table = Table(title=title, caption=_returns_note(result) + "; 95% CI over agents", **TABLE_STYLE)
    table.add_column("train\nshift", justify="right")
    table.add_column("agents", justify="right")
    for verdict in verdicts:
        header = _verdict_text(verdict, header=True)
        table.add_column(header, justify="right", min_width=max(map(len, header.plain.split("\n"))))
    for k in range(len(result.objectives)):
        table.add_column(_objective_header(result, k), justify="right", overflow="fold")
    for s in summary.summarize_shifts(result):
        counts = [str(s.verdicts.get(v, 0)) for v in verdicts]
        returns = [_interval_cell(*stats) for stats in s.normalised]
        table.add_row(summary.format_shift(s.shift), str(s.agents), *counts, *returns)
    return table


def agent_table(result: ExperimentResult) -> Table:
    """One row per agent: seed, shift, verdict, kind, best hypothesis and test returns."""
    test = summary.test_distribution(result)
    verdicts = summary.verdict_by_agent(result, test)
    per_agent = summary.agent_normalised(result, test)
    table = Table(title="Agents", caption=_returns_note(result), **TABLE_STYLE)
    knobs = summary.varied_knobs(result)
    for name in ("agent", "seed", "train\nshift", *knobs):
        table.add_column(name, justify="right")
    table.add_column("verdict", no_wrap=True)
    table.add_column("kind", overflow="fold")
    table.add_column("best\nhypothesis", overflow="fold")
    for k in range(len(result.objectives)):
        table.add_column(_objective_header(result, k), justify="right", no_wrap=True)
    for i, record in sorted(enumerate(result.agents), key=lambda item: (item[1].train_shift, item[1].agent)):
        row = verdicts.get(record.agent)
        best = summary.best_hypothesis(result, record.agent, test)
        hypothesis = f"{best.hypothesis} ({summary.format_number(best.posterior)})" if best else "—"
        table.add_row(
            str(record.agent), str(record.seed), summary.format_shift(record.train_shift),
            *(f"{record.knobs[k]:g}" if k in record.knobs else "—" for k in knobs),
            _verdict_text(row.verdict if row else summary.NO_VERDICT), row.kind if row else "", hypothesis,
            *[summary.format_number(v) for v in per_agent[i]],
        )
    return table


def print_summary(result: ExperimentResult, console: Console | None = None) -> None:
    """Print the verdicts by training shift, the agents (if ≤ 32) and a one-line conclusion."""
    console = console or Console()
    console.print(Text(f"{result.name}  ·  world {result.world}  ·  run {result.run_id}", style="bold"))
    console.print(shift_table(result))
    if len(result.agents) <= MAX_AGENT_ROWS:
        console.print(agent_table(result))
    clones = imitation_table(result)
    if clones is not None:
        console.print(clones)
    console.print(Text(summary.conclusion(result), style="bold"))
    console.print(Text(thresholds_line(result), style="dim"))


def thresholds_line(result: ExperimentResult) -> str:
    """The verdict thresholds the run used, those that differ from the defaults first and named
    as such, so a re-diagnosis with `--set thresholds....` shows what changed."""
    defaults = asdict(VerdictThresholds())
    changed = {k: v for k, v in result.thresholds.items() if k in defaults and v != defaults[k]}
    used = ", ".join(f"{k} {v:g}" for k, v in result.thresholds.items() if k not in changed)
    if not changed:
        return f"verdict thresholds (defaults): {used}"
    return "verdict thresholds, not the defaults: " + ", ".join(f"{k} {v:g} (default {defaults[k]:g})" for k, v in changed.items()) + f"; the rest: {used}"
