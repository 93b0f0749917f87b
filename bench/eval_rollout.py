"""Evaluation rollouts: `diagnose.rollout.rollout_batched` against its previous step function.

An evaluation rollout plays one episode per level and masks every step after the episode's
end. It used to advance the environments with `World.step`, which at an episode's end resets
into a level drawn in the step, under vmap for every environment at every step, only for the
steps after the end to be masked. It now uses `World.step_in_episode`, which restarts the same
level instead. This script times both on every registered world, in the same process, with the
default PPO network (64x64 MLPs, random initial parameters) sampling the actions, and checks
that both give the same returns, lengths, actions and visited states on every valid step:

    python bench/eval_rollout.py                    # every world, 4096 levels, test distribution
    python bench/eval_rollout.py --world keys_chests --levels 512
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from mesascope import worlds
from mesascope.agents.networks import make_network
from mesascope.diagnose.rollout import Episodes, rollout_batched


def rollout_with_step(world: worlds.World, policy, levels, key: jax.Array) -> Episodes:
    """The rollout as it was: `World.step`, drawing an auto-reset level every step (the baseline)."""
    count = jax.tree.leaves(levels)[0].shape[0]
    reset_key, run_key = jax.random.split(key)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, count), levels)

    def one_step(carry, step_key):
        timestep, alive = carry
        policy_key, world_key = jax.random.split(step_key)
        actions = policy(jax.random.split(policy_key, count), timestep.obs, timestep.state).astype(jnp.int32)
        index = jax.vmap(world.state_index)(timestep.state)
        nxt = jax.vmap(world.step, in_axes=(0, 0, 0, None))(jax.random.split(world_key, count), timestep.state, actions, 0.0)
        return (nxt, alive & ~nxt.done), (nxt.objective_rewards * alive[:, None], index, actions, alive, nxt.terminated & alive)

    _, (rewards, index, actions, valid, terminated) = jax.lax.scan(one_step, (timestep, jnp.ones(count, bool)), jax.random.split(run_key, world.max_steps))
    return Episodes(rewards.sum(0), valid.sum(0).astype(jnp.int32), terminated.any(0), index.T, actions.T.astype(jnp.int32), valid.T)


def same_episodes(a: Episodes, b: Episodes) -> bool:
    """Equal returns, lengths and terminations, and equal actions and states on valid steps."""
    valid = np.asarray(a.valid)
    return (
        np.array_equal(np.asarray(a.objective_returns), np.asarray(b.objective_returns))
        and np.array_equal(np.asarray(a.length), np.asarray(b.length))
        and np.array_equal(np.asarray(a.terminated), np.asarray(b.terminated))
        and np.array_equal(valid, np.asarray(b.valid))
        and np.array_equal(np.asarray(a.actions)[valid], np.asarray(b.actions)[valid])
        and np.array_equal(np.asarray(a.state_index)[valid], np.asarray(b.state_index)[valid])
    )


def measure(name: str, count: int, repeats: int) -> tuple[float, float, bool]:
    """(seconds with `step`, seconds with `step_in_episode`, same episodes) for one world."""
    world = worlds.make(name)
    levels = world.sample_levels(jax.random.key(1), world.distributions["test"].shift, count)
    network = make_network(world.num_actions, 64, 2)
    params = network.init(jax.random.key(2), jnp.zeros((1, *world.observation_shape), jnp.uint8))

    def policy(keys, obs, state):
        logits, _ = network.apply(params, obs)
        return jax.vmap(jax.random.categorical)(keys, logits)

    calls = {
        "step": jax.jit(lambda key: rollout_with_step(world, policy, levels, key)),
        "step_in_episode": jax.jit(lambda key: rollout_batched(world, policy, levels, key)),
    }
    key = jax.random.key(3)
    same = same_episodes(calls["step"](key), calls["step_in_episode"](key))
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():  # interleaved, so drifts of the machine hit both
            start = time.perf_counter()
            jax.block_until_ready(call(key))
            times[label].append(time.perf_counter() - start)
    return statistics.median(times["step"]), statistics.median(times["step_in_episode"]), same


def main() -> None:
    """Print one row per world: both times, their ratio, and whether the episodes agree."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", help="one registered world (default: every one)")
    parser.add_argument("--levels", type=int, default=4096, help="levels (one episode each) per rollout")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls of each (median reported)")
    args = parser.parse_args()
    if args.world is not None and args.world not in worlds.names():
        parser.error(f"argument --world: unknown world {args.world!r}; registered worlds: {', '.join(worlds.names())}")
    if args.levels < 1 or args.repeats < 1:
        parser.error("arguments --levels and --repeats must be at least 1")
    print(f"# evaluation rollouts, {args.levels} levels, 64x64 MLP policy; jax {jax.__version__}; median of {args.repeats} interleaved calls")
    print(f"{'world':>12} {'step (ms)':>10} {'in episode (ms)':>16} {'speed-up':>9} {'same episodes':>14}")
    for name in [args.world] if args.world else worlds.names():
        old, new, same = measure(name, args.levels, args.repeats)
        print(f"{name:>12} {old * 1e3:>10.0f} {new * 1e3:>16.0f} {old / new:>8.2f}x {str(same):>14}", flush=True)


if __name__ == "__main__":
    main()
