"""Where a level-buffer step spends its time: ablations of `levels.buffered_step`, in one process.

Every variant steps the vmapped world `--batch` environments wide with uniform random actions
inside one jitted `lax.scan` (the runners of bench/world_throughput.py), timed in turn within
every repeat (medians of CPU seconds). Printed as steps per second and as ratios to `legacy`
(the world before the grid-world layer, per-step level draws, whole timestep kept):

- `legacy/obs`: the same legacy world, the scan keeping only state and observation, so XLA
  drops the separate final observation (the cost of writing it);
- `buffer`: `levels.buffered_batch_step` with `--levels` levels per environment;
- `buffer/no-cond`: the same steps without the batch-wide `lax.cond` that redraws for an
  environment past its buffer (levels then repeat; a timing ablation, not a usable mode);
- `buffer/selects`: as `buffer/no-cond`, the next level taken by K selects, not a gather;
- `buffer/stored-obs`: as `buffer/no-cond`, in the buffer's first design: start states and
  first observations stored at the fill, the next observation a select between the stored one
  and the stepped one (instead of observing the chosen state).

    python bench/buffer_ablations.py                      # coin and detour
    python bench/buffer_ablations.py --world cleaning corner tamper vacuum
"""

from __future__ import annotations

import argparse
import functools
import sys

_ARGV, sys.argv = sys.argv, sys.argv[:1]  # world_throughput parses the command line on import
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from legacy_worlds import has_legacy  # noqa: E402
from world_throughput import first_timestep, interleaved_cpu_medians, legacy_world, make_buffered_runner, make_runner  # noqa: E402

from mesascope import worlds  # noqa: E402
from mesascope.worlds import levels as level_samplers  # noqa: E402
from mesascope.worlds.core import State, Timestep  # noqa: E402

sys.argv = _ARGV


def take_by_gather(leaf: jax.Array, slot: jax.Array) -> jax.Array:
    """The buffer's own way: index the slot."""
    return leaf[slot]


def take_by_selects(leaf: jax.Array, slot: jax.Array) -> jax.Array:
    """The same value by one select per slot."""
    out = leaf[0]
    for k in range(1, leaf.shape[0]):
        out = jnp.where(slot == k, leaf[k], out)
    return out


def ablated_step(world, buffer: dict, state, action, take=take_by_gather, stored_obs=False):
    """`levels.buffered_step` with its take of the next level swapped (`take`) and, with
    `stored_obs`, the design until 2026-12-01: start states and first observations stored in the
    buffer and the next observation chosen by a select between the stored one and the stepped one."""
    slot = buffer["cursor"] % jax.tree.leaves(buffer["levels"])[0].shape[0]
    pick = lambda tree: jax.tree.map(lambda leaf: take(leaf, slot), tree)  # noqa: E731
    if not stored_obs:
        timestep = world.step_to(state, action, pick(buffer["levels"]))
        return timestep, {**buffer, "cursor": buffer["cursor"] + timestep.done.astype(jnp.int32)}
    inner, rewards, terminated = world.transition(state.level, state.inner, action)
    clock = state.time + 1
    truncated = (clock >= world.max_steps) & ~terminated
    done = terminated | truncated
    final_obs = world.observe(state.level, inner)
    fresh = State(level=pick(buffer["levels"]), inner=pick(buffer["starts"]), time=jnp.zeros((), jnp.int32))
    stepped = State(level=state.level, inner=inner, time=clock)
    timestep = Timestep(
        obs=jnp.where(done, pick(buffer["first_obs"]), final_obs),
        state=jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, stepped),
        objective_rewards=rewards.astype(jnp.float32),
        terminated=terminated,
        truncated=truncated,
        final_obs=final_obs,
        info={"episode_length": clock},
    )
    return timestep, {**buffer, "cursor": buffer["cursor"] + done.astype(jnp.int32)}


def make_ablated_runner(world, batch: int, length: int, shift: float, levels: int, **variant):
    """A scan of `ablated_step` over a buffer of `levels` levels per environment filled per call."""

    def fill(key):
        drawn = world.sample_levels(key, shift, levels)
        buffer = {"levels": drawn, "cursor": jnp.zeros((), jnp.int32)}
        if variant.get("stored_obs"):
            buffer["starts"] = jax.vmap(world.start)(drawn)
            buffer["first_obs"] = jax.vmap(world.observe)(drawn, buffer["starts"])
        return buffer

    step = jax.vmap(functools.partial(ablated_step, world, **variant))

    def run(key, timestep):
        fill_key, key = jax.random.split(key)
        buffers = jax.vmap(fill)(jax.random.split(fill_key, batch))

        def one_step(carry, step_key):
            timestep, buffers, episodes = carry
            actions = jax.random.randint(step_key, (batch,), 0, world.num_actions)
            timestep, buffers = step(buffers, timestep.state, actions)
            return (timestep, buffers, episodes + timestep.done.sum()), None

        (timestep, _, episodes), _ = jax.lax.scan(one_step, (timestep, buffers, jnp.zeros((), jnp.int32)), jax.random.split(key, length))
        return timestep, episodes

    return run


def measure(name: str, batch: int, levels: int, repeats: int) -> dict[str, float]:
    """Steps per CPU-second of every variant on one world."""
    world, old = worlds.make(name), legacy_world(name)
    shift = world.distributions["test"].shift
    length = max(32, 2**18 // batch)
    variants = {
        "legacy": (old, make_runner(old, batch, length, shift)),
        "legacy/obs": (old, make_runner(old, batch, length, shift, "obs")),
        "buffer": (world, make_buffered_runner(world, batch, length, shift, levels)),
        "buffer/no-cond": (world, make_ablated_runner(world, batch, length, shift, levels)),
        "buffer/selects": (world, make_ablated_runner(world, batch, length, shift, levels, take=take_by_selects)),
        "buffer/stored-obs": (world, make_ablated_runner(world, batch, length, shift, levels, stored_obs=True)),
    }
    key = jax.random.key(0)
    calls = {}
    for label, (subject, runner) in variants.items():
        timestep = jax.jit(first_timestep, static_argnums=(0, 2, 3))(subject, key, batch, shift)
        compiled = jax.jit(runner).lower(key, timestep).compile()
        calls[label] = functools.partial(compiled, key, timestep)
        jax.block_until_ready(calls[label]())  # warm-up
    return {label: batch * length / seconds for label, seconds in interleaved_cpu_medians(calls, repeats).items()}


def main() -> None:
    """Print one row per world: each variant's rate and its ratio to `legacy`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", nargs="+", default=["coin", "detour"], help="worlds with a legacy version")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--levels", type=int, default=8, help="levels per environment in the buffer")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls of each (median reported)")
    args = parser.parse_args()
    unknown = [name for name in args.world if name not in worlds.names() or not has_legacy(name)]
    if unknown:
        parser.error(f"argument --world: {unknown} not worlds with a legacy version; choose from {', '.join(n for n in worlds.names() if has_legacy(n))}")
    if min(args.batch, args.levels, args.repeats) < 1:
        parser.error("arguments --batch, --levels and --repeats must be at least 1")
    print(f"# buffer ablations, batch {args.batch}, {args.levels} levels per env; jax {jax.__version__}; steps per CPU-second, median of {args.repeats}")
    for name in args.world:
        rates = measure(name, args.batch, args.levels, args.repeats)
        print(f"{name:>12}  " + "  ".join(f"{label} {rate / 1e6:.2f}M ({rate / rates['legacy']:.2f}x)" for label, rate in rates.items()), flush=True)


if __name__ == "__main__":
    main()
