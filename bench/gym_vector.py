"""Gymnasium vector throughput: the native vector env against SyncVectorEnv, and SB3 PPO on the
native SB3 adapter against DummyVecEnv, each pair measured in the same run.

    python bench/gym_vector.py                  # vector envs, and PPO if SB3 is installed
    python bench/gym_vector.py --install-sb3    # install CPU torch + SB3 first (tools/sb3_extra.py)

Part 1: `gymnasium.make_vec(id, num_envs=N)` (the native `MesascopeVectorEnv`, one jitted vmapped
call per step) against `make_vec(..., vectorization_mode="sync")` (N `MesascopeEnv`s stepped in
a Python loop), both with uniform random actions sampled by `action_space.sample()` and the
whole `step()` timed (host transfers included), after construction, compile and a warm-up.
Part 2: SB3 PPO ("MlpPolicy", default hyperparameters but `n_steps`) for the same number of
environment steps on `mesascope.worlds.sb3.make_sb3_vec_env` against `DummyVecEnv` over
`gymnasium.make` copies; wall time of `learn()` only.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import sb3_extra  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="mesascope/Coin-v0", help="Gymnasium id")
    parser.add_argument("--num-envs", type=int, default=1024, help="copies in the vector env comparison")
    parser.add_argument("--native-steps", type=int, default=200, help="timed vector steps of the native env")
    parser.add_argument("--sync-steps", type=int, default=5, help="timed vector steps of SyncVectorEnv")
    parser.add_argument("--ppo-envs", type=int, default=16, help="copies for the PPO comparison")
    parser.add_argument("--ppo-steps", type=int, default=16384, help="environment steps of each PPO run")
    parser.add_argument("--install-sb3", action="store_true", help="install CPU torch and SB3 when missing")
    return parser.parse_args()


def steps_per_second(envs, steps: int) -> float:
    """Environment steps per second of `envs.step` with random actions (after one warm-up step)."""
    envs.action_space.seed(0)
    envs.reset(seed=0)
    envs.step(envs.action_space.sample())
    actions = [envs.action_space.sample() for _ in range(steps)]
    start = time.perf_counter()
    for action in actions:
        envs.step(action)
    return steps * envs.num_envs / (time.perf_counter() - start)


def vector_comparison(args: argparse.Namespace) -> None:
    """Native vs SyncVectorEnv at `--num-envs` copies."""
    start = time.perf_counter()
    native = gymnasium.make_vec(args.world, num_envs=args.num_envs)
    native_rate = steps_per_second(native, args.native_steps)
    native_setup = time.perf_counter() - start
    start = time.perf_counter()
    sync = gymnasium.make_vec(args.world, num_envs=args.num_envs, vectorization_mode="sync")
    built = time.perf_counter() - start
    sync_rate = steps_per_second(sync, args.sync_steps)
    print(f"\n{args.world}, {args.num_envs} copies ({type(native.unwrapped).__name__} vs SyncVectorEnv)")
    print(f"  native: {native_rate:,.0f} env-steps/s   (make+compile+timing {native_setup:.1f} s)")
    print(f"  sync:   {sync_rate:,.0f} env-steps/s   (building {args.num_envs} envs took {built:.1f} s)")
    print(f"  ratio native/sync: {native_rate / sync_rate:.0f}x")


def ppo_comparison(args: argparse.Namespace) -> None:
    """SB3 PPO for `--ppo-steps` on the native SB3 adapter vs DummyVecEnv."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from mesascope.worlds.gym import MesascopeEnv
    from mesascope.worlds.sb3 import make_sb3_vec_env

    torch.set_num_threads(1)  # on 2 cores, more torch threads only fight (40 vs 1200 steps/s measured)
    world = gymnasium.spec(args.world).kwargs["world"]
    n_steps = max(16, 2048 // args.ppo_envs)
    timings = {}
    for label, make in (
        ("native", lambda: make_sb3_vec_env(world, num_envs=args.ppo_envs, seed=0)),
        ("DummyVecEnv", lambda: DummyVecEnv([lambda: MesascopeEnv(world=world) for _ in range(args.ppo_envs)])),
    ):
        venv = make()
        model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=256, seed=0, device="cpu", verbose=0)
        model.learn(n_steps * args.ppo_envs)  # warm-up: compile and first rollout
        start = time.perf_counter()
        model.learn(args.ppo_steps, reset_num_timesteps=False)
        timings[label] = time.perf_counter() - start
    print(f"\nSB3 PPO, {args.ppo_envs} copies, {args.ppo_steps} env steps, n_steps={n_steps}")
    for label, seconds in timings.items():
        print(f"  {label:12s} {seconds:6.1f} s  {args.ppo_steps / seconds:,.0f} env-steps/s")
    print(f"  ratio DummyVecEnv/native time: {timings['DummyVecEnv'] / timings['native']:.1f}x")


def main() -> None:
    args = parse_args()
    import jax

    print(f"python {platform.python_version()}, jax {jax.__version__}, gymnasium {gymnasium.__version__}, {platform.processor() or platform.machine()}")
    vector_comparison(args)
    if sb3_extra.ensure_sb3(install=args.install_sb3):
        ppo_comparison(args)
    else:
        print("\nSB3 not installed: PPO comparison skipped (pass --install-sb3)")


if __name__ == "__main__":
    main()
