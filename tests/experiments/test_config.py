"""Configuration: overrides, validation errors that name the field, and round trips."""

import pytest

from mesascope.experiments import config as C
from mesascope.experiments import presets


def test_overrides_apply_to_nested_and_world_fields():
    cfg = C.apply_overrides(C.ExperimentConfig(), ["ppo.total_steps=100_000", "train_shifts=0,0.2,0.5", "world_options.size=11", "thresholds.min_support=0.8", "eval.greedy=true"])
    assert cfg.ppo.total_steps == 100_000
    assert cfg.train_shifts == (0.0, 0.2, 0.5)
    assert cfg.world_options == {"size": 11}
    assert cfg.thresholds.min_support == 0.8
    assert cfg.eval.greedy is True
    assert cfg.num_agents == 3 * cfg.seeds


@pytest.mark.parametrize(
    "assignment, words",
    [
        ("nonsense=1", ["unknown config key 'nonsense'", "ppo.total_steps"]),
        ("ppo.nonsense=1", ["unknown config key 'ppo.nonsense'", "ppo.epochs"]),
        ("train_shifts=1.5", ["p_random_coin", "[0.0, 1.0]", "1.5"]),
        ("world_options.colour=red", ["unknown option 'colour'", "layout"]),
        ("world_options.layout=spiral", ["layout must be one of", "maze"]),
        ("ppo.epochs=many", ["ppo.epochs must be an integer"]),
        ("seeds=0", ["seeds must be in [1, 4096]"]),
        ("eval.distributions=train,elsewhere", ["unknown distribution 'elsewhere'", "test"]),
        ("ppo.minibatches=3", ["ppo.minibatches must divide"]),
        ("thresholds.min_support=2", ["thresholds.min_support", "[0, 1]"]),
        ("no-equals-sign", ["key=value"]),
    ],
)
def test_bad_overrides_name_the_field_and_allowed_values(assignment, words):
    with pytest.raises(C.ConfigError) as error:
        C.apply_overrides(C.ExperimentConfig(), [assignment])
    for word in words:
        assert word in str(error.value)


def test_config_round_trips_through_plain_data():
    cfg = C.apply_overrides(presets.get("coin-demo"), ["train_shifts=0,0.1", "eval.distributions=test"])
    assert C.from_dict(cfg.to_dict()) == cfg


def test_every_field_is_documented():
    for cls in (C.ExperimentConfig, C.EvalConfig, C.PPOConfig):
        docs = C.field_docs(cls)
        missing = [f for f in cls.__dataclass_fields__ if f not in docs]
        assert not missing, f"{cls.__name__} fields without a docstring: {missing}"


def test_presets_are_valid_and_unknown_names_are_listed():
    for name in presets.names():
        C.validate(presets.get(name))
    assert presets.get("coin").world == "coin"
    with pytest.raises(ValueError, match="coin-demo"):
        presets.get("nope")
