"""The kind of a proxy objective, read from a world's causal graph.

Following the taxonomy of proxy alignment (Hubinger et al., *Risks from Learned Optimization*),
with the intended (base) objective B and a proxy (mesa) objective P as nodes of a causal DAG:

- `side-effect`: a directed path P → … → B. Optimizing the proxy causes the intended
  objective as a side effect (in the coin world, reaching the exit collected the coin in
  training).
- `instrumental`: a directed path B → … → P. The proxy is caused by the intended objective,
  so pursuing it is instrumentally useful only while that link holds.
- `general`: no directed path either way, but a common ancestor drives both.
- `none`: no causal connection at all in the declared graph.

A directed path both ways is a cycle; causal graphs must be DAGs, so that (or any other cycle)
raises ValueError.
"""

from __future__ import annotations

import networkx as nx

from mesascope.worlds.core import World

KINDS = ("side-effect", "instrumental", "general", "none")
"""Every value `proxy_kind` can return."""


def validate_dag(graph: nx.DiGraph) -> None:
    """Raise ValueError, naming the nodes of one cycle, if `graph` is not a DAG."""
    if not isinstance(graph, nx.DiGraph):
        raise TypeError(f"a causal graph must be a networkx.DiGraph, got {type(graph).__name__}")
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    nodes = [edge[0] for edge in cycle]
    raise ValueError(f"a causal graph must be acyclic, but it has the cycle {' -> '.join(map(str, nodes + nodes[:1]))}")


def proxy_kind(graph: nx.DiGraph, intended: str, proxy: str) -> str:
    """Classify `proxy` relative to `intended` in the causal DAG `graph` (see module docstring).

    Raises:
        ValueError: if a node is missing, the two are the same node, or the graph has a cycle.
    """
    for label, node in (("intended", intended), ("proxy", proxy)):
        if node not in graph:
            raise ValueError(f"{label} objective {node!r} is not a node of the causal graph; nodes: {sorted(map(str, graph.nodes))}")
    if intended == proxy:
        raise ValueError(f"the proxy and the intended objective are the same node {intended!r}")
    validate_dag(graph)
    if nx.has_path(graph, proxy, intended):
        return "side-effect"
    if nx.has_path(graph, intended, proxy):
        return "instrumental"
    if nx.ancestors(graph, intended) & nx.ancestors(graph, proxy):
        return "general"
    return "none"


def proxy_kinds(world: World) -> dict[str, str]:
    """The kind of every proxy objective of `world`, from `world.causal_graph()`."""
    graph = world.causal_graph()
    return {proxy: proxy_kind(graph, world.intended, proxy) for proxy in world.proxies}
