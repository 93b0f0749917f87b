"""The decision-influence plots, their numbers and their place in the HTML report, on synthetic
results: 4 agents over 2 training shift values (or 3 where one value has a lone agent)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mesascope.records.results import AgentRecord, ExperimentResult, InfluenceRecord
from mesascope.report import html, influence_plots, plots, summary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_record(agents: int, checkpoints: int = 3) -> InfluenceRecord:
    """Agent a's share of kind 'coin' is 0.1 * (a + 1) at every checkpoint; 'exit' never probed."""
    share = np.zeros((agents, checkpoints, 2, 2))
    share[:, :, 0] = (0.1 * (np.arange(agents) + 1))[:, None, None]
    share[:, :, 1] = np.nan
    maps = np.full((agents, checkpoints, 2, 2, 5, 5), np.nan)
    maps[..., 0, :, 1:4, 1:4] = 1.0
    probs = np.full((agents, checkpoints, 5, 5, 4), np.nan)
    probs[..., 1:4, 1:4, :] = [0.7, 0.1, 0.1, 0.1]
    return InfluenceRecord(
        kinds=("coin", "exit"), interventions=("remove", "move"), action_names=("up", "right", "down", "left"),
        distribution="test", levels=8, steps=np.arange(1, checkpoints + 1) * 100, share=share, share_low=share - 0.05,
        share_high=share + 0.05, pairs=np.array([72, 0]), cell_maps=maps, action_probs=probs,
        picture=np.full((40, 40, 3), 90, np.uint8),
    )


def make_result(shifts: tuple[float, ...] = (0.0, 0.0, 0.3, 0.3), influence: bool = True) -> ExperimentResult:
    agents = [AgentRecord(i, i, s) for i, s in enumerate(shifts)]
    return ExperimentResult(
        run_id="r", name="n", world="coin", objectives=("coin", "exit"), shift_name="p_random_coin", config={}, agents=agents,
        curve_steps=np.arange(3), curves={}, evaluations=[], inferences=[], verdicts=[], episode_returns={},
        episode_normalised={}, thresholds={}, influence=make_record(len(shifts)) if influence else None,
    )


@pytest.mark.parametrize("name", list(influence_plots.INFLUENCE_PLOTS))
def test_plots_draw_influence_and_say_when_there_is_none(name):
    draw = influence_plots.INFLUENCE_PLOTS[name]
    full, bare = Image.open(io.BytesIO(draw(make_result()))), Image.open(io.BytesIO(draw(make_result(influence=False))))
    assert full.width > 400 and full.height > 300
    assert bare.height < full.height  # the small placeholder
    assert draw(make_result(shifts=(0.0, 0.3, 0.3)))[:8] == PNG_MAGIC


def test_influence_by_shift_known_answers():
    groups = summary.influence_by_shift(make_result(shifts=(0.0, 0.3, 0.3)))
    assert list(groups) == [0.0, 0.3] and groups[0.0].shape == (3, 2, 2, 3)
    lone = groups[0.0][:, 0, 0]  # one agent: its own share and interval over levels
    np.testing.assert_allclose(lone, [[0.1, 0.05, 0.15]] * 3)
    pair = groups[0.3][:, 0, 0]  # agents with 0.2 and 0.3: mean 0.25, bootstrap inside [0.2, 0.3]
    np.testing.assert_allclose(pair[:, 0], 0.25)
    assert np.all(pair[:, 1] >= 0.2 - 1e-12) and np.all(pair[:, 2] <= 0.3 + 1e-12)
    assert np.isnan(groups[0.3][:, 1]).all()  # never probed
    assert summary.influence_by_shift(make_result(influence=False)) == {}


def test_influence_plots_are_in_the_report():
    result = make_result()
    for key, draw in influence_plots.INFLUENCE_PLOTS.items():
        assert key in html.PLOT_TEXT
        assert plots.PLOTS[key](result) == draw(result)  # the report's lazy wrapper draws the same figure
    page = html.render_report(result)
    for key in influence_plots.INFLUENCE_PLOTS:
        title = html.PLOT_TEXT[key][0]
        assert f'id="plot-{key}"' in page and title in page
