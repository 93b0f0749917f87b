"""Paired comparisons of stored Goodhart studies for docs/chisel.md (best-of-n, or RL checkpoints).

For each study folder: the mean true score at each n, and per grader the true score at n = A
minus the true score at n = B (with `--rl`: at RL checkpoint A minus checkpoint B, counted from 0,
the initial policy; a negative index counts from the end) (mean over graders with a 95% percentile bootstrap over graders,
and how many graders are positive). Several folders are also pooled (their graders together).
The bootstrap is over graders only: the graders of one study rank the same base-policy episodes,
so the episode sample's noise is not in the interval (docs/chisel.md, 2b).

    .venv/bin/python tools/chisel_bon_drop.py runs/chisel3_artifacts/328c65dea891 --a 256 --b 4096
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mesascope.store import artifacts


def _interval(values: np.ndarray, rng: np.random.Generator) -> str:
    means = rng.choice(values, (4000, values.size)).mean(1)
    return f"{values.mean():.3f} [{np.quantile(means, 0.025):.3f}, {np.quantile(means, 0.975):.3f}] ({int((values > 0).sum())}/{values.size} graders > 0)"


def main() -> None:
    """Print the per-study and pooled comparisons."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", type=Path, help="study folders (holding bon.safetensors)")
    parser.add_argument("--a", type=int, required=True, help="the n whose true score is compared")
    parser.add_argument("--b", type=int, required=True, help="the n it is compared with")
    parser.add_argument("--rl", action="store_true", help="compare RL checkpoints (indices) instead of best-of-n values")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pooled = []
    for folder in args.studies:
        if args.rl:
            arrays = artifacts.load_arrays(folder / "rl.safetensors")[0]
            steps, true = [int(n) for n in arrays["rl_steps"]], arrays["rl_true"]
            if not (-len(steps) <= args.a < len(steps) and -len(steps) <= args.b < len(steps)):
                raise SystemExit(f"error: --a and --b must be checkpoint indices in [-{len(steps)}, {len(steps) - 1}], got {args.a}, {args.b}")
            diff = true[:, args.a] - true[:, args.b]
            print(f"{folder.name}: steps {steps} mean true {np.round(true.mean(0).astype(np.float64), 3).tolist()}")
            print(f"  step {steps[args.a]} minus step {steps[args.b]}: {_interval(diff, rng)}")
        else:
            arrays = artifacts.load_arrays(folder / "bon.safetensors")[0]
            ns, true = [int(n) for n in arrays["bon_n"]], arrays["bon_true"]
            if args.a not in ns or args.b not in ns:
                raise SystemExit(f"error: --a and --b must be among the study's n values {ns}, got {args.a}, {args.b}")
            diff = true[:, ns.index(args.a)] - true[:, ns.index(args.b)]
            print(f"{folder.name}: n {ns} mean true {np.round(true.mean(0).astype(np.float64), 3).tolist()}")
            print(f"  best-of-{args.a} minus best-of-{args.b}: {_interval(diff, rng)}")
        pooled.append(diff)
    if len(pooled) > 1:
        print(f"pooled: {_interval(np.concatenate(pooled), rng)}")


if __name__ == "__main__":
    main()
