"""Grids of agents: axes split into traced (one program) and static (one program each), bad axes
refused before work, a grid run on a real local Ray (bit for bit the cell this process trains)
and resumed after a lost worker, and the per-cell and per-knob outcomes read off the stored
verdicts. This is the suite's one test that starts Ray."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
import ray
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.diagnose.grid_outcomes import cell_outcomes, grid_agents, knob_effects, share_matrix
from mesascope.experiments import checkpoints as checkpoint_store
from mesascope.experiments import config as C
from mesascope.experiments.backends import BackendError, LocalBackend, make_backend
from mesascope.experiments.sweep import Grid, run_grid
from mesascope.store.db import Store

# ppo.learning_rate, ppo.object_lookup: the coin preset's (it keeps the settings its documented runs used), so `sweep coin` trains as `base`
TINY = ["world_options.size=7", "world_options.layout=open", "seeds=2", "ppo.total_steps=256", "ppo.num_envs=8", "ppo.num_steps=16",
        "ppo.minibatches=1", "ppo.epochs=1", "ppo.learning_rate=5e-4", "ppo.object_lookup=false", "ppo.width=8", "ppo.depth=1", "eval.episodes=8", "eval.bootstrap=20", "eval.gifs=0",
        "eval.influence_levels=0", "eval.identify_levels=0", "eval.checkpoints=1"]
AXES = (("train_shift", ("0", "0.5")), ("l2", ("0", "0.01")), ("ppo.width", ("8", "16")))


@pytest.fixture(scope="module")
def base() -> C.ExperimentConfig:
    return C.apply_overrides(C.ExperimentConfig(name="grid"), TINY)


def test_traced_axes_share_a_program_and_static_axes_split_it(base):
    configs = Grid(base, AXES).configs()
    assert [c.ppo.width for c in configs] == [8, 16]
    assert all(c.train_shifts == (0.0, 0.5) and c.knob_grid == {"l2": (0.0, 0.01)} and c.num_agents == 8 for c in configs)
    assert configs[0].name == "grid[ppo.width=8]"


@pytest.mark.parametrize("axes, words", [
    ((("nonsense", ("1", "2")),), ["unknown config key 'nonsense'"]),
    ((("ppo.width", ("8", "8.5")),), ["ppo.width must be an integer", "8.5"]),
    ((("l2", ()),), ["grid axis 'l2' has no values"]),
    ((("l2", ("0", "-1")),), ["knob_grid.l2 must be in [0, 1000]"]),
    ((("eval.distributions", ("train", "test")),), ["cannot make a grid axis of 'eval.distributions'", "list"]),
    ((("l2", ("0", "1")), ("l2", ("2", "3"))), ["grid axes repeat a key"]),
    ((("ppo.depth", ("1", "1")),), ["repeats a value"]),
    ((), ["at least one axis"]),
])
def test_bad_grids_are_refused_before_any_work(base, axes, words):
    with pytest.raises(C.ConfigError) as error:
        Grid(base, axes).configs()
    for word in words:
        assert word in str(error.value)


class FailsAfterOne:
    """A backend whose worker is lost after the first experiment finished."""

    def train(self, cells):
        for index, cell in LocalBackend().train(cells):
            yield index, cell
            raise BackendError("cells failed: the worker was killed")


def test_a_grid_runs_on_ray_resumes_after_a_lost_worker_and_summarises_per_cell(tmp_path, base):
    grid = Grid(base, AXES)
    with Store(tmp_path / "m.db") as store:
        with pytest.raises(BackendError):
            run_grid(grid, store, backend=FailsAfterOne())
        assert [r["status"] for r in store.list_runs()] == ["finished"]
        try:
            done = run_grid(grid, store, backend=make_backend("ray", workers=2))
        finally:
            ray.shutdown()
        assert done.reused == [True, False]  # the finished experiment is kept; only the rest trains
        assert len(store.list_runs()) == 2
        # the cell Ray trained is bit for bit the cell this process trains from the same config
        (_, here), = LocalBackend().train([grid.configs()[1]])
        stored = checkpoint_store.load(store.run_dir(done.results[1].run_id), 0).params[-1]
        assert jax.tree.structure(stored) == jax.tree.structure(here.params)
        assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(stored), jax.tree.leaves(here.params)))
    agents = grid_agents(done.results, [{"ppo.width": 8.0}, {"ppo.width": 16.0}], ["train_shift", "l2", "ppo.width"])
    assert agents.category.size == 16
    assert sorted(zip(agents.coords["ppo.width"][:8], agents.coords["l2"][:8])) == sorted([(8.0, 0.0)] * 4 + [(8.0, 0.01)] * 4)
    cells = cell_outcomes(agents, done.results[0].objectives)
    assert len(cells) == 8 and all(c.agents == 2 for c in cells)
    for cell in cells:
        total = sum(cell.shares[c][0] for c in ("robustly aligned", "proxy-aligned", "mixed", "capability failure", "ambiguous"))
        assert total == pytest.approx(1.0)
        share, low, high = cell.shares["proxy-aligned"]
        assert low <= share <= high and high - low > 0.3  # two agents cannot give a tight interval
    assert {e.knob for e in knob_effects(agents, permutations=50)} == {"train_shift", "l2", "ppo.width"}
    rows, columns, share, low, high, count = share_matrix(agents, "l2", "ppo.width")
    assert list(rows) == [0.0, 0.01] and list(columns) == [8.0, 16.0] and (count == 4).all()

    result = CliRunner().invoke(app, ["sweep", "coin", "--db", str(tmp_path / "m.db"), "--table", *[x for s in TINY for x in ("--set", s)],
                                      *[x for k, v in AXES for x in ("--grid", f"{k}={','.join(v)}")]], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "P(proxy-aligned)" in result.output and "grid report" in result.output
    assert "(level seed 0)" in result.output and "--set eval.level_seed=K" in " ".join(result.output.split())
    with Store(tmp_path / "m.db") as store:  # the coin preset named differently: new diagnoses, the same two trainings
        runs = store.list_runs()
        assert len(runs) == 4 and len({store.training_id(r["run_id"]) for r in runs}) == 2
    cli = CliRunner()
    by_l2 = cli.invoke(app, ["dose", done.results[0].run_id, "--db", str(tmp_path / "m.db"), "--dial", "l2"], env={"COLUMNS": "200"})
    assert by_l2.exit_code == 0 and "l2" in by_l2.output, by_l2.output
    # the dial column's header names the knob ("train" over "l2"), not the shift
    assert re.search(r"^\s*train\s.*\n\s*l2\s", by_l2.output, re.MULTILINE), by_l2.output
    unknown = cli.invoke(app, ["dose", done.results[0].run_id, "--db", str(tmp_path / "m.db"), "--dial", "width"], env={"COLUMNS": "300"})
    assert unknown.exit_code == 2 and "dials: train_shift" in unknown.output and "ppo.entropy_coef" in unknown.output
    assert list((tmp_path / "m_artifacts" / "sweeps").glob("*/report.html"))
    sweep_id = re.search(r"mesascope export (\S+) --db", result.output)[1]  # a grid exports by the id it printed
    exported = cli.invoke(app, ["export", sweep_id, "--db", str(tmp_path / "m.db"), "--out", str(tmp_path / "tables")])
    assert exported.exit_code == 0 and "ppo.width" in exported.output and "(2 runs)" in exported.output, exported.output
    header, *rows = (tmp_path / "tables" / "grid_cells.csv").read_text().splitlines()  # one row per grid cell
    assert header.startswith("train_shift,l2,ppo.width,agents,share.robustly aligned") and len(rows) == len(cell_outcomes(agents, done.results[0].objectives))


def test_grid_command_errors_name_the_problem(tmp_path):
    cli = CliRunner()
    for args, words in [(["--grid", "l2=0,1", "--backend", "spark"], "--backend must be one of"),
                        (["--grid", "l2=0,1", "--address", "auto"], "--address names a Ray cluster"),
                        (["--grid", "l2"], "key=value1,value2"),
                        ([], "give the axes to sweep")]:
        result = cli.invoke(app, ["sweep", "coin", "--db", str(tmp_path / "m.db"), *args])
        assert result.exit_code == 2 and words in result.output, result.output
