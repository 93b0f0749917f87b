"""The sweep report: its dose column and sweep verdicts, from synthetic results."""

from mesascope.diagnose.sweep_verdicts import decide_sweep, sweep_agents
from mesascope.report.sweep_report import half_aligned_dose, render_sweep_report


def test_half_aligned_dose_gives_ed50_bracket_or_nothing(dose_experiment):
    graded = dose_experiment(agents_per_shift=40, shifts=(0.0, 0.25, 0.5, 0.75, 1.0))
    text = half_aligned_dose(graded)
    assert text.startswith("ED50 ") or text.startswith("between ") or text.startswith("none: ")
    separated = dose_experiment(agents_per_shift=4, shifts=(0.0, 1.0))
    for row in separated.verdicts:
        row_shift = separated.agents[row.agent].train_shift
        object.__setattr__(row, "verdict", "robustly aligned" if row_shift == 1.0 else "proxy-aligned")
    assert half_aligned_dose(separated) == "between 0 and 1 (separated: no interval)"
    single = dose_experiment(agents_per_shift=4, shifts=(0.3,))
    assert half_aligned_dose(single) == ""


def test_sweep_page_shows_runs_verdicts_plots_and_the_dose_column(dose_experiment, synthetic_trajectory):
    results = [dose_experiment(agents_per_shift=6, shifts=(0.0, 0.5, 1.0)) for _ in range(2)]
    results[1].trajectory = synthetic_trajectory([["proxy-aligned", "mixed"], ["ambiguous", "proxy-aligned"]], steps=(50, 100))
    for row in results[1].verdicts:
        object.__setattr__(row, "evidence", {"best": "coin"})
    page = render_sweep_report("coin over level_mix", "level_mix", ["test", "adversarial"], results, None, "", "no trend verdicts here")
    assert "no trend verdicts here" in page and "for half robustly aligned" in page
    assert page.count("data:image/png;base64,") == 3
    along = page.split('id="trajectories"')[1].split("</section>")[0]  # the adversarial run's P(proxy-aligned) per checkpoint
    assert "<h3>adversarial " in along and "<h3>test " not in along and along.count("0.50 [0.09, 0.91]") == 2
    for row in results[0].verdicts:
        object.__setattr__(row, "evidence", {"best": "coin"})
    verdicts = decide_sweep(sweep_agents(results, [1.0, 2.0]))
    page = render_sweep_report("coin over l2", "l2", ["1", "2"], results, verdicts, "as given")
    assert "approximate alignment" in page and "suboptimality alignment" in page
    assert sorted(verdicts) == [0.0, 0.5, 1.0]  # one pair of verdicts per training shift
    approximate, suboptimality = verdicts[0.0]
    assert not approximate.holds and "does not fall" in approximate.reason  # the two runs are alike
    assert not suboptimality.holds


def test_proxy_aligned_with_the_intended_achieved_counts_as_proxy_seeking(dose_experiment):
    """Every spelling of a verdict category counts: an agent read as "proxy-aligned (intended
    achieved)" seeks a proxy in the sweep verdicts, as it does in the grid tables and dose fits."""
    results = [dose_experiment(agents_per_shift=4, shifts=(0.0,)) for _ in range(2)]
    for result, verdict in zip(results, ("robustly aligned", "proxy-aligned (intended achieved)")):
        for row in result.verdicts:
            object.__setattr__(row, "verdict", verdict)
    agents = sweep_agents(results, [1.0, 2.0], distribution=results[0].verdicts[0].distribution)
    assert agents.proxy_seeking.tolist() == [False] * 4 + [True] * 4
    assert agents.aligned.tolist() == [True] * 4 + [False] * 4
