"""World throughput: steps per second with symbolic observations inside `lax.scan`.

For every registered world (or `--world NAME`) and batch sizes 1, 64, 1024 and 4096, a jitted
`lax.scan` steps the vmapped world with uniform random actions drawn batch-wise (one
`randint((B,))` per step; the world's auto-reset takes one key per environment). The baseline is
a plain vectorized NumPy coin world (bench/numpy_coin.py, checked bit for bit against the JAX
world first) at the same batch sizes, measured in the same run.

    python bench/world_throughput.py                 # one CPU device
    python bench/world_throughput.py --devices 2     # also shard the batch over 2 host devices
    python bench/world_throughput.py --layers --batches 4096   # legacy vs layer vs level buffer

`--layers` compares, in the same run and at each batch: the world as it was before the
grid-world layer (bench/legacy_worlds.py, from git), today's world (both drawing a level per
environment at every step), and today's world in level-buffer mode (each environment draws
`--buffer-levels` levels once per timed call, outside the step, and resets into them in turn;
one past its buffer draws in the step, so no level repeats), and the reuse mode (one level per
environment per call, replayed by every episode of the call, as jaxgmg does by default).
The pool mode draws one pool of levels per call for the whole batch (`--pool-margin` sizes it)
and deals them out as episodes end (`levels.pooled_batch_step`); no level repeats either.
`--actions ahead` draws each call's random actions before its scan instead of inside every step.
`--keep obs` makes every scan keep only state and observation (as an evaluation rollout),
instead of the whole timestep with its final observation (as a trainer that stores them).

Timing: compile once (reported separately), one warm-up call, then `--repeats` timed calls each
ended by `block_until_ready`; the table reports the median. Each call runs about `--work` steps
(batch x scan length), so that small batches are not dominated by dispatch.
"""

from __future__ import annotations

import argparse
import ast
import functools
import os
import platform
import statistics
import sys
import time
from pathlib import Path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", help="one registered world (default: every one)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 4096], help="batch sizes")
    parser.add_argument("--devices", type=int, default=1, help="host CPU devices to shard the batch over (sets XLA_FLAGS)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per measurement (median reported)")
    parser.add_argument("--work", type=int, default=2**18, help="environment steps per timed call (approximately)")
    parser.add_argument("--numpy-work", type=int, default=2**16, help="environment steps per timed NumPy call")
    parser.add_argument("--shift", type=float, default=None, help="shift dial (default: the test distribution's)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a world option, e.g. view=global (repeatable)")
    parser.add_argument("--no-numpy", action="store_true", help="skip the NumPy baseline")
    parser.add_argument("--layers", action="store_true", help="legacy world vs grid-world layer vs level buffer")
    parser.add_argument("--buffer-levels", type=int, default=8, help="levels per environment per call in buffer mode")
    parser.add_argument("--pool-margin", type=float, default=1.25,
                        help="pool mode: the pool holds margin x the episodes that a call of the buffer mode ended")
    parser.add_argument("--actions", choices=("step", "ahead"), default="step",
                        help="random actions drawn inside every step, or all of a call's drawn before its scan (see scan_inputs)")
    parser.add_argument("--keep", choices=("timestep", "obs"), default="timestep",
                        help="what the scan keeps of each step: the whole timestep (as a trainer that stores final "
                             "observations), or only state and observation (as an evaluation rollout; XLA then drops "
                             "the separate final observation)")
    args = parser.parse_args()
    if not 0 < args.pool_margin < float("inf"):
        parser.error(f"argument --pool-margin: must be a positive number, got {args.pool_margin}")
    if args.buffer_levels < 1:
        parser.error(f"argument --buffer-levels: must be at least 1, got {args.buffer_levels}")
    return args


ARGS = parse_args()
if ARGS.devices > 1:  # must happen before jax is imported
    flag = f"--xla_force_host_platform_device_count={ARGS.devices}"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_coin  # noqa: E402
from legacy_worlds import has_legacy, legacy_world  # noqa: E402

