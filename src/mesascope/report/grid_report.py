"""A self-contained HTML report of a grid of agents: per-knob effects on P(proxy-aligned), every
cell's verdict shares and returns with intervals, heatmaps over pairs of axes and per-knob plots.

Rendered from `templates/grid.html` with the same style, escaping and atomic write as a run's
report (`report/html.py`).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from mesascope.diagnose.grid_outcomes import CellOutcome, GridAgents, KnobEffect
from mesascope.records import readings
from mesascope.records.intervals import format_interval, format_number, format_p_value
from mesascope.records.results import ExperimentResult
from mesascope.report.grid_plots import heatmap, shares_by_knob
from mesascope.report.html import TEMPLATES, _format_threshold, _write_atomic, data_uri
from mesascope.report.trajectory_section import grid_trajectories

SHOWN_CATEGORIES = ("robustly aligned", "proxy-aligned", "mixed", "capability failure", "ambiguous")
"""Verdict categories the cell table shows, in order."""


def effect_rows(effects: list[KnobEffect]) -> list[dict[str, str]]:
    """One table row per knob effect, numbers formatted."""
    rows = []
    for effect in effects:
        fit = effect.fit
        slope = f"{fit.b:.3g} ± {fit.b_se:.2g}" if fit.fits else ("±∞ (separated)" if fit.separated else "—")
        tested = bool(np.isfinite(effect.trend.tau))
        rows.append({"knob": effect.knob, "tau": format_number(effect.trend.tau, 3), "p_up": format_p_value(effect.trend.p_increasing, tested),
                     "p_down": format_p_value(effect.trend.p_decreasing, tested), "slope": slope, "lr_p": format_p_value(fit.lr_p),
                     "fit": "fits" if fit.fits else fit.reason})
    return rows


def cell_rows(cells: list[CellOutcome], objectives: tuple[str, ...]) -> list[dict[str, Any]]:
    """One table row per cell, numbers formatted."""
    return [{"coords": [f"{v:g}" for v in cell.coords.values()], "agents": cell.agents,
             "shares": [format_interval(*cell.shares[c]) for c in SHOWN_CATEGORIES],
             "returns": [format_interval(*cell.returns[o]) for o in objectives]} for cell in cells]


def render_grid_report(title: str, axes: list[tuple[str, tuple[str, ...]]], results: list[ExperimentResult], labels: list[str],
                       agents: GridAgents, cells: list[CellOutcome], effects: list[KnobEffect]) -> str:
    """The grid report page as HTML text."""
    varied = [axis for axis, values in agents.coords.items() if len(set(values.tolist())) > 1]
    where = readings.test_distribution(results[0])
    plots = [{"key": f"heatmap-{a}-{b}", "title": f"P(proxy-aligned) over {a} × {b}",
              "caption": f"Each cell: share of agents proxy-aligned on {where}, 95% Wilson interval, and the agents behind it (other axes pooled).",
              "src": data_uri("image/png", heatmap(agents, a, b, where))} for a, b in itertools.combinations(varied, 2)]
    plots += [{"key": f"shares-{k}", "title": f"Verdicts against {k}", "caption": f"Share of agents per verdict on {where}, 95% Wilson intervals (other axes pooled).",
               "src": data_uri("image/png", shares_by_knob(agents, k))} for k in varied]
    objectives = tuple(results[0].objectives)
    given = [(k, list(v)) for k, v in axes]
    # every axis the cells are split by, including the training shift when it was not a --grid axis
    given += [(k, [f"{v:g}" for v in np.unique(agents.coords[k])]) for k in agents.coords if k not in dict(given)]
    context = {
        "title": title, "world": results[0].world, "axes": given, "cell_axes": list(agents.coords), "objectives": objectives,
        "distribution": where,
        "agents": sum(c.agents for c in cells), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "effects": effect_rows(effects), "categories": SHOWN_CATEGORIES, "cells": cell_rows(cells, objectives),
        "thresholds": [(name, _format_threshold(value)) for name, value in results[0].thresholds.items()],
        "runs": [{"label": label or "(one program)", "run_id": r.run_id, "agents": len(r.agents)} for r, label in zip(results, labels)],
        "trajectories": grid_trajectories(results, labels),
        "plots": plots,
    }
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("grid.html").render(**context)


def write_grid_report(path: Path, *args: Any) -> Path:
    """Render the grid report (arguments as `render_grid_report`) and write it atomically."""
    path = Path(path)
    _write_atomic(path, render_grid_report(*args))
    return path
