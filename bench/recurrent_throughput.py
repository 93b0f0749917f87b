"""Recurrent PPO (RL², GRU core) throughput beside the feed-forward trainer, in the same run.

Prints environment steps per second of population training (vmapped over agents, one host
device) on the hidden-goal world for the feed-forward trainer (the baseline) and for the
recurrent trainer with trials of 1 and 4 episodes, with ratios against the baseline. Settings
are timed round-robin so a change in the machine's load hits every setting alike.

    python bench/recurrent_throughput.py [--agents 8] [--updates 10]
"""

from __future__ import annotations

import argparse

import numpy as np

from mesascope.agents.ppo import PPOConfig, make_train
from mesascope.agents.recurrent import make_recurrent_train
from mesascope.worlds import registry
from ppo_throughput import trainer_runner  # bench/ is the script's folder, so on its path


def runner(trainer, agents: int, updates: int):
    """A compiled, warmed-up `updates`-update population step on one device, as a function
    returning its seconds (bench/ppo_throughput.py's, at p_random_coin = 1/3)."""
    return trainer_runner(trainer, agents, updates, devices=1, shift=1 / 3)


def main() -> None:
    """Time every setting and print steps/s and the ratio to the feed-forward trainer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    world = registry.make("hidden_goal")
    config = PPOConfig(num_envs=32, num_steps=64, minibatches=4, epochs=4)
    settings = {
        "feed-forward (baseline)": runner(make_train(config, world), args.agents, args.updates),
        "recurrent, trials of 1 episode": runner(make_recurrent_train(config, world, trial_episodes=1), args.agents, args.updates),
        "recurrent, trials of 4 episodes": runner(make_recurrent_train(config, world, trial_episodes=4), args.agents, args.updates),
    }
    timings: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(args.repeats):
        for name, once in settings.items():
            timings[name].append(once())
    steps = args.agents * args.updates * config.batch_size
    rates = {name: steps / float(np.median(values)) for name, values in timings.items()}
    base = rates["feed-forward (baseline)"]
    print(f"hidden_goal, {args.agents} agents vmapped, {config.num_envs} envs x {config.num_steps} steps, width {config.width}")
    for name, rate in rates.items():
        print(f"{name:34s} {rate / 1e3:8.1f}k env steps/s   ratio {rate / base:.2f}")


if __name__ == "__main__":
    main()
