"""A grid of traced knobs costs what one value costs: 128 PPO agents over 8 values of L2 (16
seeds each) against 128 agents at one value, each in one compiled program, same run.

Prints environment steps per second of both populations, their ratio, and how many programs
each compiled (1: the knob values are data, not shapes).

    python bench/knob_grid.py [--agents 128] [--values 8] [--updates 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from mesascope.agents.ppo import Hyper, PPOConfig, make_train  # noqa: E402
from mesascope.experiments.population import device_mesh, split_over_devices  # noqa: E402
from mesascope.worlds import registry  # noqa: E402


def population(agents: int, l2_values: np.ndarray) -> Hyper:
    """`agents` agents with their L2 strengths cycling through `l2_values` (blocks of seeds)."""
    l2 = np.repeat(l2_values, agents // len(l2_values))
    return Hyper.make(shift=np.zeros(agents), l2=l2, l1=np.zeros(agents))


def main() -> None:
    """Time both populations, interleaved, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=128)
    parser.add_argument("--values", type=int, default=8)
    parser.add_argument("--updates", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    world = registry.make("coin")
    config = PPOConfig()
    trainer = make_train(config, world)
    mesh = device_mesh(args.agents)
    keys = jax.random.split(jax.random.PRNGKey(0), args.agents)
    run = split_over_devices(jax.vmap(lambda r, h: trainer.run(r, h, args.updates)), mesh)
    init = split_over_devices(jax.vmap(trainer.init), mesh)
    grids = {"one L2 value": population(args.agents, np.zeros(1)),
             f"{args.values} L2 values": population(args.agents, np.concatenate([[0.0], np.logspace(-5, -2, args.values - 1)]))}
    runners = {name: init(keys, hyper) for name, hyper in grids.items()}
    for name, hyper in grids.items():
        jax.block_until_ready(run(runners[name], hyper))  # compile (once) and warm up
    timings: dict[str, list[float]] = {name: [] for name in grids}
    for _ in range(args.repeats):
        for name, hyper in grids.items():
            start = time.perf_counter()
            jax.block_until_ready(run(runners[name], hyper))
            timings[name].append(time.perf_counter() - start)
    steps = args.agents * args.updates * config.batch_size
    print(f"coin world, PPO {config.width}x{config.depth}, {args.agents} agents, {args.updates} updates, "
          f"{len(jax.devices())} host devices; programs compiled: {run._cache_size()}")
    base = float(np.median(timings["one L2 value"]))
    print(f"{'population':<24}{'env steps/s':>14}{'time ratio':>12}")
    for name, values in timings.items():
        median = float(np.median(values))
        print(f"{name:<24}{steps / median:>14,.0f}{median / base:>12.2f}")


if __name__ == "__main__":
    main()
