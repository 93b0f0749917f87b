"""A learned grader (reward model): a small MLP fitted to labelled steps of a world.

Data: steps of the uniform random policy and of the exact planner of the intended objective on
training levels (a share `planner_share` of the `labels` steps from the planner), each labelled
with the intended objective's reward of that step (plus Gaussian noise of s.d. `label_noise`).
Environments auto-reset, so every collected step is a labelled step. The grader reads the
observation the step led to (`final_obs`: what the world shows after the move, before any
reset); that is all a reward for entering a cell needs.

The fit is Adam on the squared error, full batch (vmapped over seeds) or on minibatches
(`batch`, seeds one after another), jitted (each seed its own data, noise and initialisation);
no linear algebra beyond matrix products. A fitted grader
scores PPO's steps through `reward_hook` and the exact planner's transitions through
`grader_q_values` (the grader-optimizer: a learned reward model plus a hard-coded optimizer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from mesascope.agents.planner_agent import TIE_TOLERANCE, planner_for
from mesascope.diagnose.rollout import Policy, uniform_random
from mesascope.fields import setting
from mesascope.worlds import planning
from mesascope.worlds.core import Level, State, World


@dataclass(frozen=True)
class GraderConfig:
    """How a grader is fitted (one compiled program for all seeds)."""

    labels: int = setting(2000, low=16, high=1_000_000)
    """Labelled steps per grader."""
    label_noise: float = setting(0.0, low=0.0, high=100.0)
    """S.d. of the Gaussian noise added to every label."""
    planner_share: float = setting(0.5, low=0.0, high=1.0)
    """Share of the labelled steps played by the intended planner (the rest: uniform random)."""
    width: int = setting(32, low=1, high=1_024)
    """Hidden units in each of the two hidden layers."""
    fit_steps: int = setting(400, low=1, high=100_000)
    """Adam steps (over the full batch, or over minibatches of `batch`)."""
    batch: int = setting(0, low=0, high=1_000_000)
    """Labelled steps per Adam step, drawn uniformly with replacement; 0: the full batch. With
    a minibatch the seeds are fitted one after another (lax.map) so a large data set is held
    once, not once per seed."""
    learning_rate: float = setting(3e-3, low=0.0, high=1.0, low_open=True)
    """Adam step size."""
    envs: int = setting(32, low=1, high=4_096)
    """Parallel environments collecting the labelled steps."""


class GraderNetwork(nn.Module):
    """obs -> scalar reward estimate: flatten, two ReLU layers, a linear output."""

    width: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        """The grade of one observation (or a batch, leading axes kept)."""
        x = obs.reshape(obs.shape[: obs.ndim - 3] + (-1,)).astype(jnp.float32)
        x = nn.relu(nn.Dense(self.width)(x))
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(1)(x)[..., 0]


def collect(world: World, key: jax.Array, count: int, policy: Policy, envs: int, shift: float | None = None) -> tuple[jax.Array, jax.Array]:
    """`count` steps of `policy` on training levels (the world's train distribution, or the dial
    at `shift`), auto-resetting: (final observations, intended rewards)."""
    shift = world.distributions["train"].shift if shift is None else shift
    steps = math.ceil(count / envs)
    level_key, reset_key, run_key = jax.random.split(key, 3)
    levels = world.sample_levels(level_key, shift, envs)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, envs), levels)

    def one(timestep, step_key):
        act_key, env_key = jax.random.split(step_key)
        actions = jax.vmap(policy)(jax.random.split(act_key, envs), timestep.obs, timestep.state)
        nxt = jax.vmap(world.step, in_axes=(0, 0, 0, None))(jax.random.split(env_key, envs), timestep.state, actions, shift)
        return nxt, (nxt.final_obs, nxt.objective_rewards[:, 0])

    _, (obs, rewards) = jax.lax.scan(one, timestep, jax.random.split(run_key, steps))
    obs = obs.reshape((-1,) + world.observation_shape)[:count]
    return obs, rewards.reshape(-1)[:count]


def dataset(world: World, key: jax.Array, config: GraderConfig, shift: float | None = None) -> tuple[jax.Array, jax.Array]:
    """The labelled steps of one grader on training levels (see `collect`): (observations (N, ...), noisy labels (N,))."""
    planned = int(round(config.labels * config.planner_share))
    planner_key, random_key, noise_key = jax.random.split(key, 3)
    parts = []
    if planned:
        parts.append(collect(world, planner_key, planned, planner_for(world, world.intended), config.envs, shift))
    if config.labels - planned:
        parts.append(collect(world, random_key, config.labels - planned, uniform_random(world.num_actions), config.envs, shift))
    obs = jnp.concatenate([p[0] for p in parts])
    labels = jnp.concatenate([p[1] for p in parts])
    return obs, labels + config.label_noise * jax.random.normal(noise_key, labels.shape)


def fit(world: World, keys: jax.Array, config: GraderConfig, shift: float | None = None) -> tuple[Any, jax.Array, jax.Array]:
    """Fit one grader per key (vmapped, one program): (stacked params, training MSE after the
    last step per seed, variance of each seed's labels: the MSE of the best constant)."""
    network = GraderNetwork(config.width)
    optimizer = optax.adam(config.learning_rate)

    def one(key):
        data_key, init_key = jax.random.split(key)
        obs, labels = dataset(world, data_key, config, shift)
        params = network.init(init_key, obs[0])

        def loss(params, x, y):
            return jnp.mean((network.apply(params, x) - y) ** 2)

        def step(carry, step_key):
            params, state = carry
            if config.batch:
                pick = jax.random.randint(step_key, (config.batch,), 0, labels.shape[0])
                value, grads = jax.value_and_grad(loss)(params, obs[pick], labels[pick])
            else:
                value, grads = jax.value_and_grad(loss)(params, obs, labels)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), value

        step_keys = jax.random.split(jax.random.fold_in(init_key, 1), config.fit_steps)
        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), step_keys)
        if config.batch:  # the training MSE over every label, a chunk at a time
            chunks = -(-labels.shape[0] // config.batch)
            pad = chunks * config.batch - labels.shape[0]
            x = jnp.concatenate([obs, jnp.zeros((pad,) + obs.shape[1:], obs.dtype)]).reshape((chunks, config.batch) + obs.shape[1:])
            errors = jax.lax.map(lambda xs: network.apply(params, xs), x).reshape(-1)[: labels.shape[0]] - labels
            return params, jnp.mean(errors**2), jnp.var(labels)
        return params, loss(params, obs, labels), jnp.var(labels)

    if config.batch:
        return jax.jit(lambda k: jax.lax.map(one, k))(keys)
    return jax.jit(jax.vmap(one))(keys)


Grade = Callable[[jax.Array], jax.Array]
"""obs -> grade (leading axes kept)."""


def grade_fn(config: GraderConfig, params: Any) -> Grade:
    """The grade of observations under one grader's params."""
    network = GraderNetwork(config.width)
    return lambda obs: network.apply(params, obs)


def reward_hook(config: GraderConfig) -> Callable[[State, jax.Array, jax.Array, jax.Array, Any], jax.Array]:
    """A PPO reward hook that replaces the step's reward by the grade of where it led, under the
    grader params each agent carries in `Hyper.reward_params`."""
    network = GraderNetwork(config.width)
    return lambda state, action, final_obs, base, params: network.apply(params, final_obs)


def grader_q_values(world: World, level: Level, grade: Grade, gamma: float, horizon: int) -> jax.Array:
    """Discounted Q (S+1, A) on `level` of the grader's reward for each transition (jittable)."""
    view = planning.tabulate(world, level)
    inners = world.enumerate_inner(level)

    def row(inner):
        def one(action):
            nxt, _, _ = world.transition(level, inner, action)
            return world.observe(level, nxt)

        return grade(jax.vmap(one)(jnp.arange(world.num_actions)))

    rewards = jnp.concatenate([jax.vmap(row)(inners), jnp.zeros((1, world.num_actions), jnp.float32)])
    return planning.discounted_q_values(view.replace(rewards=rewards[..., None]), gamma, horizon)[0]


def grader_planner_policy(world: World, grade: Grade, gamma: float = 0.95, horizon: int | None = None) -> Policy:
    """The grader-optimizer: plans exactly for the grader's reward on the level it plays,
    greedily with random tie-breaking (like the planner agent)."""
    horizon = world.max_steps if horizon is None else int(horizon)

    def policy(key: jax.Array, obs: jax.Array, state: State) -> jax.Array:
        del obs
        q = grader_q_values(world, state.level, grade, gamma, horizon)[world.state_index(state)]
        logits = jnp.where(q >= q.max() - TIE_TOLERANCE, 0.0, -jnp.inf)
        return jax.random.categorical(key, logits).astype(jnp.int32)

    return policy


def planned_batch_policy(world: World, q_tables: jax.Array) -> Callable[[jax.Array, jax.Array, State], jax.Array]:
    """A batch policy (`diagnose.rollout.BatchPolicy`) acting greedily (random ties) on Q tables
    (N, S+1, A) computed once per level of the batch it plays, in the batch's order."""

    def policy(keys: jax.Array, obs: jax.Array, states: State) -> jax.Array:
        del obs
        q = q_tables[jnp.arange(q_tables.shape[0]), jax.vmap(world.state_index)(states)]
        logits = jnp.where(q >= q.max(-1, keepdims=True) - TIE_TOLERANCE, 0.0, -jnp.inf)
        return jax.vmap(jax.random.categorical)(keys, logits).astype(jnp.int32)

    return policy


def graded_rollout(
    world: World, policy: Policy, levels: Level, key: jax.Array, grade: Grade, extra: Callable[[jax.Array], jax.Array] | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One episode of `policy` per level (the keys of `diagnose.rollout.rollout`): (objective
    returns (N, K), graded returns (N,): the grades of every step's final observation, and the
    sum over the episode's steps of `extra(observations acted on)` (N,), zeros without it)."""
    count = jax.tree.leaves(levels)[0].shape[0]
    reset_key, run_key = jax.random.split(key)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, count), levels)

    def one(carry, step_key):
        timestep, alive = carry
        policy_key, _ = jax.random.split(step_key)
        actions = jax.vmap(policy)(jax.random.split(policy_key, count), timestep.obs, timestep.state).astype(jnp.int32)
        nxt = jax.vmap(world.step_in_episode)(timestep.state, actions)
        added = jnp.zeros(count, jnp.float32) if extra is None else extra(timestep.obs)
        record = (nxt.objective_rewards * alive[:, None], grade(nxt.final_obs) * alive, added * alive)
        return (nxt, alive & ~nxt.done), record

    _, (rewards, grades, added) = jax.lax.scan(one, (timestep, jnp.ones(count, bool)), jax.random.split(run_key, world.max_steps))
    return rewards.sum(0), grades.sum(0), added.sum(0)
