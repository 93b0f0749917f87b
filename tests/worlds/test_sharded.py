"""Every world steps inside `shard_map` over two host devices, as population training and the
throughput bench run it (regression: a flood fill's loop flag once failed to type-check there).

Runs in a fresh process, because the host device count must be set before JAX starts."""

import os
import subprocess
import sys
from pathlib import Path

import mesascope
from mesascope import worlds

PROGRAM = """
import jax, jax.numpy as jnp
from jax.sharding import PartitionSpec as P
from mesascope import worlds
assert len(jax.devices()) == 2, jax.devices()
mesh = jax.make_mesh((2,), ("batch",))
for name in worlds.names():
    world = worlds.make(name)
    shift = world.distributions["test"].shift
    step = jax.vmap(world.step, in_axes=(0, 0, 0, None))

    def run(keys, timestep):
        def one(timestep, key):
            action_key, world_key = jax.random.split(key)
            actions = jax.random.randint(action_key, (4,), 0, world.num_actions)
            nxt = step(jax.random.split(world_key, 4), timestep.state, actions, shift)
            return nxt, nxt.objective_rewards.sum()
        timestep, rewards = jax.lax.scan(one, timestep, jax.random.split(keys[0], 2 * world.max_steps))
        return timestep, rewards.sum()[None]

    levels = world.sample_levels(jax.random.key(0), shift, 8)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(1), 8), levels)
    sharded = jax.jit(jax.shard_map(run, mesh=mesh, in_specs=(P("batch"), P("batch")), out_specs=(P("batch"), P("batch"))))
    placement = jax.sharding.NamedSharding(mesh, P("batch"))
    keys = jax.device_put(jax.random.split(jax.random.key(2), 2), placement)
    out, total = sharded(keys, jax.device_put(timestep, placement))
    assert out.obs.shape == (8, *world.observation_shape), name
    print(name, "ok")
"""


def test_every_world_steps_under_shard_map_on_two_host_devices():
    source = str(Path(mesascope.__file__).parents[1])
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split().count("ok") == len(worlds.names())
