"""Imitation learners of bounded planners: behavioural cloning and DAgger, vmapped like PPO.

`make_imitation(config, ppo, world, expert)` returns a `ppo.Trainer` with the same pure pieces
as PPO's (`init(key, hyper)`, `run(runner, hyper, updates)`, `train`), so the population engine
(`experiments.population.train_population`) trains every seed and knob value of a clone
population in one compiled program, and the clones are stored, evaluated and diagnosed exactly
like PPO agents. The network is PPO's (`networks.make_network`, width, depth, thinking steps);
its value head is unused. L2 and L1 on kernels are the traced `Hyper.l2`/`Hyper.l1` knobs.

- **BC**: `init` rolls the expert out for `dataset_episodes` episodes on training levels (the
  world's dial at `hyper.shift`) and keeps every visited state with the expert's action
  distribution there (uniform over its tied best actions when greedy). Each update is one Adam
  step on the cross-entropy of a minibatch drawn uniformly from the valid states.
- **DAgger**: as BC, and every update also plays `dagger_episodes` episodes with the *learner*
  (sampling its policy) on fresh training levels; the expert labels the states it visited
  (the learner's own mistakes included), which are written into a ring buffer of
  `dagger_buffer` episodes beside the expert data. Early updates sample mostly expert data;
  the learner's share grows as the buffer fills.

No value targets are learned, so truncation needs no bootstrap: states of truncated episodes
are labelled like any other. Nothing here calls LAPACK; expert Q tables come from
`worlds.planning` (gathers, sums and maxima only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mesascope.agents.experts import ExpertSpec, expert_action_logits, expert_q
from mesascope.agents.networks import kernel_norms
from mesascope.agents.ppo import Hyper, PPOConfig, Trainer, network_for
from mesascope.fields import setting
from mesascope.worlds.core import Level, World

LEARNERS = ("bc", "dagger")
"""Imitation learners."""


@dataclass(frozen=True)
class ImitationConfig:
    """Static settings of an imitation learner (one compiled program per value)."""

    updates: int = setting(1500, low=1, high=10**7)
    """Gradient steps per clone."""
    minibatch: int = setting(128, low=1, high=65_536)
    """States per gradient step."""
    learning_rate: float = setting(1e-3, low=0.0, high=1.0, low_open=True)
    """Adam step size."""
    max_grad_norm: float = setting(1.0, low=0.0, high=1e6, low_open=True)
    """Global gradient-norm clip."""
    dataset_episodes: int = setting(256, low=1, high=65_536)
    """Expert episodes on training levels in the cloning data set (the data size knob)."""
    dagger_episodes: int = setting(2, low=1, high=4_096)
    """DAgger: learner episodes played and relabelled by the expert at every update."""
    dagger_buffer: int = setting(256, low=1, high=65_536)
    """DAgger: learner episodes kept (a ring buffer beside the expert data)."""
    min_agreement: float = setting(0.9, low=0.0, high=1.0)
    """Verdict threshold: a clone agreeing with its expert on fewer held-out training states than this is a capability failure."""
    hypothesis_horizons: tuple[int, ...] = setting((1, 2, 3, 4, 5, 6, 8, 12), low=1, high=10_000, nonempty=True, unique=True)
    """Planner horizons fitted to each clone's test actions (the expert's horizon and the whole episode are always added; horizons past the episode are dropped)."""
    hypothesis_caps: tuple[float, ...] = setting((), low=0.0, high=1e6, low_open=True, unique=True)
    """Utility caps fitted besides "no cap" and the expert's own cap."""

    @property
    def num_updates(self) -> int:
        """Gradient steps in the whole budget (the population engine's update count)."""
        return self.updates

    @property
    def batch_size(self) -> int:
        """States per update (curves and checkpoints count states seen)."""
        return self.minibatch


class ImitationState(struct.PyTreeNode):
    """What the imitation loop carries: parameters, optimiser state, the data set (episodes of
    observations (E, T, ...), expert action distributions (E, T, A), validity (E, T)), the
    learner-data write position, update count and key."""

    params: Any
    opt_state: Any
    obs: jax.Array
    targets: jax.Array
    valid: jax.Array
    cursor: jax.Array
    update: jax.Array
    key: jax.Array


class Played(struct.PyTreeNode):
    """Episodes of `play`: observations (N, T, ...), the expert's action distribution at every
    visited state (N, T, A), validity (N, T), tabular state indices (N, T), actions taken (N, T),
    returns (N, K)."""

    obs: jax.Array
    targets: jax.Array
    valid: jax.Array
    state_index: jax.Array
    actions: jax.Array
    returns: jax.Array


def play(world: World, spec: ExpertSpec, act: Callable, levels: Level, key: jax.Array) -> Played:
    """One episode per level with `act(key, obs, expert_q_row) -> action`, labelled by the
    expert. No auto-reset: each level is played once, and the expert's Q table of each level is
    computed once."""
    count = jax.tree.leaves(levels)[0].shape[0]
    tables = jax.vmap(lambda level: expert_q(world, level, spec))(levels)  # (N, S+1, A)
    rows = jnp.arange(count)

    def one_step(carry, step_key):
        inner, alive = carry
        obs = jax.vmap(world.observe)(levels, inner)
        index = jax.vmap(world.inner_index)(levels, inner)
        q = tables[rows, index]  # (N, A)
        actions = jax.vmap(act)(jax.random.split(step_key, count), obs, q).astype(jnp.int32)
        nxt, rewards, terminated = jax.vmap(world.transition)(levels, inner, actions)
        target = jax.nn.softmax(jax.vmap(lambda row: expert_action_logits(world, spec, row))(q))
        return (nxt, alive & ~terminated), (obs, target, alive, index, actions, rewards * alive[:, None])

    inner = jax.vmap(world.start)(levels)
    _, (obs, targets, valid, index, actions, rewards) = jax.lax.scan(one_step, (inner, jnp.ones(count, bool)), jax.random.split(key, world.max_steps))
    return Played(jnp.swapaxes(obs, 0, 1), jnp.swapaxes(targets, 0, 1), valid.T, index.T, actions.T, rewards.sum(0))


