"""Identifiability on cases with known answers: the coin world's train and test distributions."""

import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.diagnose import identify
from mesascope.worlds import registry

CONFIG = identify.IdentifyConfig(levels=12)


@pytest.fixture(scope="module")
def coin():
    return registry.make("coin")


def test_training_distribution_cannot_tell_coin_from_exit(coin):
    result = identify.analyse(coin, "train", CONFIG)
    assert np.all(result.disjoint == 0.0)  # the coin lies on the exit: same optimal actions
    assert np.all(result.timing == 0.0)  # and the rewards arrive on the same step


def test_test_distribution_separates_them_by_behaviour_and_timing(coin):
    result = identify.analyse(coin, "test", CONFIG)
    assert np.all(np.diag(result.disjoint) == 0.0)  # an objective never disagrees with itself
    assert result.disjoint[0, 1] == result.disjoint[1, 0] > 0.2
    # Almost every moved coin separates them (not where the coin blocks the only way to the exit).
    assert np.mean(result.disjoint_per_level[:, 0, 1] > 0) > 0.8
    assert result.timing[0, 1] == 1.0  # along the coin-optimal path the exit never pays


def test_probe_finds_one_object_moves_that_separate(coin):
    probes = identify.probe(coin, 0, 1, 1.0, CONFIG, top=3)
    assert len(probes) == 3
    assert all(p.changed_cells == 2 for p in probes)  # the coin left the exit and lies elsewhere
    assert probes[0].llr >= probes[1].llr >= probes[2].llr > 0  # ranked by the evidence per step
    assert all(p.differ >= p.disjoint > 0.2 for p in probes)


def test_unknown_distribution_is_rejected(coin):
    with pytest.raises(ValueError, match="allowed"):
        identify.analyse(coin, "elsewhere", CONFIG)


def test_identify_command_prints_tables_and_saves_matrices(tmp_path):
    result = CliRunner().invoke(app, ["identify", "coin", "--levels", "8", "--png", str(tmp_path / "m.png")])
    assert result.exit_code == 0, result.output
    assert "coin / exit" in result.output and "probe" in result.output
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    too_many = CliRunner().invoke(app, ["identify", "coin", "--levels", "99999999999"])  # was an out-of-memory traceback
    assert too_many.exit_code == 2 and "65536" in too_many.output and "Traceback" not in too_many.output


def test_lamp_objectives_differ_only_in_reward_timing_during_training():
    lamp = registry.make("lamp")
    train = identify.analyse(lamp, "train", CONFIG)
    assert train.disjoint[0, 1] == 0.0  # behaviour cannot tell pressing from lighting
    assert train.timing[0, 1] == 1.0  # the button pays `delay` steps before the lamp
    test = identify.analyse(lamp, "test", CONFIG)
    assert test.disjoint[0, 1] > 0.05  # with the button dead, the two planners part ways
