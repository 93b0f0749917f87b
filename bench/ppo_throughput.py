"""PPO throughput and time-to-competence on the coin world (or another, `--world`).

Prints environment steps per second of population training (vmapped over agents, with the
population on one host device and split over two) for today's trainer and its options, with
ratios against the trainer as it was when issue 12 was filed (`bench/legacy_ppo.py`, loaded
from git; `--baseline` names other commits, the first is the one ratios are taken against)
measured in the same run, timed round-robin; and, for each trainer, how many environment steps
(and seconds) a population takes to reach 90% of the optimal intended return on training levels.

    python bench/ppo_throughput.py [--world coin] [--agents 16] [--updates 10] [--clock wall|cpu] [--epochs 1 2] [--ranks 8 16] [--schedules 1x16 2x8@1e-3]

Every population trains at its world's training shift. Steps to competence count an agent
competent from the first check at which its mean normalised intended return (objective 0) on
the 128 fixed training levels reaches 0.9; the run prints, per trainer, the median of those
steps with a bootstrap interval and how many agents got there within the budget.

`--dense` also measures today's trainer without the lookup of one-hot object channels in the
first layer (`ppo.object_lookup=false`), the trainer's default until 2026-12-02.
`--thinking-steps K` also measures it with a thinking actor of K iterations (and, with
`--dense`, that actor without the lookup).

`--ranks` also measures a model that is not in the library: actor and critic each read the grid
through a rank-r projection (507 -> r, no bias) under their usual MLPs, which cuts the first
layer's arithmetic about 64/r-fold (`LowRankActorCritic` below).

`--schedules` measures today's trainer with other update schedules, EPOCHSxMINIBATCHES[@LR]: the
arithmetic of an update is proportional to the epochs, the number of Adam steps to their product.

`--clock cpu` times the CPU seconds of this process (all threads) instead of the wall clock: on
a machine shared with other jobs it still compares the arithmetic of the settings, but not the
gain of splitting the population over two devices.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from legacy_ppo import ISSUE_COMMIT, LEGACY_COMMIT, has_trainer, legacy_make_train  # noqa: E402
from mesascope.agents.networks import MLP, flatten_observation  # noqa: E402
from mesascope.agents.ppo import Hyper, PPOConfig, make_train, policy_logits  # noqa: E402
from mesascope.diagnose import returns, rollout  # noqa: E402
from mesascope.experiments.population import device_mesh, split_over_devices  # noqa: E402
from mesascope.worlds import registry  # noqa: E402


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


class LowRankActorCritic(nn.Module):
    """The default actor-critic with a rank-`rank` first layer: each of actor and critic projects
    the flattened grid to `rank` features (one product for both) and its MLP reads those."""

    num_actions: int
    rank: int
    width: int = 64
    depth: int = 2

    def setup(self) -> None:
        """The shared projection (2·rank outputs, no bias) and the two MLPs."""
        self.project = nn.Dense(2 * self.rank, use_bias=False, kernel_init=nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal"))
        self.actor = MLP(self.width, self.depth, self.num_actions, head_scale=0.01)
        self.critic = MLP(self.width, self.depth, 1, head_scale=1.0)

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(logits, value)."""
        features = self.project(flatten_observation(obs))
        return self.actor(features[..., : self.rank]), self.critic(features[..., self.rank :])[..., 0]

    def with_compute(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(logits, value, 0 thinking iterations)."""
        logits, value = self(obs)
        return logits, value, jnp.zeros(value.shape, jnp.float32)


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
        start = clock()
        state["runner"], _ = run(state["runner"], hyper)
        jax.block_until_ready(state["runner"])
        return clock() - start

    return once


def steps_per_second(settings: dict, agents: int, updates: int, batch: int, repeats: int = 3) -> dict[str, float]:
    """Environment steps per second of every setting (name -> runner), timed round-robin so
    that a change in the machine's load hits every setting alike; median of `repeats`."""
    timings: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(repeats):
        for name, once in settings.items():
            timings[name].append(once())
    return {name: agents * updates * batch / float(np.median(values)) for name, values in timings.items()}


def time_to_competence(trainer, world, agents: int, target: float = 0.9, chunk: int = 4, seed: int = 1) -> dict:
    """Steps to competence of a population trained for the config's whole budget: the first
    update (checked every `chunk` updates) at which the population's mean normalised intended
    return on 128 fixed training levels (sampled actions) reaches `target`, the seconds of
    training until then, and each agent's own first crossing (inf where it never crossed)."""
    config = trainer.config
    keys = jax.random.split(jax.random.PRNGKey(seed), agents)
    train_shift = world.distributions["train"].shift
    hyper = Hyper(shift=jnp.full(agents, train_shift, jnp.float32), l2=jnp.zeros(agents), l1=jnp.zeros(agents))
    levels = world.sample_levels(jax.random.PRNGKey(7), train_shift, 128)
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
    population_steps, population_seconds = float("inf"), float("nan")
    per_agent = np.full(agents, np.inf)
    while steps + chunk * config.batch_size <= config.total_steps:
        start = clock()
        runner, _ = run(runner, hyper)
        jax.block_until_ready(runner)
        elapsed += clock() - start
        steps += chunk * config.batch_size
        scores = np.nanmean(returns.normalised(np.asarray(evaluate_all(runner.params)), optimal[None], random[None])[..., 0], axis=1)
        per_agent = np.where(np.isinf(per_agent) & (scores >= target), steps, per_agent)
        if np.isinf(population_steps) and scores.mean() >= target:
            population_steps, population_seconds = steps, elapsed
    return {"population_steps": population_steps, "seconds": population_seconds, "per_agent": per_agent}


def median_interval(values: np.ndarray, resamples: int = 2000) -> tuple[float, float, float]:
    """Median of `values` (inf allowed: an agent that never got there) with a 95% percentile-
    bootstrap interval. An end that interpolation would make inf - inf (nan) is read without
    interpolation, so it says inf: past the budget."""
    rng = np.random.default_rng(0)
    medians = np.median(rng.choice(values, (resamples, len(values))), axis=1)

    def percentile(q: float) -> float:
        with np.errstate(invalid="ignore"):
            linear = float(np.percentile(medians, q))
        return float(np.percentile(medians, q, method="inverted_cdf")) if np.isnan(linear) else linear

    return float(np.median(values)), percentile(2.5), percentile(97.5)


def parse_schedule(text: str, config: PPOConfig, parser: argparse.ArgumentParser) -> PPOConfig:
    """`config` with the update schedule `EPOCHSxMINIBATCHES[@LR]` (e.g. `1x16`, `2x8@1e-3`)."""
    match = re.fullmatch(r"(\d+)x(\d+)(?:@([0-9.eE+-]+))?", text)
    if match is None:
        parser.error(f"--schedules: {text!r} is not EPOCHSxMINIBATCHES[@LR], e.g. 1x16 or 2x8@1e-3")
    epochs, minibatches = int(match[1]), int(match[2])
    learning_rate = float(match[3]) if match[3] else config.learning_rate
    if epochs < 1 or minibatches < 1 or config.batch_size % minibatches or not 0 < learning_rate < 1:
        parser.error(f"--schedules: {text!r} needs epochs >= 1, minibatches dividing {config.batch_size} and 0 < LR < 1")
    return replace(config, epochs=epochs, minibatches=minibatches, learning_rate=learning_rate)


def main() -> None:
    """Run the benchmark and print a table."""
    global clock
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="coin", help="the world to train on (its default options, its training shift)")
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", default="wall", choices=tuple(CLOCK))
    parser.add_argument("--skip-competence", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--epochs", type=int, nargs="*", default=[], help="also measure today's trainer with these numbers of epochs")
    parser.add_argument("--populations", type=int, default=2, help="independent populations per trainer for steps to competence (keys 1..N)")
    parser.add_argument("--keys", type=int, nargs="+", default=None, help="the populations' keys instead (e.g. 3 4 to confirm on populations not used to choose)")
    parser.add_argument("--baseline", nargs="+", default=[ISSUE_COMMIT, LEGACY_COMMIT], help="earlier trainers' commits; ratios are against the first")
    parser.add_argument("--no-shared", action="store_true", help="skip the shared-input option")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write each trainer's per-agent steps to competence (null: never) to PATH")
    parser.add_argument("--no-today", action="store_true", help="skip today's default trainer (only the baselines and the named options)")
    parser.add_argument("--dense", action="store_true", help="also measure today's trainer with the dense first layer (ppo.object_lookup=false)")
    parser.add_argument("--thinking-steps", type=int, default=0, metavar="K",
                        help="also measure today's trainer with a thinking actor of K iterations (with --dense, also without the lookup)")
    parser.add_argument("--ranks", type=int, nargs="*", default=[], help="also measure the rank-r first layer (LowRankActorCritic) for these r")
    parser.add_argument("--schedules", nargs="*", default=[], metavar="EPOCHSxMINIBATCHES[@LR]",
                        help="also measure today's trainer with these update schedules, e.g. 1x16 2x8@1e-3")
    args = parser.parse_args()
    for commit in args.baseline:
        if not has_trainer(commit):
            parser.error(f"--baseline: {commit!r} is not a commit of this repository with src/mesascope/agents/ppo.py (give a hash, e.g. {ISSUE_COMMIT})")
    if not 0 <= args.thinking_steps <= 64:
        parser.error(f"--thinking-steps: {args.thinking_steps} is not a number of iterations from 1 to 64 (0: none)")
    for rank in args.ranks:
        if rank < 1:
            parser.error(f"--ranks: each rank must be a positive integer, got {rank}")
    if args.json is not None and (not Path(args.json).name or Path(args.json).is_dir() or not Path(args.json).resolve().parent.is_dir()):
        parser.error(f"--json: {args.json!r} is not a file path in an existing folder")
    if args.world not in registry.names():
        parser.error(f"--world: {args.world!r} is not a registered world; choose from {', '.join(registry.names())}")
    clock = CLOCK[args.clock]
    world = registry.make(args.world)
    train_shift = world.distributions["train"].shift
    config = PPOConfig()
    schedules = {text: parse_schedule(text, config, parser) for text in args.schedules}
    shared = replace(config, shared_input=True)
    print(f"{args.world} world, observation {world.observation_shape}, MLP {config.width}x{config.depth}, {args.agents} agents, "
          f"batch {config.batch_size}/agent/update; jax {jax.__version__}, {len(jax.devices())} host devices, {args.clock} clock")
    trainers = {
        **{f"trainer of {commit}{' (baseline)' if i == 0 else ''}": legacy_make_train(world, commit) for i, commit in enumerate(args.baseline)},
        **({} if args.no_today else {"today, separate actor and critic": make_train(config, world)}),
        **({} if args.no_shared else {"today, shared input layer": make_train(shared, world)}),
        **({"today, dense first layer (no object lookup)": make_train(replace(config, object_lookup=False), world)} if args.dense else {}),
        **({f"today, thinking actor, K={args.thinking_steps}": make_train(replace(config, thinking_steps=args.thinking_steps), world)}
           if args.thinking_steps else {}),
        **({f"today, thinking, K={args.thinking_steps}, dense first layer":
            make_train(replace(config, thinking_steps=args.thinking_steps, object_lookup=False), world)} if args.thinking_steps and args.dense else {}),
        **{f"today, {epochs} epoch{'s' if epochs > 1 else ''}": make_train(replace(config, epochs=epochs), world) for epochs in args.epochs},
        **{f"today, {text} (epochs x minibatches[@lr])": make_train(schedule, world) for text, schedule in schedules.items()},
        **{f"rank-{rank} first layer": make_train(config, world, network=LowRankActorCritic(world.num_actions, rank, config.width, config.depth))
           for rank in args.ranks},
    }
    settings = {} if args.skip_throughput else {
        f"{name}, {devices} device{'s' if devices > 1 else ''}": trainer_runner(trainer, args.agents, args.updates, devices, train_shift)
        for name, trainer in trainers.items()
        for devices in (1, 2)
    }
    rates = steps_per_second(settings, args.agents, args.updates, config.batch_size, args.repeats) if settings else {}
    names = list(rates)
    if rates:
        print(f"{'setting':<52}{'env steps/s':>14}{'vs baseline, same devices':>28}")
    for i, (name, rate) in enumerate(rates.items()):
        base = rates[names[i % 2]]
        print(f"{name:<52}{rate:>14,.0f}{rate / base:>28.2f}")
    if args.skip_competence:
        return
    keys = args.keys or list(range(1, args.populations + 1))
    print(f"steps to 90% of the optimal intended return on train (checked every 4 updates = {4 * config.batch_size:,} steps, "
          f"{args.agents} agents per population, populations with keys {keys}):")
    record = {"world": args.world, "keys": keys, "agents": args.agents, "budget": config.total_steps, "trainers": {}}
    for name, trainer in trainers.items():
        found = [time_to_competence(trainer, world, args.agents, seed=seed) for seed in keys]
        per_agent = np.concatenate([f["per_agent"] for f in found])
        record["trainers"][name] = {
            "per_agent": [None if np.isinf(v) else int(v) for v in per_agent],
            "population": [None if np.isinf(f["population_steps"]) else int(f["population_steps"]) for f in found],
        }
        if args.json:
            Path(args.json).write_text(json.dumps(record, indent=1))
        median, low, high = median_interval(per_agent)
        print(f"  {name}: population mean crosses at {[f['population_steps'] for f in found]} steps "
              f"({[round(f['seconds'], 1) for f in found]} s on 1 device); per agent: median {median:,.0f} [{low:,.0f}, {high:,.0f}], "
              f"{int(np.isfinite(per_agent).sum())}/{len(per_agent)} crossed")


if __name__ == "__main__":
    main()
