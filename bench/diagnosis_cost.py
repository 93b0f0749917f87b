"""Cost of diagnosing a trained population: `evaluate_population` on a stored run's agents.

Loads the trained parameters of a finished run (any code version: only the parameters are
read) and times the evaluation the run performs after training — rollouts on every evaluated
distribution, returns, goal inference and verdicts — twice: the first call includes JAX
compilation (as a fresh `mesascope demo` does), the second is steady state. The APIs it calls
exist unchanged in earlier code, so running it with another checkout first on PYTHONPATH
measures that code's cost on the same agents:

    python bench/diagnosis_cost.py --db catalogue.db --run RUN_ID
    PYTHONPATH=/path/to/old/src python bench/diagnosis_cost.py --db catalogue.db --run RUN_ID
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from mesascope.agents.ppo import make_train
from mesascope.experiments import population
from mesascope.experiments.config import from_dict
from mesascope.experiments.evaluate import evaluate_population
from mesascope.store import artifacts
from mesascope.store.db import Store
from mesascope.worlds import registry


def main() -> None:
    """Print the seconds of two evaluations of the run's agents."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--run", required=True)
    args = parser.parse_args()
    with Store(args.db) as store:
        run_id = store.resolve(args.run)
        data = dict(store.load_result(run_id).config)
        params, _ = artifacts.load_params(store.run_dir(run_id) / "params")
    data.pop("thresholds", None)  # thresholds differ between code versions; defaults of this code
    config = from_dict(data)
    config = dataclasses.replace(config, eval=dataclasses.replace(config.eval, gifs=0))
    world = registry.make(config.world, **config.world_options)
    network = make_train(config.ppo, world, config.reward_weights or None).network
    _, shifts = population.agent_layout(config)
    for label in ("first (with compilation)", "second (steady state)"):
        start = time.perf_counter()
        evaluation = evaluate_population(world, network, params, config, shifts)
        seconds = time.perf_counter() - start
        verdicts = sorted({v.verdict for v in evaluation.verdicts})
        print(f"{label}: {seconds:.1f} s for {config.num_agents} agents x {len(config.eval.distributions)} distributions x {config.eval.episodes} episodes; verdicts {verdicts}", flush=True)


if __name__ == "__main__":
    main()
