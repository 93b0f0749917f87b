"""Named experiments a user can run with `mesascope run PRESET`."""

from __future__ import annotations

import dataclasses

from mesascope.agents.ppo import DEFAULTS_UNTIL_2026_12_02, PPOConfig
from mesascope.experiments.config import EvalConfig, ExperimentConfig

DOSE_LADDER = (0.0, 0.05, 0.1, 0.2, 0.3)
"""Shares q of mixed-in levels for the adversarial-training study. A first ladder of 0 to 0.1
aligned at most 1 of 8 agents with either pool (docs/diagnostics.md), so this one reaches 0.3,
where plain random shift aligns every agent of the demo."""


def _coin_mix(name: str, level_mix: str) -> ExperimentConfig:
    """The coin-demo budget on the coin world, trained at the dose ladder of `level_mix`."""
    return ExperimentConfig(
        name=name,
        world="coin",
        train_shifts=DOSE_LADDER,
        level_mix=level_mix,
        seeds=8,
        ppo=PPOConfig(total_steps=250_000, **DEFAULTS_UNTIL_2026_12_02),
        eval=EvalConfig(episodes=96, bootstrap=300, gifs=2),
    )


PRESETS: dict[str, ExperimentConfig] = {
    "coin-demo": ExperimentConfig(
        name="coin-demo",
        world="coin",
        train_shifts=(0.0, 0.3),
        seeds=8,
        ppo=PPOConfig(total_steps=250_000, **DEFAULTS_UNTIL_2026_12_02),
        eval=EvalConfig(episodes=96, bootstrap=300, gifs=2),
    ),
    "coin": ExperimentConfig(
        name="coin",
        world="coin",
        train_shifts=(0.0, 0.05, 0.1, 0.2, 0.3),
        seeds=8,
        ppo=PPOConfig(total_steps=400_000, **DEFAULTS_UNTIL_2026_12_02),
    ),
    "coin-adversarial": _coin_mix("coin-adversarial", "adversarial"),
    "coin-test-mix": _coin_mix("coin-test-mix", "test"),
    # The seed's point of "Are minimal circuits deceptive?" (docs/meta_learning.md): sized for one
    # GPU in about 100 s (1.5M steps, 128 environments per agent so an update carries more of
    # them); `--agent ppo` is its memoryless control.
    "meta-seed": ExperimentConfig(
        name="meta-seed",
        world="hidden_goal",
        world_options={"rigged_sensor": True},
        train_shifts=(0.0,),
        reward_weights=(0.0, 0.0, 1.0),
        agent="recurrent",
        trial_episodes=4,
        seeds=16,
        ppo=PPOConfig(total_steps=1_500_000, num_envs=128, gamma=0.97, **DEFAULTS_UNTIL_2026_12_02),
        eval=EvalConfig(episodes=128, bootstrap=300, gifs=0, checkpoints=1, influence_levels=0, identify_levels=0),
    ),
}
"""Preset name -> experiment config. `coin-demo` is sized to finish in minutes on 2 cores."""

DESCRIPTIONS: dict[str, str] = {
    "coin-demo": "Goal misgeneralization in the coin world: 8 agents trained with the coin always at the exit, 8 with it moved on 30% of levels.",
    "coin": "Dose-response over the coin world's shift dial (5 values x 8 seeds).",
    "coin-adversarial": (
        "Adversarial training in the coin world: a share q (0 to 0.1) of training levels drawn from a bank of the 32 test levels "
        "that separate coin from exit most; 8 seeds per q, the coin-demo budget. Compare with coin-test-mix."
    ),
    "coin-test-mix": (
        "The control for coin-adversarial: the same shares q of training levels drawn fresh from the test distribution "
        "(plain random shift, q = p_random_coin); 8 seeds per q, the coin-demo budget."
    ),
    "meta-seed": (
        "A task on which in-context search finds the bad object: hidden goal with a reward sensor wired to the paying object in "
        "training and to red (never paying) on held-out levels; 16 recurrent agents trained on the sensor in trials of 4 episodes. "
        "`mesascope meta RUN` gives C (proxy_on_heldout) on the held-out levels; `--agent ppo` is the memoryless control."
    ),
}


def _study(name: str, world: str, train_shifts: tuple[float, ...] = (0.0,), **ppo: object) -> ExperimentConfig:
    """The base of a bias study: the coin-demo budget, 16 seeds per cell; `train_shifts` is a
    valid value of the world's dial (the grid's train_shift axis replaces it). Verdicts are stored at
    each of the 4 checkpoints (eval.trajectory) for the verdicts-along-training tables."""
    return ExperimentConfig(name=name, world=world, train_shifts=train_shifts, seeds=16, ppo=PPOConfig(**{"total_steps": 250_000, **DEFAULTS_UNTIL_2026_12_02, **ppo}),
                            eval=EvalConfig(episodes=64, bootstrap=300, gifs=0, checkpoints=4, influence_levels=0, identify_levels=32,
                                            trajectory=True))


GRID_PRESETS: dict[str, tuple[ExperimentConfig, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "coin-biases": (_study("coin-biases", "coin"),
                    (("train_shift", ("0.05", "0.1")), ("l2", ("0", "0.001", "0.01")), ("ppo.width", ("16", "64")))),
    "coin-speed": (_study("coin-speed", "coin", thinking_steps=4, halting=True),
                   (("train_shift", ("0.05", "0.1")), ("time_penalty", ("0", "0.01", "0.1")))),
    "corner-biases": (_study("corner-biases", "corner", train_shifts=(1.0,)),
                      (("train_shift", ("1", "2")), ("l2", ("0", "0.001", "0.01")), ("ppo.width", ("16", "64")))),
}
"""Sweep presets (`mesascope sweep NAME`): a base experiment and its grid axes. The bias studies
of docs/biases.md: simplicity (L2, width) and speed (a time penalty on thinking iterations with a
halting head) at training shifts where the coin world's agents are neither all aligned nor all
proxy-aligned (docs/diagnostics.md); 16 seeds per cell."""


def names() -> list[str]:
    """Preset names, sorted."""
    return sorted(PRESETS)


def get(name: str) -> ExperimentConfig:
    """The preset `name`, or a ValueError listing the presets (a world name runs its default)."""
    if name in PRESETS:
        return PRESETS[name]
    if name in GRID_PRESETS:
        return GRID_PRESETS[name][0]
    from mesascope.worlds import registry

    if registry.is_known(name):
        return world_default(name)
    raise ValueError(f"unknown preset {name!r}; presets: {names()}; sweep presets: {sorted(GRID_PRESETS)}; or a world name: {registry.names()}")


def world_default(world: str) -> ExperimentConfig:
    """A world's default experiment: 8 agents at its training shift, the default PPO budget."""
    from mesascope.worlds import registry

    world = registry.canonical(world)
    train_shift = registry.make(world).distributions["train"].shift
    name = world.replace(":", "-").replace(",", "+")  # run names stay plain words
    return dataclasses.replace(ExperimentConfig(), name=name, world=world, train_shifts=(train_shift,))
