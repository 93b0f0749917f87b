"""What the world bench's own random actions cost: drawn inside every step of a scan, or all
drawn before it (`bench/world_throughput.py --actions step|ahead`).

Each way is a jitted `lax.scan` of `--length` steps over `--batch` environments that only draws
uniform random actions (one `randint((B,))` per step, or one `randint((T, B))` before the scan)
and adds them up; medians of `--repeats` interleaved calls, CPU seconds of this process.

    python bench/action_draws.py [--batch 4096] [--length 64] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp


def in_step(key: jax.Array, batch: int, length: int) -> jax.Array:
    """Actions drawn inside every step, as the bench's runners did until round 7."""

    def one(total, step_key):
        action_key, _ = jax.random.split(step_key)
        return total + jax.random.randint(action_key, (batch,), 0, 4), None

    return jax.lax.scan(one, jnp.zeros(batch, jnp.int32), jax.random.split(key, length))[0]


def ahead(key: jax.Array, batch: int, length: int) -> jax.Array:
    """All the call's actions drawn before the scan, which then reads one row per step."""
    drawn = jax.random.randint(key, (length, batch), 0, 4)
    return jax.lax.scan(lambda total, row: (total + row, None), jnp.zeros(batch, jnp.int32), drawn)[0]


def main() -> None:
    """Print the CPU milliseconds per call of each way and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if min(args.batch, args.length, args.repeats) < 1:
        parser.error("arguments --batch, --length and --repeats must be at least 1")
    calls = {}
    for name, way in (("in every step", in_step), ("ahead of the scan", ahead)):
        compiled = jax.jit(way, static_argnums=(1, 2)).lower(jax.random.key(0), args.batch, args.length).compile()
        calls[name] = compiled
        jax.block_until_ready(compiled(jax.random.key(0)))
    times: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(args.repeats):
        for name, compiled in calls.items():
            start = time.process_time()
            jax.block_until_ready(compiled(jax.random.key(i)))
            times[name].append(time.process_time() - start)
    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    print(f"# {args.length} steps x {args.batch} environments of random actions; CPU ms per call, median of {args.repeats}; jax {jax.__version__}")
    for name, ms in medians.items():
        print(f"{name:>18}: {ms:.2f} ms ({ms / medians['ahead of the scan']:.2f}x ahead)")


if __name__ == "__main__":
    main()
