"""Registration without an import: a fresh interpreter finds every world through Gymnasium alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from mesascope import gym_plugin
from mesascope.worlds import registry


def _fresh(code: str, timeout: float = 300) -> str:
    """Run `code` in a fresh interpreter (no mesascope import of ours) and return its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_make_and_make_vec_work_without_importing_mesascope():
    out = _fresh(
        """
        import sys
        import gymnasium
        print("jax-imported", "jax" in sys.modules)   # registration itself must stay cheap
        env = gymnasium.make("mesascope/Corner-v0")
        obs, _ = env.reset(seed=0)
        print("single", obs.shape == env.observation_space.shape)
        envs = gymnasium.make_vec("mesascope/Corner-v0", num_envs=64)
        obs, _ = envs.reset(seed=0)
        print("vector", type(envs).__name__, obs.shape[0], envs.metadata["autoreset_mode"].value)
        """
    )
    assert "jax-imported False" in out
    assert "single True" in out
    assert "vector MesascopeVectorEnv 64 NextStep" in out


def test_every_world_is_registered_on_gymnasium_import():
    out = _fresh("import gymnasium; print(sorted(i for i in gymnasium.registry if i.startswith('mesascope/')))")
    expected = str(sorted(gym_plugin.env_id(name) for name in registry.builtin_names()))
    assert out.strip() == expected, "a world is missing from mesascope.gym_plugin.WORLDS (add its name there)"


def test_the_plugin_list_of_worlds_is_the_registry():
    assert list(gym_plugin.WORLDS) == registry.builtin_names(), "add the new world to mesascope.gym_plugin.WORLDS"


def test_the_hook_can_be_turned_off():
    env = {**os.environ, gym_plugin.OPT_OUT: "1"}
    code = "import gymnasium; print('mesascope/Coin-v0' in gymnasium.registry)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "False"
