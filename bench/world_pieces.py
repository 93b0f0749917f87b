"""Where a world step's time goes: each piece of `World` timed alone, jitted and vmapped.

For each world (default options, test shift), batch `--batch`: `sample_level`, `start`,
`transition`, `observe`, `step_to` (a step that resets into a given level, as the level buffer
does) and `step` (with a level drawn per environment), each compiled alone and called `--repeats`
times (median milliseconds, wall clock). Compare pieces only within one run.

    python bench/world_pieces.py coin cleaning coin_colour tamper
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax

from mesascope import worlds


def pieces(name: str, batch: int, repeats: int) -> dict[str, float]:
    """Median milliseconds of each piece of world `name` over `batch` environments."""
    world = worlds.make(name)
    shift = world.distributions["test"].shift
    levels = world.sample_levels(jax.random.key(0), shift, batch)
    state = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(1), batch), levels).state
    actions = jax.random.randint(jax.random.key(2), (batch,), 0, world.num_actions)
    keys = jax.random.split(jax.random.key(3), batch)
    calls = {
        "sample": (jax.vmap(lambda k: world.sample_level(k, shift)), (keys,)),
        "start": (jax.vmap(world.start), (levels,)),
        "transition": (jax.vmap(world.transition), (state.level, state.inner, actions)),
        "observe": (jax.vmap(world.observe), (state.level, state.inner)),
        "step_to": (jax.vmap(world.step_to), (state, actions, levels)),
        "step": (jax.vmap(world.step, in_axes=(0, 0, 0, None)), (keys, state, actions, shift)),
    }
    out = {}
    for label, (function, args) in calls.items():
        compiled = jax.jit(function).lower(*args).compile()
        jax.block_until_ready(compiled(*args))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times.append(time.perf_counter() - start)
        out[label] = statistics.median(times) * 1e3
    return out


def main() -> None:
    """Print one line per world."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("world", nargs="+", help="registered world names")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    unknown = [name for name in args.world if name not in worlds.names()]
    if unknown:
        parser.error(f"argument world: {unknown} are not worlds; choose from {', '.join(worlds.names())}")
    if min(args.batch, args.repeats) < 1:
        parser.error("arguments --batch and --repeats must be at least 1")
    print(f"# world pieces, batch {args.batch}, median ms of {args.repeats} calls; jax {jax.__version__}")
    for name in args.world:
        print(f"{name:>12}  " + "  ".join(f"{label} {ms:.3f}" for label, ms in pieces(name, args.batch, args.repeats).items()), flush=True)


if __name__ == "__main__":
    main()