from mesascope import worlds  # noqa: E402
from mesascope.worlds import levels as level_samplers  # noqa: E402


def world_options(pairs: list[str]) -> dict:
    """KEY=VALUE strings to world options; values are Python literals where they parse as one."""
    options = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return options


def kept(new, old, keep: str):
    """The timestep the scan carries: all of `new`, or with `keep="obs"` its final observation
    replaced by the loop-invariant one of `old`, so that nothing reads the new one."""
    return new if keep == "timestep" else new.replace(final_obs=old.final_obs)


def scan_length(batch: int, work: int) -> int:
    return int(min(max(work // batch, 32), 8192))


def scan_inputs(key: jax.Array, batch: int, length: int, num_actions: int, actions: str):
    """The per-step inputs of a runner's scan and how a step reads its actions and world key
    from one. `actions="step"` draws each step's actions inside the step (one `randint((B,))`
    per step); `"ahead"` draws all the call's actions before the scan, as a consumer whose
    actions come from elsewhere (a policy) would supply them, so that the step's time is the
    world's alone: drawn inside every step, the actions cost about 4x as much as drawn at once
    (`bench/action_draws.py`), a fixed cost that pulls every ratio towards 1 (docs/benchmarks.md,
    round 7)."""
    keys = jax.random.split(key, length)
    if actions == "step":

        def read(x):
            action_key, world_key = jax.random.split(x)
            return jax.random.randint(action_key, (batch,), 0, num_actions), world_key

        return keys, read
    drawn = jax.random.randint(jax.random.fold_in(key, length), (length, batch), 0, num_actions)
    return (keys, drawn), lambda x: (x[1], x[0])


def make_runner(world: worlds.World, batch: int, length: int, shift: float, keep: str = "timestep", actions: str = "step"):
    """(key, timestep) -> (timestep, reward sum): `length` steps of `batch` environments."""
    step = jax.vmap(world.step, in_axes=(0, 0, 0, None))

    def run(key, timestep):
        xs, read = scan_inputs(key, batch, length, world.num_actions, actions)

        def one_step(carry, x):
            timestep, total = carry
            step_actions, world_key = read(x)
            timestep = kept(step(jax.random.split(world_key, batch), timestep.state, step_actions, shift), timestep, keep)
            return (timestep, total + timestep.objective_rewards.sum()), None

        # the final timestep (observations included) is an output, so every step computes them
        zero = timestep.objective_rewards.sum() * 0.0  # varies per device under shard_map, like the carry
        (timestep, total), _ = jax.lax.scan(one_step, (timestep, zero), xs)
        return timestep, total

    return run


def make_buffered_runner(world: worlds.World, batch: int, length: int, shift: float, levels: int, keep: str = "timestep", actions: str = "step"):
    """Like `make_runner`, but each call first fills a buffer of `levels` levels per environment
    and the steps reset into it (`levels.buffered_batch_step`: an environment past its buffer
    draws in the step, so no level repeats); the second output counts the episodes that ended."""
    fill = jax.vmap(lambda key: level_samplers.fill_buffer(world, key, shift, levels))

    def run(key, timestep):
        fill_key, key = jax.random.split(key)
        buffers = fill(jax.random.split(fill_key, batch))
        xs, read = scan_inputs(key, batch, length, world.num_actions, actions)

        def one_step(carry, x):
            timestep, buffers, episodes = carry
            step_actions, world_key = read(x)
            stepped, buffers = level_samplers.buffered_batch_step(world, buffers, timestep.state, step_actions, world_key, shift)
            timestep = kept(stepped, timestep, keep)
            return (timestep, buffers, episodes + timestep.done.sum()), None

        (timestep, _, episodes), _ = jax.lax.scan(one_step, (timestep, buffers, jnp.zeros((), jnp.int32)), xs)
        return timestep, episodes

    return run


def make_pool_runner(world: worlds.World, batch: int, length: int, shift: float, size: int, keep: str = "timestep", actions: str = "step"):
    """Like `make_buffered_runner`, but each call fills one pool of `size` levels for the whole
    batch and the steps deal them out as episodes end (`levels.pooled_batch_step`: a reset past
    the pool draws in the step, so no level repeats); the second output counts the episodes.
    With `keep="obs"` the step is told that no final observation is read (`final_obs=False`)."""

    def run(key, timestep):
        fill_key, key = jax.random.split(key)
        pool = level_samplers.fill_pool(world, fill_key, shift, size)
        xs, read = scan_inputs(key, batch, length, world.num_actions, actions)

        def one_step(carry, x):
            timestep, pool, episodes = carry
            step_actions, world_key = read(x)
            stepped, pool = level_samplers.pooled_batch_step(world, pool, timestep.state, step_actions, world_key, shift, keep == "timestep")
            timestep = kept(stepped, timestep, keep)
            return (timestep, pool, episodes + timestep.done.sum()), None

        (timestep, _, episodes), _ = jax.lax.scan(one_step, (timestep, pool, jnp.zeros((), jnp.int32)), xs)
        return timestep, episodes

    return run


def make_reuse_runner(world: worlds.World, batch: int, length: int, shift: float, keep: str = "timestep", actions: str = "step"):
    """Like `make_runner`, but each call draws one level per environment, outside the step, and
    every episode of the call on that environment replays it (jaxgmg's default)."""
    fill = jax.vmap(lambda key: level_samplers.fill_buffer(world, key, shift, 1))
    step = jax.vmap(functools.partial(level_samplers.buffered_step, world))

    def run(key, timestep):
        fill_key, key = jax.random.split(key)
        buffers = fill(jax.random.split(fill_key, batch))
        xs, read = scan_inputs(key, batch, length, world.num_actions, actions)

        def one_step(carry, x):
            timestep, buffers, episodes = carry
            step_actions, _ = read(x)
            stepped, buffers = step(buffers, timestep.state, step_actions)
            timestep = kept(stepped, timestep, keep)
            return (timestep, buffers, episodes + timestep.done.sum()), None

        (timestep, _, episodes), _ = jax.lax.scan(one_step, (timestep, buffers, jnp.zeros((), jnp.int32)), xs)
        return timestep, episodes

    return run


def compiled_call(subject: worlds.World, runner, key: jax.Array, batch: int, shift: float):
    """(call, state): `runner` compiled for `batch` environments of `subject` and a call that
    steps on from where the last one stopped, each with a fresh key (already warmed up once);
    `state["second"]` holds the runner's second output of the last call."""
    timestep = jax.jit(first_timestep, static_argnums=(0, 2, 3))(subject, key, batch, shift)
    compiled = jax.jit(runner).lower(key, timestep).compile()
    state = {"timestep": timestep, "key": key}

    def call():
        state["key"], sub = jax.random.split(state["key"])
        state["timestep"], state["second"] = compiled(sub, state["timestep"])
        return state["timestep"].obs, state["second"]

    jax.block_until_ready(call())  # warm-up
    return call, state


def interleaved_cpu_medians(calls: dict, repeats: int) -> dict[str, float]:
    """Median CPU seconds of this process (`time.process_time`, all threads) per call of each of
    `calls` (label -> call), the calls taken in turn within every repeat, so that a change in the
    machine's speed during a run moves them all alike."""
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():
            start = time.process_time()
            jax.block_until_ready(call())
            times[label].append(time.process_time() - start)
    return {label: statistics.median(t) for label, t in times.items()}


def measure_layers(name: str, batch: int, args) -> dict[str, float]:
    """Steps per second of the legacy world, today's world, today's world with a level buffer
    per environment, with one level pool for the batch, and replaying one level per environment,
    and the episodes per environment per call in buffer mode. All are timed in turn within every
    repeat (medians) in CPU seconds of this process (`time.process_time`, all threads), so that
    other processes on a shared machine change neither the rates much nor the ratios."""
    options = world_options(args.option)
    world, old = worlds.make(name, **options), legacy_world(name, **options)
    shift = world.distributions["test"].shift if args.shift is None else args.shift
    length = scan_length(batch, args.work)
    key = jax.random.key(0)
    calls = {}

    def prepare(label, subject, runner):
        calls[label] = compiled_call(subject, runner, key, batch, shift)

    mode = {"keep": args.keep, "actions": args.actions}
    prepare("legacy", old, make_runner(old, batch, length, shift, **mode))
    prepare("layer", world, make_runner(world, batch, length, shift, **mode))
    prepare("buffer", world, make_buffered_runner(world, batch, length, shift, args.buffer_levels, **mode))
    jax.block_until_ready(calls["buffer"][0]())  # a second call: the first starts every episode at once
    pool_size = max(1, int(np.ceil(args.pool_margin * float(calls["buffer"][1]["second"]))))
    prepare("pool", world, make_pool_runner(world, batch, length, shift, pool_size, **mode))
    prepare("reuse", world, make_reuse_runner(world, batch, length, shift, **mode))
    medians = interleaved_cpu_medians({label: call for label, (call, _) in calls.items()}, args.repeats)
    out = {label: batch * length / seconds for label, seconds in medians.items()}
    out["episodes"] = float(calls["buffer"][1]["second"]) / batch
    out["pool_size"] = pool_size / batch
    return out


def main_layers(args) -> None:
    """The `--layers` table: legacy vs layer vs level buffer, pool and reuse, per world and batch."""
    names = [args.world] if args.world else worlds.names()
    skipped = [name for name in names if not has_legacy(name)]
    names = [name for name in names if has_legacy(name)]
    print(f"# world layers  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  cpu: {cpu_model()} x{os.cpu_count()}  jax {jax.__version__}")
    print(f"# steps per CPU-second (process time, all threads), median of {args.repeats} interleaved calls of about {args.work} steps;"
          f" buffer: {args.buffer_levels} levels per env per call; pool: {args.pool_margin} x the episodes of a call;"
          f" the scan keeps: {args.keep}; actions drawn: {args.actions}")
    if skipped:
        print(f"# skipped (added after the layer, no legacy version to compare with): {', '.join(skipped)}")
    labels = ("legacy", "layer", "buffer", "pool", "reuse")
    print(f"{'world':>12} {'batch':>6} " + " ".join(f"{label:>9}" for label in labels) + " " + " ".join(f"{label + '/legacy':>13}" for label in labels[1:])
          + f" {'episodes/env/call':>17} {'pool/env':>8}")
    for name in names:
        for batch in args.batches:
            r = measure_layers(name, batch, args)
            print(f"{name:>12} {batch:>6} " + " ".join(f"{fmt(r[label]):>9}" for label in labels) + " "
                  + " ".join(f"{r[label] / r['legacy']:>12.3f}x" for label in labels[1:]) + f" {r['episodes']:>17.2f} {r['pool_size']:>8.2f}", flush=True)


def first_timestep(world: worlds.World, key: jax.Array, batch: int, shift: float):
    level_key, reset_key = jax.random.split(key)
    levels = world.sample_levels(level_key, shift, batch)
    return jax.vmap(world.initial_timestep)(jax.random.split(reset_key, batch), levels)


def time_calls(call, repeats: int) -> float:
    """Median seconds of `repeats` calls, after one warm-up call."""
    jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_jax(world, batch: int, shift: float, devices: int, args) -> tuple[float, float]:
    """(steps per second, compile seconds) on `devices` host devices."""
    length = scan_length(batch, args.work)
    key = jax.random.key(0)
    if devices == 1:
        run = jax.jit(make_runner(world, batch, length, shift))
        timestep = jax.jit(first_timestep, static_argnums=(0, 2, 3))(world, key, batch, shift)
        keys = jax.random.split(key, 1)[0]
    else:
        mesh = jax.make_mesh((devices,), ("batch",), devices=jax.devices()[:devices])
        local = make_runner(world, batch // devices, length, shift)

        def per_device(keys, timestep):
            timestep, total = local(keys[0], timestep)
            return timestep, total[None]

        run = jax.jit(jax.shard_map(per_device, mesh=mesh, in_specs=(P("batch"), P("batch")), out_specs=(P("batch"), P("batch"))))
        sharding = jax.sharding.NamedSharding(mesh, P("batch"))
        timestep = jax.device_put(jax.jit(first_timestep, static_argnums=(0, 2, 3))(world, key, batch, shift), sharding)
        keys = jax.device_put(jax.random.split(key, devices), sharding)
    start = time.perf_counter()
    compiled = run.lower(keys, timestep).compile()
    compile_seconds = time.perf_counter() - start
    state = {"timestep": timestep, "key": keys}

    def call():
        out, total = compiled(state["key"], state["timestep"])
        state["timestep"] = out  # keep stepping from where the last call stopped
        return out.obs, total

    seconds = time_calls(call, args.repeats)
    return batch * length / seconds, compile_seconds


def measure_numpy(world, batch: int, shift: float, args) -> float:
    env = numpy_coin.NumpyCoin(world, batch, shift, seed=0)
    env.reset()
    length = scan_length(batch, args.numpy_work)
    rng = np.random.default_rng(1)

    def call():
        for _ in range(length):
            env.step(rng.integers(0, 4, batch))
        return None

    call()
    times = []
    for _ in range(max(3, args.repeats // 2)):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return batch * length / statistics.median(times)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.1f}k"


def main(args) -> None:
    names = [args.world] if args.world else worlds.names()
    print(f"# world throughput  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"# cpu: {cpu_model()} x{os.cpu_count()}  jax {jax.__version__}  devices: {len(jax.devices())} {jax.devices()[0].platform}")
    print(f"# median of {args.repeats} timed calls after compile + warm-up; about {args.work} steps per call")
    for name in names:
        world = worlds.make(name, **world_options(args.option))
        shift = world.distributions["test"].shift if args.shift is None else args.shift
        is_coin = type(world).__name__ == "CoinWorld"
        numpy_ok = is_coin and not args.no_numpy
        if numpy_ok:
            ended = numpy_coin.check_against_world(world, batch=16, shift=shift)
            print(f"\n## {name} {world_options(args.option) or ''}  obs {tuple(world.observation_shape)}  max_steps {world.max_steps}  shift {shift}"
                  f"  (NumPy baseline matches the world bit for bit over {ended} episodes)")
        else:
            print(f"\n## {name} {world_options(args.option) or ''}  obs {tuple(world.observation_shape)}  max_steps {world.max_steps}  shift {shift}  (no NumPy baseline)")
        header = f"{'batch':>6} {'scan T':>7} {'jax 1 dev':>10} {'compile':>8}"
        if args.devices > 1:
            header += f" {'jax ' + str(args.devices) + ' dev':>10} {'compile':>8} {'2dev/1dev':>9}"
        if numpy_ok:
            header += f" {'numpy':>9} {'jax/numpy':>9}"
            if args.devices > 1:
                header += f" {'jax' + str(args.devices) + '/numpy':>11}"
        print(header)
        for batch in args.batches:
            rate, compile_s = measure_jax(world, batch, shift, 1, args)
            row = f"{batch:>6} {scan_length(batch, args.work):>7} {fmt(rate):>10} {compile_s:>7.2f}s"
            sharded = None
            if args.devices > 1:
                if batch % args.devices == 0:
                    sharded, sharded_compile = measure_jax(world, batch, shift, args.devices, args)
                    row += f" {fmt(sharded):>10} {sharded_compile:>7.2f}s {sharded / rate:>8.2f}x"
                else:
                    row += f" {'-':>10} {'-':>8} {'-':>9}"
            if numpy_ok:
                baseline = measure_numpy(world, batch, shift, args)
                row += f" {fmt(baseline):>9} {rate / baseline:>8.1f}x"
                if args.devices > 1:
                    row += f" {(f'{sharded / baseline:.1f}x' if sharded else '-'):>11}"
            print(row, flush=True)


if __name__ == "__main__":
    main_layers(ARGS) if ARGS.layers else main(ARGS)
