"""`mesascope imitate` end to end on a tiny DAgger population: refused specs before any work,
a stored run with its imitation record and report section, reused when run again."""

import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.store.db import Store

TINY = ["imitation.updates=12", "imitation.minibatch=16", "imitation.dataset_episodes=8", "imitation.dagger_episodes=2", "imitation.dagger_buffer=8",
        "ppo.width=8", "ppo.depth=1", "eval.episodes=6", "eval.bootstrap=10", "eval.distributions=test", "eval.gifs=0",
        "eval.influence_levels=0", "eval.identify_levels=0", "eval.checkpoints=1", "imitation.hypothesis_horizons=2",
        "eval.goal_mixture_resolution=1", "eval.goal_lapse=false"]


def invoke(tmp_path, *args):
    settings = [x for s in TINY for x in ("--set", s)]
    return CliRunner().invoke(app, ["imitate", "detour", *settings, *args, "--db", str(tmp_path / "m.db")])  # args last: their --set wins


@pytest.mark.parametrize(
    "args, message",
    [
        (["--expert", "horizon=-2"], "expert.horizon"),
        (["--expert", "objective=gold"], "expert.objective"),
        (["--expert", "horizon=4,utility_cap=7"], "expert.utility_cap"),
        (["--expert", "horizon"], "not KEY=VALUE"),
        (["--learner", "gail"], "--learner must be one of ['bc', 'dagger']"),
        (["--learner", "ppo"], "--learner must be one of ['bc', 'dagger']"),  # an agent family, but no imitator
        (["--set", "agent=ppo"], "choose the learner with --learner"),  # would train PPO under an imitation name
        (["--grid", "agent=ppo,bc"], "--grid agent=... is not for imitate"),
        (["--grid", ""], "--grid needs KEY=V1,V2"),
    ],
)
def test_bad_specs_are_refused_before_any_work(tmp_path, args, message):
    result = invoke(tmp_path, *args)
    assert result.exit_code == 2
    assert "error:" in result.output and message in result.output
    assert "Traceback" not in result.output
    if (tmp_path / "m.db").exists():
        with Store(tmp_path / "m.db") as store:
            assert store.list_runs() == []


def test_imitate_stores_a_diagnosed_clone_population_and_reuses_it(tmp_path):
    first = invoke(tmp_path, "--expert", "horizon=4", "--learner", "dagger", "--seeds", "1", "--set", "eval.gifs=1")
    assert first.exit_code == 0, first.output
    assert "what each clone plans for" in first.output
    with Store(tmp_path / "m.db") as store:
        (run,) = store.list_runs()
        result = store.load_result(run["run_id"])
    record = result.imitation
    assert record is not None and record.learner == "dagger" and len(record.verdicts) == 1
    assert record.expert["horizon"] == 4 and np.isinf(record.expert["cap"])
    assert record.agreement_train[-1] == 1.0  # the expert's own row
    assert record.horizon[-1] == 4  # the inference finds the expert's own horizon on its test actions
    assert set(record.verdicts) <= {"imitates the bound", "plans beyond its expert's horizon/cap", "not identifiable", "capability failure", "pursues another objective"}
    data = result.curves["data_states"]
    assert np.all(data[:, -1] > data[:, 0])  # DAgger added the states its learner visited
    (side,) = [frames for caption, frames in result.gifs.items() if caption.startswith("expert (left), clone 0 (middle)")]
    assert side.ndim == 4 and side.shape[-1] == 3 and side.shape[0] >= 2
    width = (side.shape[2] - 4) // 3  # three panes and two 2-pixel gaps
    assert side.shape[2] == 3 * width + 4 and np.all(side[:, :, width:width + 2] == 255)
    report = (tmp_path / "m_artifacts" / run["run_id"] / "report.html").read_text()
    assert "What each clone plans for" in report
    assert "1.00 [1.00, 1.00]" in report and "100.0%" not in report  # agreements as fractions, like the threshold
    again = invoke(tmp_path, "--expert", "horizon=4", "--learner", "dagger", "--seeds", "1", "--set", "eval.gifs=1")
    assert again.exit_code == 0 and "reused" in again.output


def test_tied_objectives_are_named_as_a_tie_not_a_winner():
    """The best-fitting objective is every objective whose best hypothesis lies within the
    evidence margin of the best, not the first one in grid order."""
    from types import SimpleNamespace

    from mesascope.report.imitation import _best_objectives

    hypotheses = np.array([[0, 2, 0.95, np.inf], [0, 4, 0.95, np.inf], [1, 2, 0.95, np.inf], [1, 4, 0.95, np.inf]])
    record = SimpleNamespace(hypotheses=hypotheses, expert={"evidence": 3.0}, best_objective=np.array([0, 1]),
                             loglik=np.array([[-10.0, -12.0, -10.0, -30.0], [-40.0, -41.0, -11.0, -20.0]]))
    assert _best_objectives(record, 0, ("deliver", "points")) == "deliver ≈ points (within 3 nats)"
    assert _best_objectives(record, 1, ("deliver", "points")) == "points"
