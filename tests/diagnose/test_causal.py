"""Proxy kinds from causal graphs."""

import networkx as nx
import pytest

from mesascope.diagnose.causal import KINDS, proxy_kind, proxy_kinds
from mesascope.worlds.coin import CoinWorld


def _graph(*edges, nodes=()):
    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    graph.add_nodes_from(nodes)
    return graph


def test_side_effect_when_the_proxy_causes_the_intended():
    assert proxy_kind(_graph(("proxy", "mid"), ("mid", "base")), "base", "proxy") == "side-effect"


def test_instrumental_when_the_intended_causes_the_proxy():
    assert proxy_kind(_graph(("base", "proxy")), "base", "proxy") == "instrumental"


def test_general_when_they_share_a_common_ancestor():
    graph = _graph(("root", "a"), ("a", "base"), ("root", "proxy"))
    assert proxy_kind(graph, "base", "proxy") == "general"


def test_none_when_unconnected():
    assert proxy_kind(_graph(("x", "base"), ("y", "proxy")), "base", "proxy") == "none"
    assert proxy_kind(_graph(nodes=("base", "proxy")), "base", "proxy") == "none"


def test_cycle_is_an_error_naming_the_nodes():
    with pytest.raises(ValueError, match=r"acyclic.*(base -> proxy|proxy -> base)"):
        proxy_kind(_graph(("base", "proxy"), ("proxy", "base")), "base", "proxy")
    with pytest.raises(ValueError, match="acyclic"):
        proxy_kind(_graph(("base", "proxy"), ("u", "v"), ("v", "u")), "base", "proxy")


def test_unknown_or_identical_nodes_are_errors():
    with pytest.raises(ValueError, match="'gold' is not a node"):
        proxy_kind(_graph(("base", "proxy")), "base", "gold")
    with pytest.raises(ValueError, match="same node"):
        proxy_kind(_graph(("base", "proxy")), "base", "base")


def test_coin_world_exit_is_a_side_effect_proxy():
    kinds = proxy_kinds(CoinWorld(size=5))
    assert kinds == {"exit": "side-effect"}
    assert set(kinds.values()) <= set(KINDS)
