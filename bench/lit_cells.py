"""Lit cells against maps: the grid worlds' two ways to draw an observation, timed in one process.

`GridWorld.observe` writes the lit cells into a dark stack (`observe_lit_cells`) when every
object sits on one cell and at least two channels are lit; otherwise it draws a map per channel
(`observe_maps`). For each world given (`NAME` or `NAME:VIEW`), this builds today's world twice,
drawing as it does and forced to draw maps, and times, interleaved within every repeat (median
CPU seconds of this process, as `world_throughput.py --layers` does): the world before the
grid-world layer (bench/legacy_worlds.py), then per-step sampling and the level pool, each way.
Ratios are to the legacy world of the same run; `lit/maps` compares the two drawings directly.

    python bench/lit_cells.py coin detour lamp corner:global corner
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from unittest import mock

sys.argv, ARGV = sys.argv[:1] + ["--layers"], sys.argv[1:]  # world_throughput parses its own arguments on import
sys.path.insert(0, str(Path(__file__).resolve().parent))
import world_throughput as wt  # noqa: E402
from legacy_worlds import has_legacy, legacy_world  # noqa: E402

import jax  # noqa: E402

from mesascope import worlds  # noqa: E402
from mesascope.worlds.gridworld import GridWorld  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("worlds", nargs="+", metavar="NAME[:VIEW]", help="registered worlds, optionally with a view")
    parser.add_argument("--batch", type=int, default=4096, help="environments (default 4096)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per variant (median reported)")
    parser.add_argument("--keep", choices=("timestep", "obs"), default="obs", help="what each scan keeps (see world_throughput.py)")
    parser.add_argument("--actions", choices=("step", "ahead"), default="ahead", help="where the random actions are drawn (see world_throughput.py)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.repeats < 1:
        parser.error("--batch and --repeats must be at least 1")
    known = [name for name in worlds.names() if has_legacy(name)]
    for spec in args.worlds:
        name, _, view = spec.partition(":")
        if name not in known:
            parser.error(f"world {name!r}: choose one with a version before the layer to compare with: {', '.join(known)}")
        if view and view not in ("egocentric", "global"):
            parser.error(f"world {spec!r}: the view must be egocentric or global, got {view!r}")
    return args


def measure(spec: str, args: argparse.Namespace) -> dict[str, float]:
    """Steps per CPU-second of each variant for world `spec` (`NAME` or `NAME:VIEW`)."""
    name, _, view = spec.partition(":")
    options = {"view": view} if view else {}
    world = worlds.make(name, **options)
    shift, length, key = world.distributions["test"].shift, wt.scan_length(args.batch, 2**18), jax.random.key(0)
    mode = {"keep": args.keep, "actions": args.actions}
    calls = {}

    def prepare(label, subject, runner):
        calls[label] = wt.compiled_call(subject, runner, key, args.batch, shift)[0]

    old = legacy_world(name, **options)
    prepare("legacy", old, wt.make_runner(old, args.batch, length, shift, **mode))
    pool = int(1.25 * 6 * args.batch)  # more than any world here ends in a call
    for drawing in ("lit", "maps"):
        forced = mock.patch.object(GridWorld, "lights_cells", lambda self, entries: False) if drawing == "maps" else contextlib.nullcontext()
        with forced:  # tracing happens inside, so the patch decides the drawing of the compiled programs
            built = worlds.make(name, **options)
            prepare(f"layer {drawing}", built, wt.make_runner(built, args.batch, length, shift, **mode))
            prepare(f"pool {drawing}", built, wt.make_pool_runner(built, args.batch, length, shift, pool, **mode))
    return {label: args.batch * length / seconds for label, seconds in wt.interleaved_cpu_medians(calls, args.repeats).items()}


def main() -> None:
    args = parse_args(ARGV)
    print(f"# lit cells vs maps  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  cpu: {wt.cpu_model()}  jax {jax.__version__}")
    print(f"# batch {args.batch}, median of {args.repeats} interleaved calls; the scan keeps: {args.keep}; actions drawn: {args.actions}")
    print(f"{'world':>16} {'draws':>5} {'legacy':>9} {'layer lit':>10} {'layer maps':>11} {'pool lit':>9} {'pool maps':>10} {'pool lit/maps':>14}   (ratios to legacy)")
    for spec in args.worlds:
        name, _, view = spec.partition(":")
        built = worlds.make(name, **({"view": view} if view else {}))
        r = measure(spec, args)
        print(f"{spec:>16} {draws(built):>5} {wt.fmt(r['legacy']):>9} {r['layer lit'] / r['legacy']:>9.3f}x {r['layer maps'] / r['legacy']:>10.3f}x"
              f" {r['pool lit'] / r['legacy']:>8.3f}x {r['pool maps'] / r['legacy']:>9.3f}x {r['pool lit'] / r['pool maps']:>13.3f}x", flush=True)


def draws(world) -> str:
    """How `world` draws its observation by default: `lit` cells or `maps`."""
    if not isinstance(world, GridWorld):
        return "maps"
    level = jax.eval_shape(world.sample_level, jax.random.key(0), jax.numpy.float32(0.0))
    return "lit" if world.lights_cells(jax.eval_shape(world.objects, level, jax.eval_shape(world.start, level))) else "maps"


if __name__ == "__main__":
    main()
