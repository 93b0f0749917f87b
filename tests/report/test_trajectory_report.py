"""Verdicts along training in the run and grid reports, from synthetic results."""

import dataclasses

from mesascope.diagnose.grid_outcomes import cell_outcomes, grid_agents, knob_effects
from mesascope.report.grid_report import render_grid_report
from mesascope.report.trajectory_section import trajectory_context

PROXY_EARLY = [["proxy-aligned", "proxy-aligned", "robustly aligned"],
               ["proxy-aligned", "robustly aligned", "robustly aligned"],
               ["ambiguous", "mixed", "proxy-aligned"],
               ["ambiguous", "ambiguous", "ambiguous"]]


def test_grid_report_shows_p_proxy_aligned_per_checkpoint_for_runs_with_a_trajectory(dose_experiment, synthetic_trajectory):
    bare = dose_experiment(agents_per_shift=2, shifts=(0.0, 0.5))
    stored = dataclasses.replace(bare, run_id="along", trajectory=synthetic_trajectory(PROXY_EARLY))
    results, labels = [stored, bare], ["ppo.width=8", "ppo.width=16"]
    agents = grid_agents(results, [{"ppo.width": 8.0}, {"ppo.width": 16.0}], ["train_shift", "ppo.width"])
    page = render_grid_report("coin grid", [("train_shift", ("0", "0.5")), ("ppo.width", ("8", "16"))], results, labels, agents,
                              cell_outcomes(agents, bare.objectives), knob_effects(agents, permutations=50))
    section = page.split('id="trajectories"')[1].split("</section>")[0]
    assert "ppo.width=8" in section and "ppo.width=16" not in section  # only the run that stored one
    assert "<th>100</th>" in section and "<th>300</th>" in section
    assert "0.50 [0.15, 0.85]" in section and "0.25 [0.05, 0.70]" in section  # 2 of 4, then 1 of 4, Wilson 95%
    assert "3 of 4 agents read as proxy-aligned" in section and "2 of them did so before a robustly aligned or mixed reading that came later, and 0 never read" in section
    assert 'id="trajectories"' not in render_grid_report("coin grid", [("ppo.width", ("16",))], [bare], ["w"],
                                                          grid_agents([bare], [{"ppo.width": 16.0}], ["ppo.width"]),
                                                          cell_outcomes(grid_agents([bare], [{"ppo.width": 16.0}], ["ppo.width"]), bare.objectives), [])


def test_run_report_section_holds_the_share_table_the_plot_and_the_proxy_first_line(dose_experiment, synthetic_trajectory):
    bare = dose_experiment(agents_per_shift=2, shifts=(0.0, 0.5))
    section = trajectory_context(dataclasses.replace(bare, trajectory=synthetic_trajectory(PROXY_EARLY)))
    assert section["steps"] == ["100", "200", "300"] and section["src"].startswith("data:image/png;base64,")
    rows = {row["category"]: row["shares"] for row in section["rows"]}
    assert rows["proxy-aligned"][0] == "0.50 [0.15, 0.85]" and rows["robustly aligned"][2] == "0.50 [0.15, 0.85]"
    assert section["line"].startswith("3 of 4 agents")
    assert trajectory_context(bare) is None  # the page leaves the section out (tests/experiments/test_runner.py renders one)


def test_grid_cells_table_has_one_header_per_cell_value_when_the_shift_is_not_a_grid_axis(dose_experiment):
    """A grid over ppo.width alone still splits cells by training shift: the cells table heads
    that column too, so every value sits under its own header."""
    import re

    bare = dose_experiment(agents_per_shift=2, shifts=(0.0, 0.5))
    agents = grid_agents([bare], [{"ppo.width": 16.0}], ["ppo.width", "train_shift"])
    page = render_grid_report("coin grid", [("ppo.width", ("16",))], [bare], ["w"], agents,
                              cell_outcomes(agents, bare.objectives), knob_effects(agents, permutations=50))
    cells = page.split('id="cells"')[1].split("</table>")[0]
    headers = re.findall(r"<th>", cells.split("</thead>")[0])
    for row in cells.split("<tbody>")[1].split("</tr>")[:-1]:
        assert len(re.findall(r"<td", row)) == len(headers)
    assert "<th>train_shift</th>" in cells and "<code>train_shift</code> ∈ 0, 0.5" in page
