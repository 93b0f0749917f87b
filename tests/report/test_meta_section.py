"""The report's meta-learning section: shown only for unions and recurrent agents, with the
union's composition and P(C) computed from the stored episodes."""

from types import SimpleNamespace

import numpy as np

from mesascope.commands.meta import stored_curve_table
from mesascope.report.meta_section import meta_context


def result(world: str, agent: str, normalised: dict, shifts=(0.0, 0.0, 0.0)) -> SimpleNamespace:
    return SimpleNamespace(world=world, config={"agent": agent, "trial_episodes": 4, "seed": 0, "world_options": {}}, episode_normalised=normalised,
                           agents=[SimpleNamespace(train_shift=s) for s in shifts], shift_name="p_red_goal")


def test_section_only_for_unions_and_recurrent_agents():
    assert meta_context(SimpleNamespace(world="coin", config={"seed": 0}, episode_normalised={})) is None
    proxy = np.stack([np.zeros((10,)), np.ones((10,))], -1)  # every episode: proxy reached, intended not
    good = np.ones((10, 2))
    context = meta_context(result("hidden_goal", "recurrent", {"test": np.stack([proxy, proxy, good])}))
    row = next(r for r in context["rows"] if r["predicate"] == "proxy_on_heldout")
    assert row["agents"] == "2/3" and row["rate"].startswith("0.67 [")  # the mean rate comes with its interval
    assert context["composition"] == ""
    split = meta_context(result("hidden_goal", "recurrent", {"test": np.stack([proxy, proxy, good])}, shifts=(0.0, 0.0, 1 / 3)))
    by_shift = {r["shift"]: r["agents"] for r in split["rows"] if r["predicate"] == "proxy_on_heldout"}
    assert by_shift == {"0": "2/2", "0.333333": "0/1"}  # two populations, not pooled


def test_union_composition_is_listed():
    context = meta_context(result("union:coin,corner", "ppo", {}))
    assert "coin/exit" in context["composition"] and "corner/corner" in context["composition"]


def test_in_trial_curve_from_stored_trials():
    # 3 agents, trials of 3 episodes on 5 levels: normalised intended 0 -> 0.5 -> 1 (level 4
    # undefined, left out); the proxy 0.5 -> 0.25 -> 0 (0 on level 4). Gap closed: 1 for intended;
    # for the proxy (0 - 0.4) / (1 - 0.4) = -0.67.
    intended = np.broadcast_to(np.array([0.0, 0.5, 1.0])[None, :, None], (3, 3, 5)).copy()
    intended[:, :, 4] = np.nan
    normalised = np.stack([intended, np.nan_to_num(0.5 * (1.0 - intended))], -1)
    trials = SimpleNamespace(normalised={"train": normalised, "test": normalised})
    synthetic = SimpleNamespace(world="hidden_goal", objectives=("goal", "red"), run_id="run", trials=trials,
                                agents=[SimpleNamespace(train_shift=0.0)] * 3, shift_name="p_red_goal",
                                config={"agent": "recurrent", "trial_episodes": 3, "seed": 0, "world_options": {}},
                                episode_normalised={"test": normalised[:, -1]})
    context = meta_context(synthetic)
    rows = {(r["distribution"], r["objective"]): r for r in context["curve_rows"]}
    assert set(rows) == {("train", "goal"), ("train", "red"), ("test", "goal"), ("test", "red")}
    assert rows[("test", "goal")]["episodes"] == ["0.00 [0.00, 0.00]", "0.50 [0.50, 0.50]", "1.00 [1.00, 1.00]"]
    assert rows[("test", "goal")]["closed"].startswith("1.00") and rows[("test", "red")]["closed"].startswith("-0.67 [")  # its interval resamples levels
    assert context["curve_figure"].startswith("data:image/png;base64,")
    assert meta_context(result("hidden_goal", "recurrent", {}))["curve_rows"] == []  # no trials stored: no curve
    assert stored_curve_table(synthetic).row_count == 4  # `mesascope meta` prints the same rows
