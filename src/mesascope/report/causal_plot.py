"""A picture of a world's declared causal graph, with each proxy's causal kind.

Nodes are laid out left to right by topological generation (causes before effects); the
intended objective is green, proxies orange-red with their kind (side-effect, instrumental,
general) under their name, other variables grey.
"""

from __future__ import annotations

import networkx as nx

from mesascope.diagnose.causal import proxy_kinds, validate_dag
from mesascope.report.figure import INTENDED_COLOUR, PROXY_PALETTE, RANDOM_COLOUR, new_figure, to_png, plot_style
from mesascope.worlds.core import World


def causal_graph_plot(world: World) -> bytes:
    """PNG of `world.causal_graph()` with the intended objective, the proxies and their kinds."""
    graph = world.causal_graph()
    validate_dag(graph)
    kinds = proxy_kinds(world)
    for depth, generation in enumerate(nx.topological_generations(graph)):
        for node in generation:
            graph.nodes[node]["depth"] = depth
    positions = nx.multipartite_layout(graph, subset_key="depth", align="vertical", scale=1.0)
    colours, labels = {}, {}
    for node in graph.nodes:
        if node == world.intended:
            colours[node] = INTENDED_COLOUR
            labels[node] = f"{node}\n(intended)"
        elif node in kinds:
            colours[node] = PROXY_PALETTE[(world.objectives.index(node) - 1) % len(PROXY_PALETTE)]
            labels[node] = f"{node}\n(proxy: {kinds[node]})"
        else:
            colours[node] = RANDOM_COLOUR
            labels[node] = node
    depth = 1 + max(graph.nodes[n]["depth"] for n in graph.nodes)
    with plot_style():
        figure = new_figure(max(6.0, 2.6 * depth), max(3.2, 1.1 * max(len(g) for g in nx.topological_generations(graph)) + 1.4))
        ax = figure.add_subplot()
        nx.draw_networkx_edges(graph, positions, ax=ax, arrowsize=14, edge_color="#555555", width=1.3,
                               min_source_margin=42, min_target_margin=42, node_size=0)
        for node, (x, y) in positions.items():
            colour = colours[node]
            ax.text(x, y, labels[node].replace("_", " "), ha="center", va="center", fontsize=9, color="white" if colour != RANDOM_COLOUR else "black",
                    bbox={"boxstyle": "round,pad=0.45", "facecolor": colour, "edgecolor": "none", "alpha": 0.95 if colour != RANDOM_COLOUR else 0.35})
        ax.set_axis_off()
        ax.margins(0.15)
        ax.set_title(f"{world.name}: declared causal graph (arrows: cause → effect)")
        return to_png(figure)
