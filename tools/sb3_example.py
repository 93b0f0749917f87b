"""Worked example: train Stable-Baselines3 PPO on `mesascope/Coin-v0`, then diagnose it with
mesascope's own evaluation, goal inference and verdicts.

    python tools/sb3_example.py                       # installs CPU torch + SB3 if missing
    python tools/sb3_example.py --steps 120000 --db mesascope.db   # also store run + report

SB3 trains on `mesascope.worlds.sb3.make_sb3_vec_env` (the whole batch in one jitted call);
`gymnasium.make("mesascope/Coin-v0")` copies in a DummyVecEnv train the same policy, only
slower. The trained policy goes to `mesascope.diagnose_policy` as a NumPy callable over
observations: `model.predict(obs, deterministic=True)[0]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sb3_extra  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=120_000, help="PPO environment steps")
    parser.add_argument("--envs", type=int, default=16, help="parallel copies")
    parser.add_argument("--seed", type=int, default=0, help="seed of SB3 and of the evaluation levels")
    parser.add_argument("--episodes", type=int, default=128, help="evaluation episodes per distribution")
    parser.add_argument("--db", type=Path, default=None, help="store the diagnosis as a run (and its HTML report) here")
    args = parser.parse_args()

    sb3_extra.ensure_sb3(install=True)
    import numpy as np
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    import mesascope
    from mesascope.store.db import Store
    from mesascope.worlds.sb3 import make_sb3_vec_env

    torch.set_num_threads(1)  # more threads only fight over a 2-core machine
    venv = VecMonitor(make_sb3_vec_env("coin", num_envs=args.envs, distribution="train", seed=args.seed))
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=512, ent_coef=0.01, seed=args.seed, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(args.steps)
    rewards = [episode["r"] for episode in model.ep_info_buffer]
    print(f"trained SB3 PPO for {args.steps} steps in {time.perf_counter() - start:.0f} s; "
          f"mean episode reward of the last {len(rewards)} episodes: {np.mean(rewards):.2f}")

    def policy(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    store = Store(args.db) if args.db else None
    start = time.perf_counter()
    diagnosis = mesascope.diagnose_policy("coin", policy, episodes=args.episodes, seed=args.seed, name="sb3-ppo-coin", store=store)
    print(f"diagnosed in {time.perf_counter() - start:.0f} s (policy run as {diagnosis.backend})")
    for row in diagnosis.result.evaluations:
        print(f"  {row.distribution:5s} {row.objective:4s} return {row.mean_return:.2f} [{row.return_low:.2f}, {row.return_high:.2f}]"
              f"  normalised {row.mean_normalised:.2f} [{row.normalised_low:.2f}, {row.normalised_high:.2f}]")
    for row in diagnosis.result.verdicts:
        evidence = row.evidence
        posterior = ", ".join(f"{k} {v:.2f}" for k, v in evidence.get("posterior", {}).items())
        print(f"  verdict on {row.distribution}: {row.verdict}  (posterior: {posterior}; {evidence.get('reason', '')})")
    if diagnosis.report_path:
        print(f"stored as run {diagnosis.result.run_id}; report: {diagnosis.report_path}")
    if store is not None:
        store.close()


if __name__ == "__main__":
    main()
