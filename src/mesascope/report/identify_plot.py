"""Heatmaps of pairwise identifiability (diagnose/identify.py), one panel per distribution."""

from __future__ import annotations

from mesascope.diagnose.identify import Identifiability
from mesascope.report.figure import new_figure, to_png, plot_style


def identifiability_matrices(analyses: list[Identifiability]) -> bytes:
    """PNG: for each distribution, the share of states where optimal action sets differ (colour;
    disjoint where only that is known, as in stored records), with the expected log-likelihood
    ratio per step (row objective's policy against the column's) where known, and the share of
    levels whose reward timing differs."""
    with plot_style():
        figure = new_figure(4.2 * len(analyses), 3.8)
        axes = figure.subplots(1, len(analyses), squeeze=False)[0]
        for ax, analysis in zip(axes, analyses):
            names = analysis.objectives
            shares = analysis.differ if analysis.differ is not None else analysis.disjoint
            image = ax.imshow(shares, vmin=0, vmax=1, cmap="viridis")
            for j in range(len(names)):
                for k in range(len(names)):
                    value = shares[j, k]
                    llr = f"\nLLR {analysis.llr[j, k]:.2f}" if analysis.llr is not None else ""
                    ax.text(k, j, f"{value:.2f}{llr}\n(t {analysis.timing[j, k]:.2f})", ha="center", va="center", fontsize=8, color="white" if value < 0.6 else "black")
            ax.set_xticks(range(len(names)), names, rotation=30)
            ax.set_yticks(range(len(names)), names)
            ax.set_title(f"{analysis.distribution} (shift {analysis.shift:g})")
        label = "share of states whose optimal actions differ" if analyses[0].differ is not None else "share of states with disjoint optimal actions"
        figure.colorbar(image, ax=list(axes), label=label)
        figure.suptitle("Which objectives can behaviour tell apart? (t: reward-timing share)")
        return to_png(figure)
