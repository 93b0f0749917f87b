"""Golden data: every registered world behaves bit for bit as it did when the data was recorded.

For each case (a registered world with its default options, and again with the other
observation view), this records SHA-256 digests of: levels drawn from both distributions,
the initial timesteps, two jitted random rollouts with per-step level sampling (observations,
final observations, objective rewards, terminated, truncated, info, the states, and pictures
of some of them), and the tabular view of three levels (the enumerated inner states, their
observations and indices, the transition and reward tables, start and reachability), beside
the world's declared metadata in plain JSON. The recorded file was made by the worlds as they
were before the grid-world layer; rewriting a world must leave it unchanged.

Regenerate (only when a behaviour change is intended, and say so in the commit):
    .venv/bin/python tests/worlds/test_golden.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import worlds
from mesascope.worlds import planning, registry

GOLDEN = Path(__file__).with_name("golden_worlds.json")
BATCH, STEPS = 8, 40


def _cases() -> dict[str, tuple[str, dict[str, Any]]]:
    """Case id -> (world name, options): defaults, then the other view."""
    cases = {}
    for name in registry.builtin_names():  # plugins installed beside mesascope have no record here
        cases[name] = (name, {})
        view = worlds.options(name).get("view")
        if view is not None:
            other = "global" if view == "egocentric" else "egocentric"
            cases[f"{name}[{other}]"] = (name, {"view": other})
    cases["coin_colour[features]"] = ("coin_colour", {"channels": "features"})
    return cases


def digest(tree: Any) -> str:
    """SHA-256 over the dtype, shape and bytes of every leaf, in tree order."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _metadata(world: worlds.World) -> dict[str, Any]:
    return {
        "observation_shape": list(world.observation_shape),
        "observation_channels": list(world.observation_channels),
        "object_channels": list(world.object_channels),
        "num_tabular_states": int(world.num_tabular_states),
        "objectives": list(world.objectives),
        "action_names": list(world.action_names),
        "shift_name": world.shift_name,
        "shift_range": [float(v) for v in world.shift_range],
        "causal_edges": [list(e) for e in world.causal_edges],
        "max_steps": world.max_steps,
        "distributions": {k: [d.name, float(d.shift), d.description] for k, d in sorted(world.distributions.items())},
        "non_object_channels": list(world.non_object_channels),
    }


def _rollout(world: worlds.World, key: jax.Array, shift: float):
    """Random actions on BATCH levels for STEPS auto-resetting steps (levels sampled per step)."""
    level_key, reset_key, action_key, step_key = jax.random.split(key, 4)
    levels = world.sample_levels(level_key, shift, BATCH)
    first = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, BATCH), levels)
    actions = jax.random.randint(action_key, (STEPS, BATCH), 0, world.num_actions)
    keys = jax.random.split(step_key, STEPS * BATCH).reshape(STEPS, BATCH)

    def one(state, inputs):
        action, step_keys = inputs
        ts = jax.vmap(world.step, in_axes=(0, 0, 0, None))(step_keys, state, action, jnp.float32(shift))
        return ts.state, ts

    _, timesteps = jax.lax.scan(one, first.state, (actions, keys))
    pictures = jax.vmap(jax.vmap(world.render_state))(jax.tree.map(lambda x: x[::9, :3], timesteps.state))
    return first, timesteps, pictures


def _tabular(world: worlds.World, level: Any):
    view = planning.tabulate(world, level)
    inners = world.enumerate_inner(level)
    obs = jax.vmap(world.observe, in_axes=(None, 0))(level, inners)
    index = jax.vmap(world.inner_index, in_axes=(None, 0))(level, inners)
    return view, inners, obs, index, world.floor_mask(level)


def _arrays(world: worlds.World, shifts: jax.Array) -> dict[str, Any]:
    """Everything the record digests, for the train and test shifts (one jitted call)."""
    levels = jax.vmap(lambda shift: world.sample_levels(jax.random.key(7), shift, 16))(shifts)
    first, ts, pictures = jax.vmap(lambda shift: _rollout(world, jax.random.key(11), shift))(shifts)
    tab_levels = jax.tree.map(lambda x: jnp.stack([x[0, 0], x[0, 1], x[1, 0]]), levels)
    tables = jax.vmap(lambda level: _tabular(world, level))(tab_levels)
    return {"levels": levels, "first": first, "ts": ts, "pictures": pictures, "tables": tables}


def record(world: worlds.World) -> dict[str, Any]:
    """The golden record of one world: metadata and digests."""
    out: dict[str, Any] = {"metadata": _metadata(world)}
    shifts = jnp.array([world.distributions[d].shift for d in ("train", "test")], jnp.float32)
    arrays = jax.jit(_arrays, static_argnums=0)(world, shifts)
    pick = lambda tree, i: jax.tree.map(lambda x: x[i], tree)
    for d, dist in enumerate(("train", "test")):
        out[f"levels_{dist}"] = digest(pick(arrays["levels"], d))
        ts, first, pictures = pick(arrays["ts"], d), pick(arrays["first"], d), pick(arrays["pictures"], d)
        out[f"rollout_{dist}"] = {
            "initial": digest(first),
            "obs": digest(ts.obs),
            "final_obs": digest(ts.final_obs),
            "objective_rewards": digest(ts.objective_rewards),
            "terminated": digest(ts.terminated),
            "truncated": digest(ts.truncated),
            "info": digest(ts.info),
            "inner": digest(ts.state.inner),
            "level": digest(ts.state.level),
            "time": digest(ts.state.time),
            "render": digest(pictures),
            "returns": np.asarray(ts.objective_rewards).sum((0, 1)).round(3).tolist(),
            "episodes": int(np.asarray(ts.terminated | ts.truncated).sum()),
        }
    for i, label in enumerate(("train_0", "train_1", "test_0")):
        view, inners, obs, index, floor = pick(arrays["tables"], i)
        out[f"tabular_{label}"] = {
            "next_index": digest(view.next_index),
            "rewards": digest(view.rewards),
            "start": int(view.start),
            "reachable": digest(view.reachable),
            "num_reachable": int(np.asarray(view.reachable).sum()),
            "inners": digest(inners),
            "observations": digest(obs),
            "inner_index": digest(index),
            "floor_mask": digest(floor),
        }
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


def test_golden_covers_every_registered_world(golden):
    missing = set(registry.builtin_names()) - {name for name, _ in golden.get("_cases", {}).values()}
    assert not missing, f"no golden record for {sorted(missing)}: run `python tests/worlds/test_golden.py` and check its diff"
    assert set(CASES) == set(golden["_cases"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_world_matches_golden(case, golden):
    name, options = CASES[case]
    assert case in golden, (f"no golden record for {case!r} (a new world?): run `python tests/worlds/test_golden.py` to record it, "
                            "and check that the diff of tests/worlds/golden_worlds.json only adds its cases")
    expected = golden[case]
    actual = json.loads(json.dumps(record(worlds.make(name, **options))))
    differing = [
        f"{part}.{field}" if isinstance(value, dict) else part
        for part, value in expected.items()
        for field in (value if isinstance(value, dict) else [None])
        if (actual.get(part, {}).get(field) if isinstance(value, dict) else actual.get(part)) != (value[field] if isinstance(value, dict) else value)
    ]
    assert not differing, f"{case} differs from the golden record in: {differing}"


def main() -> None:
    """Write the golden file from the current code."""
    data: dict[str, Any] = {"_cases": {case: list(spec) for case, spec in CASES.items()}}
    for case, (name, options) in sorted(CASES.items()):
        print(case, file=sys.stderr)
        data[case] = record(worlds.make(name, **options))
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
