"""A plain vectorized NumPy implementation of the coin world, the baseline of world_throughput.py.

Same rules as `mesascope.worlds.coin.CoinWorld` with `mesascope.worlds.core.World.step`:
walls block moves; entering the coin or the exit pays that objective and terminates; truncation
when the clock reaches `max_steps` without termination; auto-reset onto a fresh level drawn from
the same layout bank and cell tables (coin moved with probability `shift`); `final_obs` kept.
Observations are built the same way (global one-hot channels, or the egocentric window).

`check_against_world` replays the same actions and the same uniform draws through both and
asserts that every observation, reward and flag agree, so the benchmark compares like with like.
"""

from __future__ import annotations

import numpy as np

from mesascope.worlds import grid

MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], np.int32)


class NumpyCoin:
    """A batch of coin-world environments stepped with NumPy array operations."""

    def __init__(self, world, batch: int, shift: float, seed: int = 0):
        self.bank = np.asarray(world.wall_bank)
        self.tables = grid.cell_tables(self.bank, start_column=1, exit_column=world.size - 2)
        self.size = world.size
        self.max_steps = world.max_steps
        self.view = getattr(world, "view", "global")
        self.batch = batch
        self.shift = np.float32(shift)
        self.rng = np.random.default_rng(seed)
        self.rows = np.arange(batch)
        # levels: layout index and three cells per environment; dynamic state: position, clock
        self.index = np.zeros(batch, np.int32)
        self.start = np.zeros((batch, 2), np.int32)
        self.coin = np.zeros((batch, 2), np.int32)
        self.exit = np.zeros((batch, 2), np.int32)
        self.position = np.zeros((batch, 2), np.int32)
        self.time = np.zeros(batch, np.int32)
        if self.view == "egocentric":  # a window over the interior (the border is always wall)
            interior = self.size - 2
            self._window = np.arange(2 * interior - 1)
            self._outside = np.pad(np.zeros((interior, interior), np.uint8), interior - 1, constant_values=1)

    # ----------------------------------------------------------------------------- levels
    def sample(self, u: np.ndarray):
        """Levels from uniform draws u (n, 5), exactly as `CoinWorld.sample_level` uses them."""
        u = u.astype(np.float32)
        t = self.tables
        index = (u[:, 0] * np.float32(len(t.free_count))).astype(np.int32)
        start = _pick(t.start_cells[index], t.start_count[index], u[:, 1])
        exit_cell = _pick(t.exit_cells[index], t.exit_count[index], u[:, 2])
        ranks = t.free_rank[index]
        n = np.arange(len(u))
        a, b = ranks[n, start[:, 0], start[:, 1]], ranks[n, exit_cell[:, 0], exit_cell[:, 1]]
        low, high = np.minimum(a, b), np.maximum(a, b)
        count = t.free_count[index]
        j = np.minimum((u[:, 4] * (count - 2).astype(np.float32)).astype(np.int32), count - 3)
        j = j + (j >= low)
        j = j + (j >= high)
        random_coin = t.free_cells[index, j]
        coin = np.where((u[:, 3] < self.shift)[:, None], random_coin, exit_cell)
        return index, start, coin, exit_cell

    def reset(self, u: np.ndarray | None = None) -> np.ndarray:
        """Fresh levels for the whole batch; returns the observations."""
        u = self.rng.random((self.batch, 5), np.float32) if u is None else u
        self.index, self.start, self.coin, self.exit = self.sample(u)
        self.position = self.start.copy()
        self.time = np.zeros(self.batch, np.int32)
        return self.observe(self.rows)

    # ------------------------------------------------------------------------- dynamics
    def step(self, actions: np.ndarray, u: np.ndarray | None = None):
        """One step of every environment; `u` (batch, 5) are the draws for auto-resets (random
        when None). Returns (obs, rewards (B, 2), terminated, truncated, final_obs)."""
        target = self.position + MOVES[actions]
        blocked = self.bank[self.index, target[:, 0], target[:, 1]]
        self.position = np.where(blocked[:, None], self.position, target)
        on_coin = np.all(self.position == self.coin, axis=1)
        on_exit = np.all(self.position == self.exit, axis=1)
        rewards = np.stack([on_coin, on_exit], axis=1).astype(np.float32)
        terminated = on_coin | on_exit
        self.time += 1
        truncated = (self.time >= self.max_steps) & ~terminated
        final_obs = self.observe(self.rows)
        obs = final_obs
        done = np.flatnonzero(terminated | truncated)
        if len(done):
            draws = self.rng.random((len(done), 5), np.float32) if u is None else u[done]
            self.index[done], self.start[done], self.coin[done], self.exit[done] = self.sample(draws)
            self.position[done] = self.start[done]
            self.time[done] = 0
            obs = final_obs.copy()
            obs[done] = self.observe(done)
        return obs, rewards, terminated, truncated, final_obs

    def observe(self, envs: np.ndarray) -> np.ndarray:
        """Observations of environments `envs`: (n, H, W, 4) global, or egocentric
        (n, 2H-5, 2W-5, 3): wall/coin/exit over the interior, centred on the agent."""
        n, size = len(envs), self.size
        channels = np.zeros((n, size, size, 4), np.uint8)
        channels[..., 0] = self.bank[self.index[envs]]
        rows = np.arange(n)
        for channel, cells in ((1, self.position[envs]), (2, self.coin[envs]), (3, self.exit[envs])):
            channels[rows, cells[:, 0], cells[:, 1], channel] = 1
        if self.view == "global":
            return channels
        pad = size - 3
        interior = channels[:, 1:-1, 1:-1][..., [0, 2, 3]]
        padded = np.pad(interior, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        padded[..., 0] |= self._outside
        r = self.position[envs, 0][:, None] - 1 + self._window
        c = self.position[envs, 1][:, None] - 1 + self._window
        return padded[rows[:, None, None], r[:, :, None], c[:, None, :]]


def _pick(cells: np.ndarray, count: np.ndarray, u: np.ndarray) -> np.ndarray:
    index = np.minimum((u * count.astype(np.float32)).astype(np.int32), count - 1)
    return cells[np.arange(len(cells)), index]


def check_against_world(world, batch: int = 32, steps: int | None = None, shift: float = 0.5, seed: int = 0) -> int:
    """Step the JAX world and `NumpyCoin` side by side with the same actions and level draws;
    raise AssertionError on the first difference. Returns the number of episodes that ended."""
    import jax
    import jax.numpy as jnp

    steps = 3 * world.max_steps if steps is None else steps
    reference = NumpyCoin(world, batch, shift, seed)
    key = jax.random.key(seed)
    level_key, run_key = jax.random.split(key)
    level_keys = jax.random.split(level_key, batch)
    draws = jax.vmap(lambda k: jax.random.uniform(k, (5,)))

    levels = jax.vmap(world.sample_level, in_axes=(0, None))(level_keys, jnp.float32(shift))
    timestep = jax.vmap(world.initial_timestep)(level_keys, levels)
    obs = reference.reset(np.asarray(draws(level_keys)))
    np.testing.assert_array_equal(obs, np.asarray(timestep.obs))
    step = jax.jit(jax.vmap(world.step, in_axes=(0, 0, 0, None)))
    rng = np.random.default_rng(seed)
    ended = 0
    for t, step_key in enumerate(jax.random.split(run_key, steps)):
        actions = rng.integers(0, 4, batch).astype(np.int32)
        keys = jax.random.split(step_key, batch)
        timestep = step(keys, timestep.state, jnp.asarray(actions), jnp.float32(shift))
        obs, rewards, terminated, truncated, final_obs = reference.step(actions, np.asarray(draws(keys)))
        for name, mine, theirs in (
            ("obs", obs, timestep.obs),
            ("final_obs", final_obs, timestep.final_obs),
            ("rewards", rewards, timestep.objective_rewards),
            ("terminated", terminated, timestep.terminated),
            ("truncated", truncated, timestep.truncated),
        ):
            np.testing.assert_array_equal(mine, np.asarray(theirs), err_msg=f"{name} differs at step {t}")
        ended += int(np.sum(terminated | truncated))
    return ended
