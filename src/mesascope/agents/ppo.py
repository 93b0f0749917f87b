"""PPO in the PureJaxRL style: a pure, jittable trainer vmapped over seeds and numeric knobs.

`make_train(config, world)` returns a `Trainer` whose pieces are pure functions:
`init(key, hyper)` builds the runner state, `run(runner, hyper, updates)` advances it by a
number of PPO updates inside one `lax.scan`, and `train(key, hyper)` does the whole budget.
`hyper` holds the numeric knobs that may differ between vmapped agents inside one compiled
program (shift dial, L2 and L1 strengths, learning rate, entropy coefficient, reward weights, the
speed prior's time penalty and the internals-selection penalty); shapes (width, depth, thinking
iterations, batch sizes) are static config and give one compiled program each.
Progress is reported by the caller between jitted chunks; nothing inside jit does I/O.

Time-outs are not terminations: at a truncated step the advantage bootstraps from the value of
the final observation (kept by the world on auto-reset); at a terminated step it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mesascope.agents.networks import kernel_norms, make_network
from mesascope.fields import setting
from mesascope.worlds.core import Timestep, World


DEFAULTS_UNTIL_2026_12_02 = {"epochs": 4, "minibatches": 4, "learning_rate": 5e-4, "object_lookup": False}
"""The `PPOConfig` settings whose defaults changed on 2026-12-02: the update schedule, and the
first layer's lookup of one-hot channels (which changes float rounding, so trained numbers).
The presets and the studies whose results the README and docs/ quote keep these, so that those
numbers reproduce; moving one of them to today's defaults means measuring its documentation
again."""


@dataclass(frozen=True)
class PPOConfig:
    """Static PPO settings (one compiled program per distinct value)."""

    total_steps: int = setting(300_000, low=1, high=10**10)
    """Environment steps per agent."""
    num_envs: int = setting(32, low=1, high=65_536)
    """Parallel environments per agent."""
    num_steps: int = setting(64, low=1, high=65_536)
    """Steps per environment between updates."""
    epochs: int = setting(2, low=1, high=1_000)
    """Passes over each batch. Two passes of 8 minibatches at step size 1e-3 (the default since
    2026-12-02; before: 4 passes of 4 at 5e-4) reach competence in no more environment steps on
    coin and corner for half the arithmetic per update (docs/benchmarks.md)."""
    minibatches: int = setting(8, low=1, high=65_536)
    """Minibatches per epoch."""
    learning_rate: float = setting(1e-3, low=0.0, high=1.0, low_open=True)
    """Adam step size (linearly annealed to 0 when `anneal_lr`)."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly over training."""
    gamma: float = setting(0.95, low=0.0, high=1.0)
    """Discount factor."""
    gae_lambda: float = setting(0.9, low=0.0, high=1.0)
    """GAE λ."""
    clip: float = setting(0.2, low=0.0, high=10.0, low_open=True)
    """PPO ratio clip."""
    entropy_coef: float = setting(0.01, low=0.0, high=100.0)
    """Entropy bonus weight."""
    value_coef: float = setting(0.5, low=0.0, high=100.0)
    """Value loss weight."""
    max_grad_norm: float = setting(0.5, low=0.0, high=1e6, low_open=True)
    """Global gradient-norm clip."""
    width: int = setting(64, low=1, high=4_096)
    """Hidden units per layer."""
    depth: int = setting(2, low=1, high=16)
    """Hidden layers (of the critic only, when the actor thinks)."""
    thinking_steps: int = setting(0, low=0, high=64)
    """Iterations of the actor's weight-tied thinking block per decision; 0: a plain MLP actor."""
    halting: bool = False
    """Let the thinking actor halt early (PonderNet-style); the time penalty prices its iterations."""
    shared_input: bool = False
    """Actor and critic share their first layer (the one over the flattened grid, most of the
    arithmetic); the layers above stay separate. Plain MLP actors only."""
    object_lookup: bool = True
    """The feed-forward actor-critics (plain or thinking) read the observation channels that light at most one cell (single
    objects: `World.one_hot_channels`) by looking up that cell's row of the first layer instead
    of multiplying the whole plane: the same function up to float rounding, for about a third of
    the first layer's arithmetic on coin (the default since 2026-12-02; docs/benchmarks.md).
    The recurrent network ignores it."""

    @property
    def batch_size(self) -> int:
        """Transitions per update."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """PPO updates in the whole budget."""
        return max(1, self.total_steps // self.batch_size)


class Hyper(struct.PyTreeNode):
    """Numeric knobs that may vary across vmapped agents. A knob left as None takes the trainer's
    static value (`PPOConfig.learning_rate`, `.entropy_coef`, the trainer's reward weights); the
    penalties default to off."""

    shift: jax.Array
    l2: jax.Array
    l1: jax.Array
    learning_rate: jax.Array | None = None
    entropy_coef: jax.Array | None = None
    reward_weights: jax.Array | None = None
    """(K,) weights over the world's objectives: the training reward is objective_rewards @ weights."""
    time_penalty: jax.Array | None = None
    """Speed prior: loss weight of the expected thinking iterations per decision."""
    channel_penalty: jax.Array | None = None
    """Internals-based selection: loss weight of the policy's sensitivity to the penalised channel."""
    reward_params: Any = None
    """Parameters the trainer's reward hook reads (e.g. each agent's own learned grader)."""

    @classmethod
    def make(cls, shift: float = 0.0, l2: float = 0.0, l1: float = 0.0, **knobs: Any) -> "Hyper":
        """Scalar knobs as float32 arrays (reward weights as a float32 vector)."""
        given = {name: jnp.asarray(value, jnp.float32) for name, value in knobs.items() if value is not None}
        return cls(*(jnp.asarray(v, jnp.float32) for v in (shift, l2, l1)), **given)


class RunnerState(struct.PyTreeNode):
    """Everything the training loop carries between updates."""

    params: Any
    opt_state: Any
    timestep: Timestep
    episode_returns: jax.Array  # (num_envs, K) running returns of unfinished episodes
    update: jax.Array
    key: jax.Array


class Transition(struct.PyTreeNode):
    """One vectorised step of experience."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    final_obs: jax.Array


def gae(rewards, values, next_values, terminated, done, gamma: float, lam: float):
    """Generalised advantage estimates over a time-major rollout.

    `next_values[t]` is the value of the state step t actually led to (the final observation
    on auto-reset). The TD error bootstraps from it unless step t terminated; the recursion
    stops at any episode end (terminated or truncated). Returns (advantages, value targets).
    """

    def backward(carry, inputs):
        reward, value, next_value, term, end = inputs
        delta = reward + gamma * next_value * (1.0 - term) - value
        advantage = delta + gamma * lam * (1.0 - end) * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward,
        jnp.zeros_like(values[0]),
        (rewards, values, next_values, terminated.astype(jnp.float32), done.astype(jnp.float32)),
        reverse=True,
    )
    return advantages, advantages + values


@dataclass(frozen=True)
class Trainer:
    """The pure pieces of one PPO training program (see module docstring)."""

    config: PPOConfig
    network: Any
    init: Callable[[jax.Array, Hyper], RunnerState]
    run: Callable[[RunnerState, Hyper, int], tuple[RunnerState, dict]]
    train: Callable[[jax.Array, Hyper], tuple[Any, dict]]


def update_metrics(info: dict, episodes: jax.Array, length_sum: jax.Array, return_sums: jax.Array, objectives: tuple[str, ...]) -> dict:
    """One update's training curves: the losses averaged over minibatches, episodes completed,
    their mean length and mean return per objective (NaN when no episode ended)."""
    completed = jnp.maximum(episodes, 1)
    metrics = {name: value.mean() for name, value in info.items()}
    metrics["episodes"] = episodes.astype(jnp.float32)
    metrics["episode_length"] = length_sum / completed
    for k, name in enumerate(objectives):
        metrics[f"return/{name}"] = jnp.where(episodes > 0, return_sums[k] / completed, jnp.nan)
    return metrics


def make_train(
    config: PPOConfig,
    world: World,
    reward_weights: jax.Array | None = None,
    penalised_channel: str | None = None,
    network: Any = None,
    reward_hook: Callable[[Any, jax.Array, jax.Array, jax.Array, Any], jax.Array] | None = None,
) -> Trainer:
    """Build the PPO trainer for `world`; the training reward is `objective_rewards @ reward_weights`
    (one-hot on the intended objective by default; `Hyper.reward_weights` overrides it per agent).

    With `penalised_channel` (one of the world's observation channels), the loss adds
    `hyper.channel_penalty` times the policy's sensitivity to that channel: the KL divergence from
    the policy on the observation to the policy on the same observation with the channel blanked.
    Selecting on internals this way is a traced knob; without a channel it costs nothing.

    `network` replaces the actor-critic the config describes (a Flax module whose `__call__`
    returns (logits, value) and whose `with_compute` adds the thinking iterations used).

    `reward_hook(state, action, final_obs, base_reward, hyper.reward_params)` (per environment,
    vmapped) replaces the training reward of each step, e.g. adding a shaping term or scoring the
    step with the agent's own learned grader; without one the program is exactly the plain one."""
    if config.batch_size % config.minibatches:
        raise ValueError(f"num_envs*num_steps ({config.batch_size}) must be divisible by minibatches ({config.minibatches})")
    channels = tuple(getattr(world, "observation_channels", ()))
    if penalised_channel is not None and penalised_channel not in channels:
        raise ValueError(f"penalised_channel must be one of the world's observation channels {channels}, got {penalised_channel!r}")
    channel_mask = None if penalised_channel is None else jnp.asarray([c != penalised_channel for c in channels], jnp.uint8)
    default_weights = jnp.eye(world.num_objectives)[0] if reward_weights is None else jnp.asarray(reward_weights, jnp.float32)
    if network is None:
        network = network_for(config, world)
    num_updates = config.num_updates
    step_envs = jax.vmap(world.step, in_axes=(0, 0, 0, None))

    # Adam without its step size; the (traced, per-agent) learning rate and its linear annealing
    # scale the updates in `update`, so agents with different learning rates share one program.
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.scale_by_adam(eps=1e-5))

    def init(key: jax.Array, hyper: Hyper) -> RunnerState:
        init_key, level_key, reset_key, run_key = jax.random.split(key, 4)
        params = network.init(init_key, jnp.zeros(world.observation_shape, jnp.uint8))
        levels = jax.vmap(world.sample_level, in_axes=(0, None))(jax.random.split(level_key, config.num_envs), hyper.shift)
        timestep = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, config.num_envs), levels)
        return RunnerState(
            params=params,
            opt_state=optimizer.init(params),
            timestep=timestep,
            episode_returns=jnp.zeros((config.num_envs, world.num_objectives), jnp.float32),
            update=jnp.zeros((), jnp.int32),
            key=run_key,
        )

    def collect(runner: RunnerState, hyper: Hyper):
        def env_step(carry, step_key):
            timestep, episode_returns = carry
            act_key, env_key = jax.random.split(step_key)
            logits, value = network.apply(runner.params, timestep.obs)
            action = jax.random.categorical(act_key, logits)
            log_prob = jax.nn.log_softmax(logits)[jnp.arange(config.num_envs), action]
            nxt = step_envs(jax.random.split(env_key, config.num_envs), timestep.state, action, hyper.shift)
            episode_returns = episode_returns + nxt.objective_rewards
            finished = nxt.done[:, None]
            reward = nxt.objective_rewards @ knob(hyper.reward_weights, default_weights)
            if reward_hook is not None:
                reward = jax.vmap(reward_hook, in_axes=(0, 0, 0, 0, None))(timestep.state, action, nxt.final_obs, reward, hyper.reward_params)
            transition = Transition(
                obs=timestep.obs,
                action=action,
                log_prob=log_prob,
                value=value,
                reward=reward,
                terminated=nxt.terminated,
                done=nxt.done,
                final_obs=nxt.final_obs,
            )
            stats = (jnp.where(finished, episode_returns, 0.0).sum(0), nxt.done.sum(), jnp.where(nxt.done, nxt.info["episode_length"], 0).sum())
            return (nxt, jnp.where(finished, 0.0, episode_returns)), (transition, stats)

        key, rollout_key = jax.random.split(runner.key)
        (timestep, episode_returns), (batch, stats) = jax.lax.scan(
            env_step, (runner.timestep, runner.episode_returns), jax.random.split(rollout_key, config.num_steps)
        )
        return runner.replace(timestep=timestep, episode_returns=episode_returns, key=key), batch, stats

    def loss_fn(params, hyper: Hyper, minibatch: Transition, advantages, targets):
        logits, value, thinking = network.apply(params, minibatch.obs, method=network.with_compute)
        total, info, log_probs = surrogate_loss(config, hyper, params, logits, value, thinking, minibatch.action, minibatch.log_prob, advantages, targets)
        if channel_mask is not None:
            blanked = jax.nn.log_softmax(network.apply(params, minibatch.obs * channel_mask)[0])
            info["channel_sensitivity"] = (jnp.exp(log_probs) * (log_probs - blanked)).sum(-1).mean()
            total = total + knob(hyper.channel_penalty, 0.0) * info["channel_sensitivity"]
        return total, info

    def update(runner: RunnerState, hyper: Hyper):
        runner, batch, stats = collect(runner, hyper)
        return_sums, episodes, length_sum = jax.tree.map(lambda x: x.sum(0), stats)
        next_values = successor_values(network, runner.params, batch, runner.timestep.obs, world.max_steps)
        advantages, targets = gae(batch.reward, batch.value, next_values, batch.terminated, batch.done, config.gamma, config.gae_lambda)

        flat = jax.tree.map(lambda x: x.reshape((config.batch_size,) + x.shape[2:]), (batch, advantages, targets))

        def epoch(carry, epoch_key):
            params, opt_state = carry
            order = jax.random.permutation(epoch_key, config.batch_size)
            shuffled = jax.tree.map(lambda x: x[order].reshape((config.minibatches, -1) + x.shape[1:]), flat)

            def minibatch_step(carry, mb):
                params, opt_state = carry
                (_, info), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, hyper, *mb)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                updates = jax.tree.map(lambda u: step_size * u, updates)
                return (optax.apply_updates(params, updates), opt_state), info

            return jax.lax.scan(minibatch_step, (params, opt_state), shuffled)

        fraction = 1.0 - runner.update / num_updates if config.anneal_lr else 1.0
        step_size = -knob(hyper.learning_rate, config.learning_rate) * fraction
        key, epoch_key = jax.random.split(runner.key)
        (params, opt_state), info = jax.lax.scan(epoch, (runner.params, runner.opt_state), jax.random.split(epoch_key, config.epochs))
        metrics = update_metrics(info, episodes, length_sum, return_sums, world.objectives)
        runner = runner.replace(params=params, opt_state=opt_state, update=runner.update + 1, key=key)
        return runner, metrics

    def run(runner: RunnerState, hyper: Hyper, updates: int):
        return jax.lax.scan(lambda r, _: update(r, hyper), runner, None, length=updates)

    def train(key: jax.Array, hyper: Hyper):
        runner, metrics = run(init(key, hyper), hyper, num_updates)
        return runner.params, metrics

    return Trainer(config=config, network=network, init=init, run=run, train=train)


