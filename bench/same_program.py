"""Does a refactor change what runs? Compare each world's lowered step program with a commit's.

For every registered world that both trees have (default options, plus the other view), this
lowers the jitted, vmapped `World.step` (batch 16, test shift) to StableHLO text, drops source
locations, and compares SHA-256 digests between today's tree and `--against` (extracted from git
into a temporary directory and imported in a subprocess). The same program means the same
compiled code, so the same throughput; a difference is listed with the number of differing lines
(the same operations in another order, or not: then time it with `world_throughput.py`).

    python bench/same_program.py --against 0f567a6
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def programs() -> dict[str, str]:
    """Case -> lowered step program text, for the worlds of the `mesascope` this process imports."""
    import jax
    import jax.numpy as jnp

    from mesascope import worlds

    out = {}
    for name in worlds.names():
        if name == "union":
            continue
        views = ["default"] + (["other"] if "view" in worlds.options(name) else [])
        for view in views:
            options = {}
            if view == "other":
                options["view"] = "global" if worlds.options(name)["view"] == "egocentric" else "egocentric"
            world, batch = worlds.make(name, **options), 16
            levels = world.sample_levels(jax.random.key(0), world.distributions["test"].shift, batch)
            first = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(1), batch), levels)
            step = jax.jit(jax.vmap(world.step, in_axes=(0, 0, 0, None)))
            text = step.lower(jax.random.split(jax.random.key(2), batch), first.state, jnp.zeros(batch, jnp.int32), jnp.float32(0.5)).as_text()
            text = re.sub(r"loc\([^)]*\)", "", text)
            text = re.sub(r'jax.result_info = "[^"]*"', "", text)  # output names follow field names
            out[f"{name}[{view}]"] = "\n".join(line for line in text.splitlines() if not line.startswith("#loc"))
    return out


def main() -> None:
    """Compare this tree's programs with those of `--against` and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="a commit to compare with")
    parser.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:  # the subprocess side: print this tree's programs as JSON
        print(json.dumps(programs()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against, "src"], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        theirs = json.loads(subprocess.run([sys.executable, __file__, "--against", args.against, "--dump"], check=True, capture_output=True, text=True, env=env, cwd=tmp).stdout)
    ours = programs()
    print(f"# lowered step programs, this tree vs {args.against}")
    for case in sorted(set(ours) & set(theirs)):
        a, b = ours[case], theirs[case]
        if a == b:
            print(f"{case:>28}  same  {hashlib.sha256(a.encode()).hexdigest()[:12]}")
        else:
            ops = [collections.Counter(re.findall(r"stablehlo\.(\w+)", text)) for text in (a, b)]
            kind = "the same operations in another order" if ops[0] == ops[1] else f"operations differ: {(ops[0] - ops[1]) + (ops[1] - ops[0])}"
            print(f"{case:>28}  DIFFERENT  ({kind})")


if __name__ == "__main__":
    main()