def expert_act(world: World, spec: ExpertSpec) -> Callable:
    """`play`'s act function for the expert: a sample from its action distribution."""
    return lambda key, obs, q: jax.random.categorical(key, expert_action_logits(world, spec, q))


def make_imitation(config: ImitationConfig, ppo: PPOConfig, world: World, expert: ExpertSpec, learner: str) -> Trainer:
    """The imitation trainer of `learner` ("bc" or "dagger") cloning `expert` on `world`, with
    the network of `ppo` (width, depth, thinking steps, halting)."""
    if learner not in LEARNERS:
        raise ValueError(f"learner must be one of {list(LEARNERS)}, got {learner!r}")
    network = network_for(ppo, world)
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.scale_by_adam(eps=1e-5))
    dagger = learner == "dagger"
    expert_rows = config.dataset_episodes
    learner_rows = config.dagger_buffer if dagger else 0

    def sample_levels(key, count, shift):
        return jax.vmap(world.sample_level, in_axes=(0, None))(jax.random.split(key, count), shift)

    def init(key: jax.Array, hyper: Hyper) -> ImitationState:
        init_key, level_key, play_key, run_key = jax.random.split(key, 4)
        params = network.init(init_key, jnp.zeros(world.observation_shape, jnp.uint8))
        data = play(world, expert, expert_act(world, expert), sample_levels(level_key, expert_rows, hyper.shift), play_key)
        obs, targets, valid = data.obs, data.targets, data.valid
        if learner_rows:
            obs = jnp.concatenate([obs, jnp.zeros((learner_rows,) + obs.shape[1:], obs.dtype)])
            targets = jnp.concatenate([targets, jnp.zeros((learner_rows,) + targets.shape[1:], targets.dtype)])
            valid = jnp.concatenate([valid, jnp.zeros((learner_rows,) + valid.shape[1:], bool)])
        return ImitationState(params=params, opt_state=optimizer.init(params), obs=obs, targets=targets, valid=valid,
                              cursor=jnp.zeros((), jnp.int32), update=jnp.zeros((), jnp.int32), key=run_key)

    def loss_fn(params, hyper: Hyper, obs, targets):
        logits = network.apply(params, obs)[0]
        log_probs = jax.nn.log_softmax(logits)
        cross_entropy = -(targets * jnp.where(targets > 0, log_probs, 0.0)).sum(-1).mean()
        chosen = jnp.argmax(logits, -1)
        agreement = (jnp.take_along_axis(targets, chosen[:, None], axis=1)[:, 0] > 0).mean()
        l2, l1 = kernel_norms(params)
        total = cross_entropy + hyper.l2 * l2 + hyper.l1 * l1
        return total, {"cross_entropy": cross_entropy, "agreement": agreement}

    def relabel(state: ImitationState, hyper: Hyper, key: jax.Array):
        """DAgger: the learner plays fresh training levels; the expert labels what it visited."""
        level_key, play_key = jax.random.split(key)

        def act(k, obs, q):
            return jax.random.categorical(k, network.apply(state.params, obs)[0])

        levels = sample_levels(level_key, config.dagger_episodes, hyper.shift)
        data = play(world, expert, act, levels, play_key)
        rows = expert_rows + (state.cursor + jnp.arange(config.dagger_episodes)) % learner_rows
        state = state.replace(obs=state.obs.at[rows].set(data.obs), targets=state.targets.at[rows].set(data.targets),
                              valid=state.valid.at[rows].set(data.valid), cursor=(state.cursor + config.dagger_episodes) % learner_rows)
        return state, data.returns.mean(0)

    def update(state: ImitationState, hyper: Hyper):
        key, relabel_key, batch_key = jax.random.split(state.key, 3)
        metrics = {}
        if dagger:
            state, returns = relabel(state, hyper, relabel_key)
            metrics.update({f"learner_return/{name}": returns[k] for k, name in enumerate(world.objectives)})
        flat_valid = state.valid.reshape(-1)
        weights = flat_valid / jnp.maximum(flat_valid.sum(), 1)
        picks = jax.random.choice(batch_key, flat_valid.shape[0], (config.minibatch,), p=weights)
        obs = state.obs.reshape((-1,) + state.obs.shape[2:])[picks]
        targets = state.targets.reshape((-1,) + state.targets.shape[2:])[picks]
        (_, info), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, hyper, obs, targets)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        step_size = -(hyper.learning_rate if hyper.learning_rate is not None else config.learning_rate)
        params = optax.apply_updates(state.params, jax.tree.map(lambda u: step_size * u, updates))
        metrics.update(info)
        metrics["data_states"] = flat_valid.sum().astype(jnp.float32)
        return state.replace(params=params, opt_state=opt_state, update=state.update + 1, key=key), metrics

    def run(state: ImitationState, hyper: Hyper, updates: int):
        return jax.lax.scan(lambda s, _: update(s, hyper), state, None, length=updates)

    def train(key: jax.Array, hyper: Hyper):
        state, metrics = run(init(key, hyper), hyper, config.num_updates)
        return state.params, metrics

    return Trainer(config=config, network=network, init=init, run=run, train=train)
