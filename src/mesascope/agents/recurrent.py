"""Recurrent PPO (RL²): the PPO trainer of `agents.ppo` for agents with a memory across a trial.

A trial is `trial_episodes` episodes on the same level (the same task); the agent's GRU memory
runs through it, fed the previous action, reward and an episode-start flag, and is zeroed when
a new trial (a new level) begins. The return the agent maximises is the trial's: GAE runs
through episode boundaries inside a trial (the next state is the restart, which the memory
remembers) and stops at trial ends. A trial ends by termination when its last episode
terminates and by truncation when that episode times out; then the advantage bootstraps from
the value of the final observation, read with the memory the agent has after the last step,
exactly as the feed-forward trainer bootstraps through time-outs.

The knobs are the feed-forward trainer's (`Hyper`: shift, L2, L1, learning rate, entropy
coefficient, reward weights, the speed prior's time penalty), the loss is `ppo.surrogate_loss`,
and the `Trainer` it returns plugs into `experiments.population` unchanged. Minibatches split
the environments (whole sequences), so `num_envs` must be divisible by `minibatches`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mesascope.agents.networks import make_network
from mesascope.agents.ppo import Hyper, PPOConfig, Trainer, gae, knob, surrogate_loss, update_metrics
from mesascope.worlds.core import Timestep, World


@dataclass(frozen=True)
class RecurrentTrainer(Trainer):
    """A `Trainer` that also exposes `collect(runner, hyper) -> (runner, steps, stats)`, one
    rollout segment, so tests can check the trial bookkeeping step by step."""

    collect: Callable[..., Any] | None = None


class Memory(struct.PyTreeNode):
    """What a recurrent agent carries between decisions: its GRU state and the feedback inputs."""

    carry: jax.Array
    prev_action: jax.Array
    prev_reward: jax.Array
    episode_start: jax.Array


class RecurrentRunnerState(struct.PyTreeNode):
    """The training loop's carry: the feed-forward fields plus memory and trial position."""

    params: Any
    opt_state: Any
    timestep: Timestep
    episode_returns: jax.Array
    update: jax.Array
    key: jax.Array
    memory: Memory
    trial_episode: jax.Array  # (num_envs,) episodes finished in the current trial


class Step(struct.PyTreeNode):
    """One vectorised step of experience with the inputs needed to replay the memory."""

    obs: jax.Array
    prev_action: jax.Array
    prev_reward: jax.Array
    episode_start: jax.Array
    reset: jax.Array  # the memory was zeroed before this step (a trial began; only then is prev_action -1)
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    next_value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array


def fresh_memory(network: Any, count: int) -> Memory:
    """The memory at the start of a trial for `count` environments: zero state, no feedback."""
    return Memory(network.initial_carry((count,)), jnp.full((count,), -1, jnp.int32), jnp.zeros((count,), jnp.float32), jnp.ones((count,), bool))


