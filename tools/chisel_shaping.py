"""Measure what shaping does to the exact planner's optimal actions (docs/chisel.md).

For each world, feature and coefficient: the share of reachable states (and of levels) of the
test distribution whose set of optimal actions of the intended objective changes when the
shaping term is added. Potential-based shaping must change none; a bonus may change some.

    .venv/bin/python tools/chisel_shaping.py --levels 64
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.agents import shaping
from mesascope.agents.planner_agent import objective_weights
from mesascope.worlds import planning, registry


def changed(world, spec: str, coef: float, levels: int, gamma: float = 0.9, iterations: int = 400) -> tuple[float, float]:
    """(share of reachable states, share of levels) whose optimal action sets change."""
    parsed = shaping.parse_shaping(spec, world, coef, gamma)
    weights = jnp.asarray(objective_weights(world, world.intended))
    batch = world.sample_levels(jax.random.PRNGKey(11), world.distributions["test"].shift, levels)

    def one(level):
        plain = shaping.optimal_action_sets(shaping.shaped_q_values(world, level, weights, None, gamma, iterations))
        shaped = shaping.optimal_action_sets(shaping.shaped_q_values(world, level, weights, parsed, gamma, iterations))
        reach = planning.tabulate(world, level).reachable
        differ = jnp.any(plain != shaped, -1) & reach
        return differ.sum() / reach.sum(), differ.any()

    states, any_level = jax.jit(jax.vmap(one))(batch)
    return float(np.mean(states)), float(np.mean(any_level))


def main() -> None:
    """Print one line per world, feature, kind and coefficient."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, default=64, help="test levels per world (default 64)")
    args = parser.parse_args()
    for name in ("coin", "tamper"):
        world = registry.make(name)
        for feature in shaping.feature_names(world):
            for kind in shaping.SHAPING_KINDS:
                for coef in (-0.1, -0.5, 0.1):
                    states, levels = changed(world, f"{kind}:{feature}", coef, args.levels)
                    print(f"{name:7s} {kind:9s} {feature:22s} coef {coef:+.1f}: states changed {states:.4f}, levels changed {levels:.3f}")


if __name__ == "__main__":
    main()
