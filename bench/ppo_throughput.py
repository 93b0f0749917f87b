"""PPO throughput and time-to-competence on the coin world.

Prints environment steps per second of population training (vmapped over agents, with the
population on one host device and split over two), for today's actor-critic (one matrix product
for both first layers) and for the baseline that calls the two MLPs apart (the trainer before
2026-11-30), with ratios against that baseline measured in the same run; and how long a
population takes to reach 90% of the optimal intended return on the training distribution.

    python bench/ppo_throughput.py [--agents 16] [--updates 30] [--view egocentric]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from mesascope.agents.networks import ActorCritic, flatten_observation  # noqa: E402
from mesascope.agents.ppo import Hyper, PPOConfig, make_train, policy_logits  # noqa: E402
from mesascope.diagnose import returns, rollout  # noqa: E402
from mesascope.experiments.population import device_mesh, split_over_devices  # noqa: E402
from mesascope.worlds import registry  # noqa: E402


class SeparateActorCritic(ActorCritic):
    """The baseline: the same parameters and function, the two MLPs called one after the other."""

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = flatten_observation(obs)
        return self.actor(x), self.critic(x)[..., 0]


def population_runner(world, config: PPOConfig, agents: int, updates: int, devices: int, network: nn.Module | None = None):
    """A compiled, warmed-up `updates`-update step of a population on `devices` host devices,
    as a function that runs it once and returns its seconds."""
    return trainer_runner(make_train(config, world, network=network), agents, updates, devices)


def trainer_runner(trainer, agents: int, updates: int, devices: int, shift: float = 0.0):
    """`population_runner` for any trainer (PPO's interface: init, run) at one shift value."""
    keys = jax.random.split(jax.random.PRNGKey(0), agents)
    hyper = Hyper(shift=jnp.full(agents, shift, jnp.float32), l2=jnp.zeros(agents), l1=jnp.zeros(agents))
    mesh = device_mesh(agents, devices)
    state = {"runner": split_over_devices(jax.vmap(trainer.init), mesh)(keys, hyper)}
    run = split_over_devices(jax.vmap(lambda r, h: trainer.run(r, h, updates)), mesh)
    state["runner"], _ = run(state["runner"], hyper)  # compile and warm up
    jax.block_until_ready(state["runner"])

    def once() -> float:
        start = time.perf_counter()
        state["runner"], _ = run(state["runner"], hyper)
        jax.block_until_ready(state["runner"])
        return time.perf_counter() - start

    return once


def steps_per_second(settings: dict, agents: int, updates: int, batch: int, repeats: int = 3) -> dict[str, float]:
    """Environment steps per second of every setting (name -> runner), timed round-robin so
    that a change in the machine's load hits every setting alike; median of `repeats`."""
    timings: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(repeats):
        for name, once in settings.items():
            timings[name].append(once())
    return {name: agents * updates * batch / float(np.median(values)) for name, values in timings.items()}


def time_to_competence(world, config: PPOConfig, agents: int, target: float = 0.9, chunk: int = 10, budget: int = 1_000_000):
    """Seconds and steps until the population's mean normalised intended return on fresh
    training levels (greedy-free, sampled actions) reaches `target`; None if not within budget."""
    trainer = make_train(config, world)
    keys = jax.random.split(jax.random.PRNGKey(1), agents)
    hyper = Hyper(shift=jnp.zeros(agents), l2=jnp.zeros(agents), l1=jnp.zeros(agents))
    levels = world.sample_levels(jax.random.PRNGKey(7), world.distributions["train"].shift, 128)
    optimal, random = returns.level_baselines(world, levels)

    def evaluate(params):
        policy = rollout.sampled(policy_logits(trainer.network, params))
        return rollout.rollout(world, policy, levels, jax.random.PRNGKey(3)).objective_returns

    evaluate_all = jax.jit(jax.vmap(evaluate))
    run = jax.jit(jax.vmap(lambda r, h: trainer.run(r, h, chunk)))
    runner = jax.jit(jax.vmap(trainer.init))(keys, hyper)
    jax.block_until_ready(run(runner, hyper))  # compile outside the clock
    jax.block_until_ready(evaluate_all(runner.params))
    elapsed, steps = 0.0, 0
    while steps < budget:
        start = time.perf_counter()
        runner, _ = run(runner, hyper)
        jax.block_until_ready(runner)
        elapsed += time.perf_counter() - start
        steps += chunk * config.batch_size
        score = np.nanmean(returns.normalised(np.asarray(evaluate_all(runner.params)), optimal[None], random[None])[..., 0])
        if score >= target:
            return elapsed, steps, score
    return None, steps, score


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--view", default="egocentric", choices=("egocentric", "global"))
    parser.add_argument("--skip-competence", action="store_true")
    args = parser.parse_args()
    world = registry.make("coin", view=args.view)
    config = PPOConfig()
    print(f"coin world 9x9 ({args.view} view), MLP {config.width}x{config.depth}, {args.agents} agents, "
          f"batch {config.batch_size}/agent/update; jax {jax.__version__}, {len(jax.devices())} host devices")
    baseline = SeparateActorCritic(world.num_actions, config.width, config.depth)
    settings = {
        "baseline (MLPs apart), 1 device": population_runner(world, config, args.agents, args.updates, 1, baseline),
        "baseline (MLPs apart), 2 devices": population_runner(world, config, args.agents, args.updates, 2, baseline),
        "fused first layer, 1 device": population_runner(world, config, args.agents, args.updates, 1),
        "fused first layer, 2 devices": population_runner(world, config, args.agents, args.updates, 2),
    }
    rates = steps_per_second(settings, args.agents, args.updates, config.batch_size)
    base = rates["baseline (MLPs apart), 1 device"]
    print(f"{'setting':<36}{'env steps/s':>14}{'ratio':>8}")
    for name, rate in rates.items():
        print(f"{name:<36}{rate:>14,.0f}{rate / base:>8.2f}")
    if not args.skip_competence:
        seconds, steps, score = time_to_competence(world, config, args.agents)
        if seconds is None:
            print(f"90% of optimal intended return on train: not reached in {steps:,} steps per agent (score {score:.2f})")
        else:
            print(f"90% of optimal intended return on train: {steps:,} steps per agent, {seconds:.1f} s "
                  f"for {args.agents} agents on 1 device (score {score:.2f})")


if __name__ == "__main__":
    main()