def make_recurrent_train(config: PPOConfig, world: World, reward_weights: jax.Array | None = None, trial_episodes: int = 1, network: Any = None) -> Trainer:
    """Build the recurrent PPO trainer for `world` with trials of `trial_episodes` episodes."""
    if int(trial_episodes) < 1:
        raise ValueError(f"trial_episodes must be at least 1, got {trial_episodes}")
    if config.num_envs % config.minibatches:
        raise ValueError(f"recurrent PPO splits environments into minibatches: num_envs ({config.num_envs}) must be divisible by minibatches ({config.minibatches})")
    last_episode = int(trial_episodes) - 1
    default_weights = jnp.eye(world.num_objectives)[0] if reward_weights is None else jnp.asarray(reward_weights, jnp.float32)
    if network is None:
        network = make_network(world.num_actions, config.width, config.depth, config.thinking_steps, config.halting, family="recurrent")
    num_updates, envs = config.num_updates, config.num_envs
    step_to = jax.vmap(world.step_to)
    draw = jax.vmap(world.draw_level, in_axes=(0, None))
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.scale_by_adam(eps=1e-5))

    def decide(params, memory: Memory, obs):
        return network.apply(params, memory.carry, obs, memory.prev_action, memory.prev_reward, memory.episode_start, method=network.step)

    def init(key: jax.Array, hyper: Hyper) -> RecurrentRunnerState:
        init_key, level_key, reset_key, run_key = jax.random.split(key, 4)
        memory = fresh_memory(network, 1)
        params = network.init(init_key, memory.carry[0], jnp.zeros(world.observation_shape, jnp.uint8), memory.prev_action[0], memory.prev_reward[0], memory.episode_start[0], method=network.step)
        levels = draw(jax.random.split(level_key, envs), hyper.shift)
        timestep = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, envs), levels)
        return RecurrentRunnerState(
            params=params, opt_state=optimizer.init(params), timestep=timestep,
            episode_returns=jnp.zeros((envs, world.num_objectives), jnp.float32), update=jnp.zeros((), jnp.int32), key=run_key,
            memory=fresh_memory(network, envs), trial_episode=jnp.zeros((envs,), jnp.int32),
        )

    def collect(runner: RecurrentRunnerState, hyper: Hyper):
        weights = knob(hyper.reward_weights, default_weights)

        def env_step(carry, step_key):
            timestep, memory, trial_episode, episode_returns = carry
            act_key, level_key = jax.random.split(step_key)
            new_carry, logits, value, _ = decide(runner.params, memory, timestep.obs)
            action = jax.random.categorical(act_key, logits)
            log_prob = jax.nn.log_softmax(logits)[jnp.arange(envs), action]
            closing = trial_episode == last_episode  # an episode ending now ends the trial
            fresh = draw(jax.random.split(level_key, envs), hyper.shift)
            next_level = jax.tree.map(lambda a, b: jnp.where(closing.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), fresh, timestep.state.level)
            nxt = step_to(timestep.state, action, next_level)
            reward = nxt.objective_rewards @ weights
            trial_end = nxt.done & closing
            # value of what the step led to: the final observation at a trial end (for time-outs),
            # else the next observation with the memory carried on
            seen = jnp.where(trial_end.reshape((-1, 1, 1, 1)), nxt.final_obs, nxt.obs)
            after = Memory(new_carry, action, reward, nxt.done & ~trial_end)
            _, _, next_value, _ = decide(runner.params, after, seen)
            record = Step(
                obs=timestep.obs, prev_action=memory.prev_action, prev_reward=memory.prev_reward, episode_start=memory.episode_start,
                reset=memory.prev_action < 0, action=action, log_prob=log_prob, value=value,
                next_value=next_value, reward=reward, terminated=trial_end & nxt.terminated, done=trial_end,
            )
            episode_returns = episode_returns + nxt.objective_rewards
            finished = nxt.done[:, None]
            stats = (jnp.where(finished, episode_returns, 0.0).sum(0), nxt.done.sum(), jnp.where(nxt.done, nxt.info["episode_length"], 0).sum())
            restarted = fresh_memory(network, envs)
            memory = jax.tree.map(lambda a, b: jnp.where(trial_end.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), restarted, Memory(new_carry, action, reward, nxt.done))
            trial_episode = jnp.where(nxt.done, jnp.where(trial_end, 0, trial_episode + 1), trial_episode)
            return (nxt, memory, trial_episode, jnp.where(finished, 0.0, episode_returns)), (record, stats)

        key, rollout_key = jax.random.split(runner.key)
        start = (runner.timestep, runner.memory, runner.trial_episode, runner.episode_returns)
        (timestep, memory, trial_episode, episode_returns), (batch, stats) = jax.lax.scan(env_step, start, jax.random.split(rollout_key, config.num_steps))
        runner = runner.replace(timestep=timestep, memory=memory, trial_episode=trial_episode, episode_returns=episode_returns, key=key)
        return runner, batch, stats

    def replay(params, carry0: jax.Array, batch: Step):
        """Logits, values and thinking of a (T, M) stretch, the memory rebuilt from `carry0`."""

        def one(carry, step: Step):
            carry = jnp.where(step.reset[:, None], 0.0, carry)
            memory = Memory(carry, step.prev_action, step.prev_reward, step.episode_start)
            carry, logits, value, thinking = decide(params, memory, step.obs)
            return carry, (logits, value, thinking)

        return jax.lax.scan(one, carry0, batch)[1]

    def loss_fn(params, hyper: Hyper, carry0, batch: Step, advantages, targets):
        logits, value, thinking = replay(params, carry0, batch)
        flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
        total, info, _ = surrogate_loss(config, hyper, params, flat(logits), flat(value), flat(thinking), flat(batch.action), flat(batch.log_prob), flat(advantages), flat(targets))
        return total, info

    def update(runner: RecurrentRunnerState, hyper: Hyper):
        carry0 = runner.memory.carry
        runner, batch, stats = collect(runner, hyper)
        return_sums, episodes, length_sum = jax.tree.map(lambda x: x.sum(0), stats)
        advantages, targets = gae(batch.reward, batch.value, batch.next_value, batch.terminated, batch.done, config.gamma, config.gae_lambda)
        per_minibatch = envs // config.minibatches

        def epoch(carry, epoch_key):
            order = jax.random.permutation(epoch_key, envs).reshape(config.minibatches, per_minibatch)

            def minibatch_step(carry, envs_idx):
                params, opt_state = carry
                pick = lambda x: x[:, envs_idx]  # noqa: E731
                args = (carry0[envs_idx], jax.tree.map(pick, batch), pick(advantages), pick(targets))
                (_, info), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, hyper, *args)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                updates = jax.tree.map(lambda u: step_size * u, updates)
                return (optax.apply_updates(params, updates), opt_state), info

            return jax.lax.scan(minibatch_step, carry, order)

        fraction = 1.0 - runner.update / num_updates if config.anneal_lr else 1.0
        step_size = -knob(hyper.learning_rate, config.learning_rate) * fraction
        key, epoch_key = jax.random.split(runner.key)
        (params, opt_state), info = jax.lax.scan(epoch, (runner.params, runner.opt_state), jax.random.split(epoch_key, config.epochs))
        metrics = update_metrics(info, episodes, length_sum, return_sums, world.objectives)
        return runner.replace(params=params, opt_state=opt_state, update=runner.update + 1, key=key), metrics

    def run(runner: RecurrentRunnerState, hyper: Hyper, updates: int):
        return jax.lax.scan(lambda r, _: update(r, hyper), runner, None, length=updates)

    def train(key: jax.Array, hyper: Hyper):
        runner, metrics = run(init(key, hyper), hyper, num_updates)
        return runner.params, metrics

    return RecurrentTrainer(config=config, network=network, init=init, run=run, train=train, collect=collect)
