"""The report's meta-learning section: shown only for unions and recurrent agents, with the
union's composition and P(C) computed from the stored episodes."""

from types import SimpleNamespace

import numpy as np

from mesascope.report.meta_section import meta_context


def result(world: str, agent: str, normalised: dict) -> SimpleNamespace:
    return SimpleNamespace(world=world, config={"agent": agent, "trial_episodes": 4, "seed": 0, "world_options": {}}, episode_normalised=normalised)


def test_section_only_for_unions_and_recurrent_agents():
    assert meta_context(SimpleNamespace(world="coin", config={"seed": 0}, episode_normalised={})) is None
    proxy = np.stack([np.zeros((10,)), np.ones((10,))], -1)  # every episode: proxy reached, intended not
    good = np.ones((10, 2))
    context = meta_context(result("hidden_goal", "recurrent", {"test": np.stack([proxy, proxy, good])}))
    row = next(r for r in context["rows"] if r["predicate"] == "proxy_on_heldout")
    assert row["agents"] == "2/3" and row["rate"] == "0.67"
    assert context["composition"] == ""


def test_union_composition_is_listed():
    context = meta_context(result("union:coin,corner", "ppo", {}))
    assert "coin/exit" in context["composition"] and "corner/corner" in context["composition"]
