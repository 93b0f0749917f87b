"""Heatmaps of pairwise identifiability (diagnose/identify.py), one panel per distribution."""

from __future__ import annotations

from mesascope.diagnose.identify import Identifiability
from mesascope.report.figure import new_figure, to_png, plot_style


def identifiability_matrices(analyses: list[Identifiability]) -> bytes:
    """PNG: for each distribution, the share of states where optimal action sets are disjoint
    (colour) with the share of levels whose reward timing differs (second number)."""
    with plot_style():
        figure = new_figure(4.2 * len(analyses), 3.8)
        axes = figure.subplots(1, len(analyses), squeeze=False)[0]
        for ax, analysis in zip(axes, analyses):
            names = analysis.objectives
            image = ax.imshow(analysis.disjoint, vmin=0, vmax=1, cmap="viridis")
            for j in range(len(names)):
                for k in range(len(names)):
                    value = analysis.disjoint[j, k]
                    ax.text(k, j, f"{value:.2f}\n(t {analysis.timing[j, k]:.2f})", ha="center", va="center", fontsize=9, color="white" if value < 0.6 else "black")
            ax.set_xticks(range(len(names)), names, rotation=30)
            ax.set_yticks(range(len(names)), names)
            ax.set_title(f"{analysis.distribution} (shift {analysis.shift:g})")
        figure.colorbar(image, ax=list(axes), label="share of states with disjoint optimal actions")
        figure.suptitle("Which objectives can behaviour tell apart? (t: reward-timing share)")
        return to_png(figure)
