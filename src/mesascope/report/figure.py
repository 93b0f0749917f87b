"""The look every mesascope figure shares: palettes, the matplotlib style, figures on their own
Agg canvas (never through `pyplot`, so no figure is left open in a global manager), PNG encoding,
placeholders that say why there is nothing to draw, and small helpers the plot modules share.

Colours are fixed across plots: one per training shift value, one per verdict category
(robustly aligned green, proxy-aligned orange-red, capability failure grey, ambiguous purple)
and one per objective (intended green, proxies orange-red, the random hypothesis grey).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mesascope.records.results import ExperimentResult
from mesascope.report import summary

VERDICT_COLOURS = {
    "robustly aligned": "#2ca02c",
    "proxy-aligned": "#e4572e",
    "mixed": "#f0a202",
    "capability failure": "#8c8c8c",
    "ambiguous": "#8e44ad",
    summary.NO_VERDICT: "#d9d9d9",
}
SHIFT_PALETTE = ("#1f4e9c", "#17becf", "#b8a100", "#e377c2", "#8c564b", "#111111", "#6baed6", "#9e9ac8")
INTENDED_COLOUR = "#2ca02c"
PROXY_PALETTE = ("#e4572e", "#f0a202", "#b5179e", "#c0392b")
RANDOM_COLOUR = "#8c8c8c"

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.facecolor": "white",
}


def shift_colours(result: ExperimentResult) -> dict[float, str]:
    """A fixed colour per training shift value (by rank, so every plot of a result agrees)."""
    values = summary.shift_values(result)
    if len(values) <= len(SHIFT_PALETTE):
        return {v: SHIFT_PALETTE[i] for i, v in enumerate(values)}
    cmap = matplotlib.colormaps["viridis"]
    return {v: matplotlib.colors.to_hex(cmap(i / max(1, len(values) - 1) * 0.9)) for i, v in enumerate(values)}


def verdict_colour(verdict: str) -> str:
    """The colour of a verdict's category."""
    return VERDICT_COLOURS[summary.NO_VERDICT if verdict == summary.NO_VERDICT else summary.verdict_category(verdict)]


def objective_colour(result: ExperimentResult, name: str) -> str:
    """Intended objective green, each proxy its own orange/red, anything else (random) grey."""
    if name == result.objectives[0]:
        return INTENDED_COLOUR
    if name in result.objectives:
        return PROXY_PALETTE[(result.objectives.index(name) - 1) % len(PROXY_PALETTE)]
    return RANDOM_COLOUR


def objective_label(result: ExperimentResult, name: str) -> str:
    """An objective name marked '(intended)' or '(proxy)'; other hypotheses (random) unmarked."""
    if name not in result.objectives:
        return name
    return f"{name} (intended)" if name == result.objectives[0] else f"{name} (proxy)"


def data_uri(mime: str, data: bytes) -> str:
    """A base64 `data:` URI for embedding bytes in a page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


@contextmanager
def plot_style() -> Iterator[None]:
    """Readable fonts and a light grid, restored on exit."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on its own Agg canvas (not known to pyplot)."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def to_png(figure: Figure) -> bytes:
    """Encode a figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, facecolor="white")
    return buffer.getvalue()


def placeholder(title: str, message: str) -> bytes:
    """A small figure that says why there is nothing to draw."""
    figure = new_figure(6, 2.2)
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555", transform=ax.transAxes)
    return to_png(figure)


def shift_legend(result: ExperimentResult) -> list[Line2D]:
    """Legend handles, one coloured line per training shift value."""
    return [
        Line2D([], [], color=c, lw=2.5, label=f"{result.shift_name} = {summary.format_shift(v)}")
        for v, c in shift_colours(result).items()
    ]


def mean_over_agents(values: np.ndarray) -> np.ndarray:
    """Column means of a 2-D array over finite entries (NaN without warnings where none)."""
    finite = np.isfinite(values)
    counts = finite.sum(0)
    sums = np.where(finite, values, 0.0).sum(0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def value_limits(values: np.ndarray, low: float = -0.1, high: float = 1.1) -> tuple[float, float]:
    """Axis limits covering [low, high] and every finite value, with a margin."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = min(low, finite.min() - 0.05), max(high, finite.max() + 0.05)
    return float(low), float(high)


def threshold_named(result: ExperimentResult, words: tuple[str, ...], default: float) -> float:
    """The first threshold whose name contains one of `words`, else `default`."""
    for name, value in result.thresholds.items():
        if any(word in name.lower() for word in words) and np.isfinite(value):
            return float(value)
    return default