def network_for(config: PPOConfig, world: World, family: str = "feedforward") -> Any:
    """The actor-critic a PPO config describes (width, depth, thinking budget, shared input,
    object lookup) for `world`'s actions and observation, of the network `family` (see
    `make_network`)."""
    lookup = world.one_hot_channels if config.object_lookup else ()
    return make_network(world.num_actions, config.width, config.depth, config.thinking_steps, config.halting, family, config.shared_input, lookup)


def successor_values(network: Any, params: Any, batch: Transition, last_obs: jax.Array, max_steps: int) -> jax.Array:
    """(T, N) values of the state each step of a time-major rollout led to, for bootstrapping.

    Where an episode went on, that is the next step's value, which the rollout already computed
    (and, after the last step, the value of `last_obs`). Only a truncated step needs a new
    forward pass, on its final observation; a terminated step does not bootstrap at all. Episodes
    are truncated exactly when their clock reaches `max_steps`, so one environment has at most
    ceil(T / max_steps) truncations in T steps: the network runs on that many observations per
    environment instead of on all T (the same values, a fraction of the arithmetic)."""
    steps, envs = batch.done.shape
    _, last_value = network.apply(params, last_obs)
    following = jnp.concatenate([batch.value[1:], last_value[None], jnp.zeros((1, envs), jnp.float32)])
    truncated = batch.done & ~batch.terminated
    slots = min(steps, -(-steps // max_steps))
    # Unused slots point at the padding row `steps`, so no two valid slots write one element.
    rows = jax.vmap(lambda column: jnp.nonzero(column, size=slots, fill_value=steps)[0], in_axes=1, out_axes=1)(truncated)
    cols = jnp.broadcast_to(jnp.arange(envs), rows.shape)
    _, values = network.apply(params, batch.final_obs[jnp.minimum(rows, steps - 1), cols])
    return following.at[rows, cols].set(values)[:steps]


def knob(value: jax.Array | None, default: Any) -> Any:
    """A `Hyper` knob, or `default` where it was left as None."""
    return default if value is None else value


def surrogate_loss(config: PPOConfig, hyper: Hyper, params: Any, logits, value, thinking, action, old_log_prob, advantages, targets):
    """The PPO loss over a flat minibatch (B, ...): clipped surrogate, value loss, entropy bonus,
    L2/L1 on kernels and the speed prior on thinking iterations. Returns (total, info, log_probs);
    the feed-forward and the recurrent trainers share it, so their knobs mean the same."""
    log_probs = jax.nn.log_softmax(logits)
    log_prob = jnp.take_along_axis(log_probs, action[:, None], axis=1)[:, 0]
    ratio = jnp.exp(log_prob - old_log_prob)
    normalised = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = -jnp.minimum(ratio * normalised, jnp.clip(ratio, 1 - config.clip, 1 + config.clip) * normalised).mean()
    value_loss = 0.5 * ((value - targets) ** 2).mean()
    entropy = -(jnp.exp(log_probs) * log_probs).sum(-1).mean()
    l2, l1 = kernel_norms(params)
    entropy_coef = knob(hyper.entropy_coef, config.entropy_coef)
    total = policy_loss + config.value_coef * value_loss - entropy_coef * entropy + hyper.l2 * l2 + hyper.l1 * l1
    approx_kl = ((ratio - 1) - jnp.log(ratio)).mean()
    info = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy, "approx_kl": approx_kl}
    if config.thinking_steps:
        info["thinking_steps"] = thinking.mean()
        total = total + knob(hyper.time_penalty, 0.0) * info["thinking_steps"]
    return total, info, log_probs


def policy_logits(network: Any, params: Any) -> Callable[[jax.Array], jax.Array]:
    """The action-logits function of trained parameters, for rollouts."""
    return lambda obs: network.apply(params, obs)[0]
