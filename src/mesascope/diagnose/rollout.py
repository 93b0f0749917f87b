"""Rollouts of any policy on any batch of levels, every episode scored under every objective."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from mesascope.worlds.core import Level, State, World

Policy = Callable[[jax.Array, jax.Array, State], jax.Array]
"""A policy for one environment: (key, observation, state) -> action. Learned policies read
only the observation; scripted planners may read the state."""


class Episodes(struct.PyTreeNode):
    """One episode per level, stepped for exactly `max_steps` steps and masked after it ended.

    Attributes:
        objective_returns: (N, K) undiscounted return under every objective.
        length: (N,) steps taken before the episode ended.
        terminated: (N,) whether it ended by termination (else truncation).
        state_index: (N, T) tabular index of the state each action was taken in.
        actions: (N, T) the actions.
        valid: (N, T) whether step t happened before the episode ended.
    """

    objective_returns: jax.Array
    length: jax.Array
    terminated: jax.Array
    state_index: jax.Array
    actions: jax.Array
    valid: jax.Array


BatchPolicy = Callable[[jax.Array, jax.Array, State], jax.Array]
"""A policy for a whole batch: (keys (N,), observations (N, ...), states) -> actions (N,). One call
per time step, so a host-side policy (via `jax.pure_callback`) is called once per step."""


def rollout(world: World, policy: Policy, levels: Level, key: jax.Array) -> Episodes:
    """Run `policy` for one episode on each level of the batch `levels` (jittable)."""
    return rollout_batched(world, jax.vmap(policy), levels, key)


def rollout_batched(world: World, policy: BatchPolicy, levels: Level, key: jax.Array) -> Episodes:
    """`rollout` with a policy over the whole batch; the same keys, so a batched policy that acts
    like a vmapped `Policy` plays exactly the same episodes (jittable)."""
    count = jax.tree.leaves(levels)[0].shape[0]
    reset_key, run_key = jax.random.split(key)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, count), levels)

    def one_step(carry, step_key):
        timestep, alive = carry
        policy_key, _ = jax.random.split(step_key)  # the second key drew auto-reset levels; kept so the policy's keys stay as they were
        actions = policy(jax.random.split(policy_key, count), timestep.obs, timestep.state).astype(jnp.int32)
        index = jax.vmap(world.state_index)(timestep.state)
        nxt = jax.vmap(world.step_in_episode)(timestep.state, actions)
        rewards = nxt.objective_rewards * alive[:, None]
        record = (rewards, index, actions, alive, nxt.terminated & alive)
        return (nxt, alive & ~nxt.done), record

    alive = jnp.ones(count, bool)
    _, (rewards, index, actions, valid, terminated) = jax.lax.scan(
        one_step, (timestep, alive), jax.random.split(run_key, world.max_steps)
    )
    return Episodes(
        objective_returns=rewards.sum(0),
        length=valid.sum(0).astype(jnp.int32),
        terminated=terminated.any(0),
        state_index=index.T,
        actions=actions.T.astype(jnp.int32),
        valid=valid.T,
    )


MemoryPolicy = Callable[[jax.Array, jax.Array, Any, tuple], tuple[jax.Array, Any]]
"""A policy with memory over a batch: (keys (N,), observations, memory, feedback) -> (actions (N,),
new memory). `feedback` is (previous action (N,) int32, -1 at a trial's start; previous reward
(N,); whether an episode just began (N,) bool), what an RL² agent reads beside the observation."""


def rollout_trials(world: World, policy: MemoryPolicy, memory: Any, levels: Level, key: jax.Array, episodes: int, reward_weights: jax.Array) -> Episodes:
    """A trial of `episodes` episodes on each level of the batch, the policy's memory carried
    through the trial (frozen once an episode has ended, until the next one starts). Every field
    of the result has a leading episode axis (E, N, ...). The reward fed back is
    `objective_rewards @ reward_weights`, the agent's training reward (jittable)."""
    count = jax.tree.leaves(levels)[0].shape[0]
    feedback = (jnp.full((count,), -1, jnp.int32), jnp.zeros((count,), jnp.float32), jnp.ones((count,), bool))
    keep = lambda alive, new, old: jax.tree.map(lambda a, b: jnp.where(alive.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)  # noqa: E731
    played = []
    for _ in range(episodes):
        key, reset_key, run_key = jax.random.split(key, 3)
        timestep = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, count), levels)

        def one_step(carry, step_key):
            timestep, alive, memory, feedback = carry
            policy_key, _ = jax.random.split(step_key)
            actions, new_memory = policy(jax.random.split(policy_key, count), timestep.obs, memory, feedback)
            actions = actions.astype(jnp.int32)
            index = jax.vmap(world.state_index)(timestep.state)
            nxt = jax.vmap(world.step_in_episode)(timestep.state, actions)
            memory = keep(alive, new_memory, memory)
            feedback = keep(alive, (actions, nxt.objective_rewards @ reward_weights, jnp.zeros((count,), bool)), feedback)
            record = (nxt.objective_rewards * alive[:, None], index, actions, alive, nxt.terminated & alive)
            return (nxt, alive & ~nxt.done, memory, feedback), record

        start = (timestep, jnp.ones(count, bool), memory, feedback)
        (_, _, memory, feedback), (rewards, index, actions, valid, terminated) = jax.lax.scan(one_step, start, jax.random.split(run_key, world.max_steps))
        feedback = (feedback[0], feedback[1], jnp.ones((count,), bool))  # the next episode begins
        played.append(Episodes(rewards.sum(0), valid.sum(0).astype(jnp.int32), terminated.any(0), index.T, actions.T, valid.T))
    return jax.tree.map(lambda *xs: jnp.stack(xs), *played)


def episode_frames(world: World, policy: Policy, level: Level, key: jax.Array) -> jax.Array:
    """RGB frames (T+1, h, w, 3) of one episode on `level`; frames after the end repeat the last."""
    reset_key, run_key = jax.random.split(key)
    timestep = world.initial_timestep(reset_key, level)

    def one_step(carry, step_key):
        timestep, alive, last_frame = carry
        policy_key, _ = jax.random.split(step_key)
        action = policy(policy_key, timestep.obs, timestep.state)
        nxt = world.step_in_episode(timestep.state, action)
        stepped = State(level=timestep.state.level, inner=_final_inner(world, timestep, action), time=nxt.info["episode_length"])
        frame = jnp.where(alive, world.render_state(stepped), last_frame)
        return (nxt, alive & ~nxt.done, frame), frame

    first = world.render_state(timestep.state)
    _, frames = jax.lax.scan(one_step, (timestep, jnp.ones((), bool), first), jax.random.split(run_key, world.max_steps))
    return jnp.concatenate([first[None], frames])


def _final_inner(world: World, timestep: Any, action: jax.Array):
    """The dynamic state an action leads to, before any auto-reset."""
    inner, _, _ = world.transition(timestep.state.level, timestep.state.inner, action)
    return inner


def greedy(policy_logits: Callable[[jax.Array], jax.Array]) -> Policy:
    """A policy that takes the most likely action of a logits function of the observation."""
    return lambda key, obs, state: jnp.argmax(policy_logits(obs)).astype(jnp.int32)


def sampled(policy_logits: Callable[[jax.Array], jax.Array]) -> Policy:
    """A policy that samples from the softmax of a logits function of the observation."""
    return lambda key, obs, state: jax.random.categorical(key, policy_logits(obs)).astype(jnp.int32)


def uniform_random(num_actions: int) -> Policy:
    """The uniform random policy."""
    return lambda key, obs, state: jax.random.randint(key, (), 0, num_actions)
