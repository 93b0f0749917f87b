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
        ("world_options.size=3", ["world_options.size must be in [5, 31]", "got 3"]),  # the world's range, not the shared [3, 255]
        ("world_options.size=2", ["world_options.size must be in [5, 31]", "got 2"]),
        ("world_options.bank_size=100000", ["world_options.bank_size must be in [1, 65536]"]),  # the shared cap narrows the world's
        ("ppo.epochs=many", ["ppo.epochs must be an integer"]),
        ("seeds=0", ["seeds must be in [1, 4096]"]),
        ("eval.distributions=train,elsewhere", ["unknown distribution 'elsewhere'", "test"]),
        ("ppo.minibatches=3", ["ppo.minibatches must divide"]),
        ("thresholds.min_support=2", ["thresholds.min_support", "[0, 1]"]),
        ("no-equals-sign", ["key=value"]),
        ("level_mix=random", ["level_mix must be one of", "['none', 'test', 'adversarial']", "'random'"]),
        ("adversarial_pool=0", ["adversarial_pool must be in [1, 65536]", "got 0"]),
        ("adversarial_bank=600", ["adversarial_bank must be in [1, adversarial_pool] = [1, 512]", "600"]),
        ("knob_grid.ppo.width=8,16", ["knob_grid keys are the traced knobs", "'l2'", "--grid"]),
        ("knob_grid.l2=", ["knob_grid.l2 needs at least one value"]),
        ("knob_grid.l2=0,0", ["knob_grid.l2 values repeat"]),
        ("knob_grid.l2=0,-1", ["knob_grid.l2 must be in [0, 1000]", "-1"]),
        ("knob_grid.ppo.learning_rate=0,0.1", ["knob_grid.ppo.learning_rate must be in (0, 1]"]),
        ("knob_grid.l1=0,nan", ["knob_grid.l1", "finite"]),
        ("knob_grid.l1=a,b", ["knob_grid.l1 must be a number"]),
        ("time_penalty=0.1", ["time_penalty", "ppo.halting=true"]),
        ("channel_penalty=0.1", ["channel_penalty needs penalised_channel"]),
        ("penalised_channel=smell", ["penalised_channel must be one of", "'smell'"]),
    ],
)
def test_bad_overrides_name_the_field_and_allowed_values(assignment, words):
    with pytest.raises(C.ConfigError) as error:
        C.apply_overrides(C.ExperimentConfig(), [assignment])
    for word in words:
        assert word in str(error.value)


def test_config_round_trips_through_plain_data():
    cfg = C.apply_overrides(presets.get("coin-demo"), ["train_shifts=0,0.1", "eval.distributions=test", "knob_grid.l2=0,1e-3,1e-2"])
    assert C.from_dict(cfg.to_dict()) == cfg


def test_a_knob_grid_multiplies_the_population_and_lays_agents_out_in_cells():
    from mesascope.experiments import population

    cfg = C.apply_overrides(C.ExperimentConfig(), ["train_shifts=0,0.5", "seeds=2", "knob_grid.l2=0,0.1,1", "knob_grid.ppo.entropy_coef=0,0.05"])
    assert cfg.num_agents == 2 * 3 * 2 * 2
    knobs = population.agent_knobs(cfg)
    cells = list(zip(knobs["train_shift"], knobs["l2"], knobs["ppo.entropy_coef"]))
    assert cells[:4] == [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.05), (0.0, 0.0, 0.05)]
    assert len(set(cells)) == 12 and all(cells.count(c) == 2 for c in set(cells))
    seeds, shifts = population.agent_layout(cfg)
    assert list(seeds[:4]) == [0, 1, 0, 1] and list(shifts) == list(knobs["train_shift"])
    hyper = population.population_hyper(cfg)
    assert hyper.entropy_coef.shape == (24,) and hyper.learning_rate is None and hyper.time_penalty is None
    default = population.population_hyper(C.ExperimentConfig())
    assert default.entropy_coef is None and default.learning_rate is None  # the default program is unchanged


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


def test_sweep_presets_are_valid_before_and_after_their_axes():
    """A study preset's base and every experiment of its grid validate (corner-biases once
    failed here: its base kept the coin world's shift 0, outside corner_size's range)."""
    from mesascope.experiments.sweep import Grid

    for name, (base, axes) in presets.GRID_PRESETS.items():
        C.validate(base)
        assert Grid(base, axes).configs(), name


