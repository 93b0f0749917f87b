"""Which behaviour model does the evidence favour: Boltzmann, or Boltzmann with a lapse rate?

For every registered world (or those named), scripted agents of known goal (`diagnose.scripted`)
play 32 test levels: the exact planner of each objective (γ = 0.95), a Boltzmann planner (β = 20
on Q rescaled to [0, 1]), an ε-noisy exact planner (lapse 0.3) and the uniform random policy. For each agent the
log-likelihood table is computed once with the default lapse grid; the plain model is its ε = 0
slice. Printed per agent kind: the summed BIC log-evidence of the best hypothesis under each
model, their difference (positive favours the lapse model, which pays 0.5·log(steps) more per
objective hypothesis), and how often each model's best hypothesis is the agent's true goal.

    python tools/behaviour_models.py [--worlds coin lamp ...] [--levels 32]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import replace

import jax
import numpy as np

from mesascope.diagnose.goals import GoalInferenceConfig, infer_from_table, loglik_table, planner_tables
from mesascope.diagnose.scripted import scripted_episodes
from mesascope.worlds import planning, registry


KINDS = {
    "exact": {"kind": "exact"},
    "boltzmann β=20": {"kind": "boltzmann"},
    "lapse 0.3": {"kind": "exact", "lapse": 0.3},
    "uniform random": {"kind": "uniform"},
}
"""Scripted agent kinds and their `scripted_episodes` settings."""


def agents(world):
    """(kind, true goal, weights) of the scripted agents."""
    eye = np.eye(world.num_objectives)
    out = [(kind, name, eye[k]) for k, name in enumerate(world.objectives) for kind in KINDS if kind != "uniform random"]
    return out + [("uniform random", "random", eye[0])]


def main() -> None:
    """Print the comparison of the two behaviour models."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", nargs="*", default=registry.names(), help="registered worlds to test (default: all)")
    parser.add_argument("--levels", type=int, default=32, help="test levels each scripted agent plays (default 32)")
    args = parser.parse_args()
    config = GoalInferenceConfig(bootstrap=0, mixture_resolution=1)
    plain = replace(config, lapse_grid=(0.0,))
    totals = defaultdict(lambda: np.zeros(4))  # Δ evidence, lapse right, plain right, agents
    for name in args.worlds:
        world = registry.make(name)
        levels = world.sample_levels(jax.random.key(11), world.distributions["test"].shift, args.levels)
        tables = planner_tables(world, levels, config)
        views = jax.jit(jax.vmap(lambda lv: planning.tabulate(world, lv)))(levels)
        for kind, goal, weights in agents(world):
            episodes = scripted_episodes(world, views, weights, jax.random.key(1), **KINDS[kind])
            table, decisive, union, weights = loglik_table(world, levels, episodes, config, tables)
            steps = np.asarray(episodes.valid).sum(-1)
            lapse = infer_from_table(table, steps, world.objectives, world.num_actions, config, decisive, union, weights)
            zero = infer_from_table(table[:, :, :1], steps, world.objectives, world.num_actions, plain, decisive, union, weights)
            delta = lapse.log_evidence.max() - zero.log_evidence.max()
            totals[kind] += [delta, lapse.best == goal, zero.best == goal, 1]
            print(f"{name:12s} {kind:17s} goal {goal:12s} lapse: best {lapse.best:12s} ε {lapse.lapse[lapse.index(lapse.best)]:.2f} | plain: best {zero.best:12s} | Δ log-evidence {delta:+9.1f}", flush=True)
    print("\nagent kind         agents  Δ log-evidence (lapse − plain)  true goal best: lapse / plain")
    for kind, (delta, right_lapse, right_plain, count) in totals.items():
        print(f"{kind:17s} {int(count):7d}  {delta:+30.1f}  {int(right_lapse):>5d} / {int(right_plain)}")
    overall = sum(t[0] for t in totals.values())
    print(f"all               {int(sum(t[3] for t in totals.values())):7d}  {overall:+30.1f}")


if __name__ == "__main__":
    main()
