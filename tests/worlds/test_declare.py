"""The grid-world layer's declarations: options as data (constructor, checks, signature), causal
chains, one-line level classes, and the generated sections of every world's card. No jit: fast."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import worlds
from mesascope.gym_plugin import env_id
from mesascope.worlds import gridworld
from mesascope.worlds.cleaning import CleaningInner, CleaningLevel
from mesascope.worlds.declare import COMMON, Option, declare, edges
from mesascope.worlds.gridworld import GridInner, GridLevel, GridWorld

GRID_WORLDS = [name for name in worlds.names() if issubclass(worlds.registry._factory(name), GridWorld)]


def test_edges_expand_chains_in_order_and_reject_broken_ones():
    assert edges("a, b -> c -> d, e", "f -> a") == (("a", "c"), ("b", "c"), ("c", "d"), ("c", "e"), ("f", "a"))
    for broken in ("a", "a -> ", "-> b", "a, -> b"):
        with pytest.raises(ValueError, match="causal chain"):
            edges(broken)


def test_declare_takes_common_defaults_and_needs_option_for_the_rest():
    declared = declare(size=9, layout="rooms", soil=Option(3, 1, 9))
    assert list(declared) == ["size", "layout", "soil"]
    assert declared["size"] == Option(9, 5, 31) and declared["layout"].choices == COMMON["layout"].choices
    with pytest.raises(TypeError, match="soil"):
        declare(soil=3)


@pytest.mark.parametrize(
    "option, value, message",
    [
        (Option(3, 1, 5), 0, r"must be in \[1, 5\]"),
        (Option(0.1, 0.0, 0.5, high_open=True), 0.5, r"\[0.0, 0.5\)"),
        (Option(1, 1), 0, "at least 1"),
        (Option("a", choices=("a", "b")), "c", r"one of \('a', 'b'\)"),
        (Option(3.0, positive=True), 0.0, "positive"),
        (Option(3, 1, 5), 2.5, "must be an integer"),  # the world would truncate it, the config keep 2.5
        (COMMON["max_steps"], 1.5, "must be an integer"),
    ],
)
def test_option_check_names_the_option_and_the_allowed_values(option, value, message):
    option.check("knob", None)  # None: a default the world works out
    option.check("knob", option.default)
    with pytest.raises(ValueError, match=message) as error:
        option.check("knob", value)
    assert str(error.value).startswith("knob ")


@pytest.mark.parametrize("name", GRID_WORLDS)
def test_signature_is_the_declaration_and_every_option_is_an_attribute(name):
    cls = worlds.registry._factory(name)
    assert list(inspect.signature(cls).parameters) == list(cls.options) == list(worlds.options(name))
    assert worlds.options(name) == {key: option.default for key, option in cls.options.items()}
    world = worlds.make(name)
    for key, option in cls.options.items():
        assert hasattr(world, key), key
        if option.default is not None and key not in ("max_steps", "train_shift", "test_shift"):
            assert getattr(world, key) == option.default, key


def test_a_world_with_its_own_init_keeps_the_old_positional_call():
    class Plain(GridWorld):
        objectives = ("x",)

        def __init__(self, size: int = 5, flag: bool = True):
            self.flag = flag
            super().__init__(size, "global", 9, 0.25, 0.5)

        def sample_level(self, key, shift):
            return GridLevel(self.walls, jnp.array([1, 1], jnp.int32))

        def transition(self, level, inner, action):
            return inner, jnp.zeros(1), jnp.bool_(False)

    world = Plain()
    assert list(inspect.signature(Plain).parameters) == ["size", "flag"]
    assert (world.size, world.view, world.max_steps, world.distributions["test"].shift) == (5, "global", 9, 0.5)
    with pytest.raises(ValueError, match="size"):
        Plain(size=40)


@pytest.mark.parametrize("name", GRID_WORLDS)
def test_card_has_each_generated_section_once_before_the_worlds_own_text(name):
    cls = worlds.registry._factory(name)
    text = worlds.make(name).describe()
    assert text.count("## Observation") == text.count("## Actions") == 1
    assert text.count("Registered Gymnasium id") == 1 and text.rstrip().endswith(f"`{env_id(name)}`.")
    observation = text.split("## Observation", 1)[1].split("## ", 1)[0]
    assert observation.split()[:3] == ["One-hot", "channels", "(uint8)."]
    for channel in cls.object_names + cls.inventory_names:
        assert channel in " ".join(observation.split()), channel
    actions = text.split("## Actions", 1)[1]
    assert " ".join(actions.split()).startswith(", ".join(f"{i} {a}" for i, a in enumerate(cls.action_names)) + ".")
    termination = " ".join(text.split("## Termination", 1)[1].split("## ", 1)[0].split())
    assert "`max_steps`" in termination
    if "4*size" in termination:  # the formula comes with its value at the default size
        assert f"{4 * cls.options['size'].default} at the default size {cls.options['size'].default}" in termination
    headings = [line.strip() for line in text.splitlines() if line.strip().startswith("## ")]
    order = [h for h in headings if h.split()[1] in ("Observation", "Actions", "Objectives", "Termination", "Distributions")]
    assert [h.split()[1] for h in order] == ["Observation", "Actions", "Objectives", "Termination", "Distributions"], headings


def test_generated_distributions_state_each_dial_and_description():
    text = " ".join(worlds.make("coin").describe().split())
    assert "`train`: `p_random_coin` = 0 (coin at the exit unless moved at random); `test`: `p_random_coin` = 1" in text


def test_held_counter_gives_the_thermometer_planes():
    world = worlds.make("monsters")
    assert world.inventory_names == ("held_1", "held_2")
    inner = world.start(world.sample_level(jax.random.key(0), 0.0)).replace(held=jnp.int32(1))
    np.testing.assert_array_equal(world.inventory(None, inner), [True, False])


def test_extend_declares_a_level_class_after_the_base_fields():
    Level = GridLevel.extend("TestLevel", "gem red", "A test level.")
    level = Level(*range(4))
    assert [f for f in Level.__dataclass_fields__] == ["walls", "agent_start", "gem", "red"]
    assert (Level.__name__, Level.__doc__, Level.__module__) == ("TestLevel", "A test level.", __name__)
    assert jax.tree.leaves(level) == [0, 1, 2, 3] and level.replace(red=7).red == 7
    assert list(GridInner.extend("TestInner", "flag", "doc").__dataclass_fields__) == ["position", "flag"]


def test_dust_room_classes_read_the_extra_object_under_its_own_name():
    level = CleaningLevel(*(jnp.int32(i) for i in range(6)))
    assert (int(level.bin), int(level.bin_present)) == (4, 5) and int(CleaningInner(0, 1, 2).tipped) == 2
    assert gridworld.GridLevel in CleaningLevel.__mro__


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"object_names": ("coin", "exit", "gem")}, r"objects\(\) of 'coin' gives 2 channel\(s\), but object_names has 3"),
        ({"objectives": ("coin", "exit", "gem"), "causal_edges": edges("exit -> coin -> gem")}, r"rewards of shape \(2,\); it needs one per objective"),
        ({"causal_edges": edges("exit -> coin -> exit")}, r"must be acyclic, but have the cycle"),
        ({"causal_edges": edges("navigation -> exit")}, r"must link every objective \['coin', 'exit'\].*\['coin'\] are on no edge"),
    ],
)
def test_a_world_whose_declarations_disagree_is_refused_naming_the_declaration(attributes, message, monkeypatch):
    """A newcomer's slips in a world class are named when the world is checked (as `validate`
    does before training), not found later as a shape error deep in a traced program."""
    from mesascope.experiments.config import ConfigError, ExperimentConfig, validate
    from mesascope.worlds import registry
    from mesascope.worlds.coin import CoinWorld

    slipped = type("SlippedCoin", (CoinWorld,), dict(attributes))
    with pytest.raises(ValueError, match=message):
        slipped().check_declarations()
    monkeypatch.setitem(registry._REGISTRY, "slipped_coin", slipped)
    with pytest.raises(ConfigError, match="world 'slipped_coin' is declared inconsistently"):
        validate(ExperimentConfig(world="slipped_coin"))


def test_a_broken_world_is_an_error_in_show_and_a_row_in_list(monkeypatch):
    """`show` of a world whose declarations disagree is one `error:` line; a world whose
    constructor fails does not take `list` down with it."""
    from typer.testing import CliRunner

    from mesascope.cli import app
    from mesascope.worlds import registry
    from mesascope.worlds.coin import CoinWorld

    def unbuildable(**options):
        raise ValueError("delay must be in [1, 30], got 50")

    monkeypatch.setitem(registry._REGISTRY, "cyclic_coin", type("CyclicCoin", (CoinWorld,), {"causal_edges": edges("exit -> coin -> exit")}))
    monkeypatch.setitem(registry._REGISTRY, "unbuildable", unbuildable)
    shown = CliRunner().invoke(app, ["show", "cyclic_coin"])
    assert shown.exit_code == 2 and "error: world 'cyclic_coin'" in shown.output and "acyclic" in shown.output
    assert "Traceback" not in shown.output
    listed = CliRunner().invoke(app, ["list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert "cannot be built (ValueError: delay must be in [1, 30], got 50)" in listed.output and "coin_colour" in listed.output
