"""What corner's egocentric step is made of, and what its observation costs in other forms.

Two tables, each timed in one process (medians of interleaved calls, CPU seconds of this process
as `world_throughput.py --layers` measures):

1. **The step.** The legacy world (bench/legacy_worlds.py), the level pool, the pool with the
   observation replaced by a constant (what the rest of the step costs), and the reuse mode, in
   µs of CPU per step of the batch, with `--keep` and `--actions` as in world_throughput.py.
   `--world` takes any world apart this way (corner by default); the pool holds 1.25 times
   the episodes a call of the buffer mode ends, as in world_throughput.py.
2. **The observation alone** (`--forms`): a vmapped observation of the batch on fixed test
   levels, with the agent moving in a 64-step scan, in the forms listed in `FORMS`. Each form
   that builds the whole observation is checked against `world.observe` byte for byte first.

    python bench/corner_observation.py                      # both tables, actions in the step, keeping obs
    python bench/corner_observation.py --actions ahead --no-forms
    python bench/corner_observation.py --world detour --keep timestep --no-forms

Corner's egocentric view has two channels, walls and cheese (docs/benchmarks.md, round 10).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.argv, ARGV = sys.argv[:1] + ["--layers"], sys.argv[1:]  # world_throughput parses its own arguments on import
sys.path.insert(0, str(Path(__file__).resolve().parent))
import world_throughput as wt  # noqa: E402
from legacy_worlds import has_legacy, legacy_world  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from mesascope import worlds  # noqa: E402
from mesascope.worlds import grid  # noqa: E402

SCAN = 64


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="corner", help="the world whose step is taken apart (default corner; the forms table is corner's)")
    parser.add_argument("--batch", type=int, default=4096, help="environments (default 4096)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per variant (median reported)")
    parser.add_argument("--keep", choices=("timestep", "obs"), default="obs", help="what each scan keeps (see world_throughput.py)")
    parser.add_argument("--actions", choices=("step", "ahead"), default="step", help="where the random actions are drawn (see world_throughput.py)")
    parser.add_argument("--no-forms", action="store_true", help="skip the table of observation forms")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.repeats < 1:
        parser.error("--batch and --repeats must be at least 1")
    if args.world not in worlds.names():
        parser.error(f"argument --world: {args.world!r} is not a registered world; choose from {', '.join(worlds.names())}")
    if not has_legacy(args.world):
        parser.error(f"argument --world: {args.world!r} did not exist before the grid-world layer, so it has no legacy step to compare with")
    if args.world != "corner" and not args.no_forms:
        parser.error("argument --world: the table of observation forms is corner's; pass --no-forms with another world")
    return args


def median_times(calls: dict, repeats: int, per: int) -> dict[str, float]:
    """Median CPU µs per `per` of each call, the calls interleaved within every repeat."""
    return {label: seconds / per * 1e6 for label, seconds in wt.interleaved_cpu_medians(calls, repeats).items()}


def step_table(args: argparse.Namespace) -> dict[str, float]:
    """CPU µs per step of the batch: legacy, pool, pool with a constant observation, reuse."""
    world = worlds.make(args.world)
    shift, key, mode = world.distributions["test"].shift, jax.random.key(0), {"keep": args.keep, "actions": args.actions}
    buffered, state = wt.compiled_call(world, wt.make_buffered_runner(world, args.batch, SCAN, shift, 8, **mode), key, args.batch, shift)
    jax.block_until_ready(buffered())  # a second call: the first starts every episode at once
    pool = max(1, math.ceil(1.25 * float(state["second"])))
    calls = {}
    old = legacy_world(args.world)
    calls["legacy"] = wt.compiled_call(old, wt.make_runner(old, args.batch, SCAN, shift, **mode), key, args.batch, shift)[0]
    calls["pool"] = wt.compiled_call(world, wt.make_pool_runner(world, args.batch, SCAN, shift, pool, **mode), key, args.batch, shift)[0]
    blank = worlds.make(args.world)
    shape = blank.observation_shape
    object.__setattr__(blank, "observe", lambda level, inner: jnp.zeros(shape, jnp.uint8))
    calls["pool, observation constant"] = wt.compiled_call(blank, wt.make_pool_runner(blank, args.batch, SCAN, shift, pool, **mode), key, args.batch, shift)[0]
    calls["reuse"] = wt.compiled_call(world, wt.make_reuse_runner(world, args.batch, SCAN, shift, **mode), key, args.batch, shift)[0]
    return median_times(calls, args.repeats, SCAN)


def forms(world) -> dict:
    """name -> (function of (level, position, prerendered) -> array, whether it is the whole observation)."""
    shape = world.observation_shape
    height, width = shape[0], shape[1]
    window_index = lambda level, position: grid.egocentric_offset(level.walls.shape, position, level.cheese)  # noqa: E731

    def walls(level, position, _):
        return grid.egocentric_walls(level.walls, position).astype(jnp.uint8)

    def cheese_cell(level, position):
        cell = window_index(level, position)
        return jnp.where(jnp.all((cell >= 0) & (cell < jnp.array([height, width]))), cell, height)  # off the view: dropped

    def lit(stacked, level, position):
        cell = cheese_cell(level, position)
        return stacked.at[cell[0], cell[1], 1].set(1, mode="drop")

    def sliced(pre, level, position, flat):
        centre = grid.plane_window_centre(level.walls.shape, position)
        if flat:
            return jax.lax.dynamic_slice(pre.reshape(pre.shape[0], -1), (centre[0], 2 * centre[1]), (height, 2 * width)).reshape(shape)
        return jax.lax.dynamic_slice(pre, (centre[0], centre[1], 0), shape)

    def packed(level, position, _):
        low = grid.egocentric_walls(level.walls, position).astype(jnp.uint16)
        high = grid.egocentric_cell(level.walls.shape, position, level.cheese).astype(jnp.uint16)
        return jax.lax.bitcast_convert_type(low | (high << 8), jnp.uint8)

    return {
        "today's (world.observe)": (lambda level, position, _: world.observe(level, position), True),
        "walls plane alone, padded-map window": (walls, False),
        "walls plane alone, from row bitmasks": (lambda level, position, _: grid.egocentric_walls_from_rows(level.walls, position).astype(jnp.uint8), False),
        "cheese plane alone, one-hot by comparisons": (lambda level, position, _: grid.egocentric_cell(level.walls.shape, position, level.cheese), False),
        "cheese plane alone, one scattered cell": (
            lambda level, position, _: jnp.zeros(shape[:2], jnp.uint8).at[tuple(cheese_cell(level, position))].set(1, mode="drop"), False),
        "both, stacked": (lambda level, position, pre: jnp.stack([walls(level, position, pre), grid.egocentric_cell(level.walls.shape, position, level.cheese)], -1), True),
        "both, walls padded with a dark plane, cheese scattered": (
            lambda level, position, pre: lit(jnp.pad(walls(level, position, pre)[..., None], ((0, 0), (0, 0), (0, 1))), level, position), True),
        "both, walls stacked with a dark plane, cheese scattered": (
            lambda level, position, pre: lit(jnp.stack([walls(level, position, pre), jnp.zeros(shape[:2], jnp.uint8)], -1), level, position), True),
        "both, broadcast-multiplied walls, cheese scattered": (
            lambda level, position, pre: lit(walls(level, position, pre)[..., None] * jnp.array([1, 0], jnp.uint8), level, position), True),
        "a two-channel map rendered per level, sliced (H, W, 2)": (lambda level, position, pre: sliced(pre, level, position, False), True),
        "a two-channel map rendered per level, sliced (H, 2W)": (lambda level, position, pre: sliced(pre, level, position, True), True),
        "packed in 16-bit words, bitcast to bytes": (packed, True),
    }


def prerendered(world, level):
    """One level's padded two-channel map (walls, cheese), so that a window of it is the
    egocentric observation from any interior cell (rendering it is not timed)."""
    height, width = world.observation_shape[:2]
    interior = level.walls[1:-1, 1:-1].astype(jnp.uint8)
    margin = ((height + 1) // 2, (width + 1) // 2)  # the interior's size: a window then starts at the agent's centre cell
    walls = jnp.pad(interior, ((margin[0], margin[0]), (margin[1], margin[1])), constant_values=1)
    cheese = jnp.zeros_like(walls).at[level.cheese[0] - 1 + margin[0], level.cheese[1] - 1 + margin[1]].set(1)
    return jnp.stack([walls, cheese], -1)


def forms_table(args: argparse.Namespace) -> dict[str, float]:
    """CPU µs per step of the batch for each form of the observation."""
    world = worlds.make("corner")
    key = jax.random.key(0)
    levels = jax.vmap(lambda k: world.sample_level(k, world.distributions["test"].shift))(jax.random.split(key, args.batch))
    positions = jax.vmap(world.start)(levels)
    pre = jax.vmap(lambda level: prerendered(world, level))(levels)
    reference = jax.jit(jax.vmap(world.observe))(levels, positions)
    interior = jnp.array(levels.walls.shape[1:]) - 2
    calls = {}
    for name, (form, whole) in forms(world).items():
        batched = jax.vmap(form)
        if whole and not bool((jax.jit(batched)(levels, positions, pre) == reference).all()):
            raise SystemExit(f"error: the form {name!r} does not give world.observe's bytes")

        def run(levels, positions, pre, batched=batched):
            def one_step(carry, i):  # the agent moves (so nothing is hoisted); the whole observation is carried
                moved = jnp.clip(carry[0] + jnp.stack([i % 3 - 1, i // 3 % 3 - 1]), 1, interior)
                return (moved, batched(levels, moved, pre)), None
            first = batched(levels, positions, pre)
            return jax.lax.scan(one_step, (positions, first), jnp.arange(SCAN))[0]

        compiled = jax.jit(run).lower(levels, positions, pre).compile()
        calls[name] = lambda compiled=compiled: compiled(levels, positions, pre)
        jax.block_until_ready(calls[name]())
    return median_times(calls, args.repeats, SCAN)


def main() -> None:
    args = parse_args(ARGV)
    print(f"# {args.world}'s step  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  cpu: {wt.cpu_model()}  jax {jax.__version__}")
    print(f"# batch {args.batch}, CPU µs per step of the batch, median of {args.repeats} interleaved calls; "
          f"the scan keeps: {args.keep}; actions drawn: {args.actions}")
    steps = step_table(args)
    for label, micros in steps.items():
        print(f"{label:>30} {micros:9.1f} µs   legacy/this {steps['legacy'] / micros:6.3f}x", flush=True)
    if not args.no_forms:
        print("# the observation alone, on fixed test levels, the agent moving")
        for label, micros in forms_table(args).items():
            print(f"{label:>58} {micros:9.1f} µs", flush=True)


if __name__ == "__main__":
    main()