def test_documented_presets_and_studies_keep_the_schedule_their_numbers_were_measured_with():
    """The default update schedule changed on 2026-12-02; every preset, grid preset and study
    whose results the docs quote still trains with the old one, and an ad hoc run does not."""
    from mesascope.agents.ppo import DEFAULTS_UNTIL_2026_12_02, PPOConfig
    from mesascope.experiments.compare import CompareConfig
    from mesascope.experiments.goodhart import GoodhartConfig
    from mesascope.worlds import registry

    def schedule(ppo: PPOConfig) -> dict:
        return {name: getattr(ppo, name) for name in DEFAULTS_UNTIL_2026_12_02}

    pinned = [config.ppo for config in presets.PRESETS.values()] + [base.ppo for base, _ in presets.GRID_PRESETS.values()]
    pinned += [GoodhartConfig().ppo, CompareConfig(world="tamper", agents=()).base(registry.make("tamper")).ppo]
    assert all(schedule(ppo) == DEFAULTS_UNTIL_2026_12_02 for ppo in pinned)
    assert schedule(presets.world_default("corner").ppo) == schedule(PPOConfig()) != DEFAULTS_UNTIL_2026_12_02


def test_with_a_level_mix_train_shifts_are_shares_in_0_1():
    mixed = C.apply_overrides(C.ExperimentConfig(), ["level_mix=adversarial", "train_shifts=0,0.02,1"])
    assert mixed.level_mix == "adversarial" and mixed.train_shifts == (0.0, 0.02, 1.0)
    with pytest.raises(C.ConfigError) as error:
        C.apply_overrides(C.ExperimentConfig(), ["level_mix=test", "train_shifts=0,1.5"])
    for word in ("train_shifts", "level_mix='test'", "q_test", "[0.0, 1.0]", "1.5"):
        assert word in str(error.value)
    # the corner world's own dial is a side in [1, 5]; q in [0, 1] is what a mix takes
    with pytest.raises(C.ConfigError, match="corner_size must be in"):
        C.apply_overrides(C.ExperimentConfig(world="corner"), ["train_shifts=0,0.1"])
    assert C.apply_overrides(C.ExperimentConfig(world="corner"), ["level_mix=test", "train_shifts=0,0.1"]).train_shifts == (0.0, 0.1)


def test_level_mix_settings_round_trip_and_change_the_run_id():
    from mesascope.store.db import run_id_for

    plain = C.ExperimentConfig()
    mixed = C.apply_overrides(plain, ["level_mix=adversarial", "adversarial_pool=256", "adversarial_bank=16"])
    assert C.from_dict(mixed.to_dict()) == mixed
    legacy = {k: v for k, v in plain.to_dict().items() if k not in ("level_mix", "adversarial_pool", "adversarial_bank")}
    assert C.from_dict(legacy) == plain  # configs stored before level mixing read back unmixed
    ids = {run_id_for(c.to_dict(), "v") for c in (plain, mixed, C.apply_overrides(mixed, ["adversarial_bank=8"]))}
    assert len(ids) == 3
    assert {"level_mix", "adversarial_pool", "adversarial_bank"} <= set(C.allowed_keys())


def test_reward_weights_are_validated_and_round_trip():
    config = C.apply_overrides(C.ExperimentConfig(world="detour"), ["reward_weights=0,1"])
    assert config.reward_weights == (0.0, 1.0)
    assert C.from_dict(config.to_dict()) == config
    for bad in ("reward_weights=1", "reward_weights=0,0"):
        with pytest.raises(C.ConfigError, match=r"reward_weights needs one finite weight per objective \['deliver', 'points'\]"):
            C.apply_overrides(C.ExperimentConfig(world="detour"), [bad])
    with pytest.raises(C.ConfigError, match="reward_weights must be a finite number, got nan"):
        C.apply_overrides(C.ExperimentConfig(world="detour"), ["reward_weights=1,nan"])


def test_evaluation_levels_follow_their_own_seed_when_one_is_given():
    """eval.level_seed draws the shared evaluation levels afresh (for re-diagnosis on another
    draw); its default (-1) keeps the experiment seed's levels, so earlier runs evaluate as before."""
    import numpy as np

    from mesascope import worlds
    from mesascope.experiments.evaluate import evaluation_levels

    world = worlds.make("coin")
    base = C.apply_overrides(C.ExperimentConfig(), ["eval.episodes=8"])
    levels = lambda config: np.asarray(evaluation_levels(world, config, "test")[0].coin)  # noqa: E731
    same = C.apply_overrides(base, ["eval.level_seed=0"])  # seed 0 is the default experiment seed
    other = C.apply_overrides(base, ["eval.level_seed=5"])
    reseeded = C.apply_overrides(base, ["seed=5"])
    np.testing.assert_array_equal(levels(base), levels(same))
    np.testing.assert_array_equal(levels(other), levels(reseeded))
    assert not np.array_equal(levels(base), levels(other))
    with pytest.raises(C.ConfigError, match="eval.level_seed"):
        C.apply_overrides(base, ["eval.level_seed=-2"])
