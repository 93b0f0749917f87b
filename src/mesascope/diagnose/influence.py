"""Decision influence ("values as decision-influences"): which objects move a policy's choices.

Definition, for a world, a policy and a batch of levels:

- States. On every level the agent is placed on each floor cell (`World.floor_mask`), the rest
  of the dynamic state as at the start of the episode (`World.with_agent_at`), and observed
  with `World.observe`. A (level, cell) pair is *counted* unless the agent's own cell shows an
  object (the agent never stands on a coin it would have collected): the centre of an
  egocentric view, the lit cell of the `agent` channel of a global one.
- Kinds. The object kinds are the world's object channels (`World.object_channels`: every
  channel not in `non_object_channels`). A kind is *probed* at a counted pair when its plane
  is not uniform there: an absent object can be neither removed nor moved, and a plane lit
  everywhere is not spatial.
- Interventions act on the observation, the policy's only input, so they are exactly the
  causal intervention on its decision. `remove` zeroes the kind's channel. `move` relocates the
  kind's lit cells to as many cells drawn uniformly among the empty ones: cells where every
  spatial (non-uniform) channel is 0, other than the agent's own cell. `moves` independent
  draws per pair.
- Outcome. The greedy action is the argmax of the logits (the first on ties). A pair's outcome
  is 1 when the intervened observation's greedy action differs from the original's and 0
  otherwise (`remove`), or the share of the `moves` draws for which it differs (`move`).
- Influence share of a kind under an intervention: the summed outcomes over its probed pairs
  divided by their number (NaN when it is probed nowhere, e.g. an object that never appears on
  the distribution, or only after an event). Its interval is a percentile bootstrap over
  levels (levels resampled with replacement, ratio of sums).
- Per-cell map: on the display level (the first one), the outcome at each probed cell.
- Policy vector field: the action probabilities (softmax of the logits) at each counted cell
  of the display level; drawn as the expected displacement, using the world's action names
  (up, right, down, left; any other action contributes nothing).

Settings (`InfluenceConfig`): `levels` drawn from `distribution`, `moves` draws per pair,
`bootstrap` resamples at `confidence`, and `seed` (levels, moves and resamples). The cost per
policy is levels x cells x (1 + kinds x (1 + moves)) forward passes, in one batched call; the
observations are built once and shared by every agent and checkpoint (common random numbers).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mesascope.records.results import InfluenceRecord
from mesascope.worlds.core import Level, World

INTERVENTIONS = ("remove", "move")
DISPLACEMENTS = {"up": (-1, 0), "right": (0, 1), "down": (1, 0), "left": (0, -1)}
"""(row, column) step of each move action name; other actions do not move the arrow."""

LogitsFn = Callable[[jax.Array], jax.Array]
"""A policy's logits for a batch of observations: (B, h, w, C) -> (B, num_actions)."""


@dataclass(frozen=True)
class InfluenceConfig:
    """Settings of the decision-influence diagnostic (see the module docstring)."""

    levels: int = 32
    """Levels drawn from `distribution`; the first is the display level."""
    moves: int = 4
    """Random relocations per (level, cell) pair and kind for the `move` intervention."""
    bootstrap: int = 300
    """Bootstrap resamples of the levels for the interval of each share."""
    confidence: float = 0.95
    """Coverage of the bootstrap interval."""
    seed: int = 0
    """Seed of the level draws, the relocations and the resamples."""
    distribution: str = "test"
    """The world distribution the levels are drawn from."""

    def __post_init__(self) -> None:
        for name, low in (("levels", 1), ("moves", 1), ("bootstrap", 10), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"InfluenceConfig.{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"InfluenceConfig.confidence must be in (0, 1), got {self.confidence!r}")


class Probes(struct.PyTreeNode):
    """The observations a policy is asked about: L levels, N = H*W cells (row-major), V = 1 +
    K (1 + moves) variants per pair (the original, then per kind its removal and its moves).

    obs: (L, N, V, h, w, C) uint8; counted: (L, N) bool; probed: (L, N, K) bool."""

    obs: jax.Array
    counted: jax.Array
    probed: jax.Array


@dataclass(frozen=True)
class Influence:
    """Decision influence of one policy. K kinds, I = 2 interventions, display grid (H, W).

    share, low, high: (K, I) share and bootstrap interval (NaN where never probed);
    pairs: (K,) probed pairs; cell_map: (K, I, H, W) outcomes on the display level (NaN where
    not probed); action_probs: (H, W, A) on the display level (NaN where not counted)."""

    kinds: tuple[str, ...]
    share: np.ndarray
    low: np.ndarray
    high: np.ndarray
    pairs: np.ndarray
    cell_map: np.ndarray
    action_probs: np.ndarray


def kind_names(world: World) -> tuple[str, ...]:
    """Names of the object kinds probed in `world`, in channel order."""
    return tuple(world.observation_channels[c] for c in world.object_channels)


def remove(obs: jax.Array, channel: int) -> jax.Array:
    """`obs` with one channel zeroed."""
    return obs.at[..., channel].set(0)


def spatial_channels(obs: jax.Array) -> jax.Array:
    """(C,) bool: channels that are not uniform over the plane of `obs` (h, w, C)."""
    return obs.max((0, 1)) != obs.min((0, 1))


def move(key: jax.Array, obs: jax.Array, channel: int, agent: jax.Array) -> jax.Array:
    """`obs` with the lit cells of `channel` relocated to as many uniformly drawn empty cells
    (every spatial channel 0, not the agent's cell `agent` (h, w) bool); fewer if too few."""
    return relocate(jax.random.uniform(key, (obs.shape[0] * obs.shape[1],)).reshape(obs.shape[:2]), obs, channel, agent)


def relocate(noise: jax.Array, obs: jax.Array, channel: int, agent: jax.Array) -> jax.Array:
    """`move` with its uniform draws `noise` (h, w) given: the empty cells with the largest
    noise receive the channel's lit cells."""
    plane = obs[..., channel]
    empty = ~(jnp.any((obs > 0) & spatial_channels(obs), -1) | agent)
    scores = jnp.where(empty, noise, -1.0).ravel()
    kth = jnp.sort(scores)[::-1][jnp.maximum(jnp.sum(plane > 0) - 1, 0)]
    moved = empty & (scores.reshape(plane.shape) >= kth) & jnp.any(plane > 0)
    return obs.at[..., channel].set(moved.astype(obs.dtype))


def agent_mask(world: World, obs: jax.Array) -> jax.Array:
    """(h, w) bool: the agent's own cell in `obs`: the `agent` channel of a global view, the
    centre of an egocentric one."""
    names = world.observation_channels
    if "agent" in names:
        return obs[..., names.index("agent")] > 0
    height, width = obs.shape[:2]
    return (jnp.arange(height)[:, None] == height // 2) & (jnp.arange(width)[None, :] == width // 2)


def _pair_probes(world: World, obs: jax.Array, noise: jax.Array, moves: int):
    """The V variants of one observation (noise (K, moves, h, w) uniform), whether the pair is
    counted, and which kinds are probed."""
    channels = world.object_channels
    agent = agent_mask(world, obs)
    spatial = spatial_channels(obs)
    objects = jnp.zeros(obs.shape[-1], bool).at[jnp.array(channels)].set(True)
    counted = ~jnp.any(agent[..., None] & (obs > 0) & spatial & objects)
    variants = [obs[None]]
    for k, channel in enumerate(channels):
        variants.append(remove(obs, channel)[None])
        variants.append(jax.vmap(lambda draw: relocate(draw, obs, channel, agent))(noise[k]))
    return jnp.concatenate(variants), counted, spatial[jnp.array(channels)] & counted


def make_probes(world: World, levels: Level, key: jax.Array, moves: int) -> Probes:
    """The probe observations of a batch of levels (jittable; see `Probes`)."""

    def one_level(level, level_key):
        floor = world.floor_mask(level)
        cells = jnp.stack(jnp.unravel_index(jnp.arange(floor.size), floor.shape), -1).astype(jnp.int32)
        start = world.start(level)
        obs = jax.vmap(lambda cell: world.observe(level, world.with_agent_at(start, cell)))(cells)
        # one flat draw per level: on the CPU a multi-dimensional draw takes seconds to compile
        shape = (floor.size, len(world.object_channels), moves) + obs.shape[1:3]
        noise = jax.random.uniform(level_key, (int(np.prod(shape)),)).reshape(shape)
        variants, counted, probed = jax.vmap(lambda o, n: _pair_probes(world, o, n, moves))(obs, noise)
        counted = counted & floor.ravel()
        return variants, counted, probed & counted[:, None]

    count = jax.tree.leaves(levels)[0].shape[0]
    obs, counted, probed = jax.vmap(one_level)(levels, jax.random.split(key, count))
    return Probes(obs=obs, counted=counted, probed=probed)


def outcomes(logits_fn: LogitsFn, obs: jax.Array, kinds: int, moves: int) -> tuple[jax.Array, jax.Array]:
    """(L, N, K, 2) outcomes (remove, move) and (L, N, A) action probabilities of the original
    observations, for probe observations `obs` (L, N, V, h, w, C) (jittable)."""
    levels, cells, variants = obs.shape[:3]
    logits = logits_fn(obs.reshape((-1,) + obs.shape[3:])).reshape(levels, cells, variants, -1)
    greedy = jnp.argmax(logits, -1)
    differs = (greedy[..., 1:] != greedy[..., :1]).reshape(levels, cells, kinds, 1 + moves)
    outcome = jnp.stack([differs[..., 0], differs[..., 1:].mean(-1)], -1).astype(jnp.float32)
    return outcome, jax.nn.softmax(logits[:, :, 0], -1)


def _ratio(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """sums (..., K, I) / counts (..., K), NaN where the count is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts[..., None] > 0, sums / counts[..., None], np.nan)


def summarise(kinds: tuple[str, ...], outcome: Any, probs: Any, probes: Probes, grid_shape: tuple[int, int], config: InfluenceConfig) -> Influence:
    """Shares with bootstrap intervals over levels, the display level's map and action
    probabilities, from `outcomes` (NumPy; the same resamples for every call with one config)."""
    outcome, probs = np.asarray(outcome, np.float64), np.asarray(probs, np.float64)
    probed, counted = np.asarray(probes.probed), np.asarray(probes.counted)
    sums = (outcome * probed[..., None]).sum(1)  # (L, K, I)
    counts = probed.sum(1)  # (L, K)
    resamples = np.random.default_rng(config.seed).integers(0, len(sums), (config.bootstrap, len(sums)))
    boot = _ratio(sums[resamples].sum(1), counts[resamples].sum(1))  # (B, K, I)
    tail = (1 - config.confidence) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: kinds never probed
        low, high = np.nanquantile(boot, [tail, 1 - tail], axis=0)
    cell_map = np.where(probed[0][..., None], outcome[0], np.nan)  # (N, K, I)
    return Influence(
        kinds=kinds,
        share=_ratio(sums.sum(0), counts.sum(0)),
        low=low,
        high=high,
        pairs=counts.sum(0).astype(np.int64),
        cell_map=np.moveaxis(cell_map, 0, -1).reshape(cell_map.shape[1:] + tuple(grid_shape)),
        action_probs=np.where(counted[0][:, None], probs[0], np.nan).reshape(tuple(grid_shape) + probs.shape[-1:]),
    )


def analyse(world: World, logits_fn: LogitsFn, levels: Level, key: jax.Array, config: InfluenceConfig) -> Influence:
    """Decision influence of one policy (a batched logits function) on a batch of levels."""
    probes = jax.jit(lambda lv, k: make_probes(world, lv, k, config.moves))(levels, key)
    kinds = kind_names(world)
    outcome, probs = jax.jit(lambda obs: outcomes(logits_fn, obs, len(kinds), config.moves))(probes.obs)
    grid_shape = jax.eval_shape(world.floor_mask, jax.tree.map(lambda x: x[0], levels)).shape
    return summarise(kinds, outcome, probs, probes, grid_shape, config)


def population(world: World, logits_of: Callable[[Any, jax.Array], jax.Array], checkpoints: Sequence[Any], steps: np.ndarray,
               levels: Level, key: jax.Array, config: InfluenceConfig) -> InfluenceRecord:
    """Decision influence of every agent at every checkpoint. `checkpoints` holds C params
    pytrees with a leading agent axis, taken at `steps` (C,); `logits_of(params, obs_batch)` is
    the network's logits. The probe observations are built once and shared by every policy."""
    def prepare(levels, key):  # one compiled program: eager world calls compile op by op
        display = jax.tree.map(lambda x: x[0], levels)
        return make_probes(world, levels, key, config.moves), world.render(display, world.start(display)), world.floor_mask(display)

    probes, picture, floor = jax.jit(prepare)(levels, key)
    kinds = kind_names(world)
    run = jax.jit(lambda params, obs: outcomes(lambda batch: logits_of(params, batch), obs, len(kinds), config.moves))
    grid_shape = floor.shape
    agents = jax.tree.leaves(checkpoints[0])[0].shape[0]
    results = [[summarise(kinds, *run(jax.tree.map(lambda x: x[a], params), probes.obs), probes, grid_shape, config)
                for params in checkpoints] for a in range(agents)]
    stack = lambda name: np.array([[getattr(one, name) for one in row] for row in results])  # noqa: E731
    return InfluenceRecord(
        kinds=kinds, interventions=INTERVENTIONS, action_names=tuple(world.action_names), distribution=config.distribution,
        levels=config.levels, steps=np.asarray(steps, np.int64), share=stack("share"), share_low=stack("low"),
        share_high=stack("high"), pairs=results[0][0].pairs, cell_maps=stack("cell_map"), action_probs=stack("action_probs"),
        picture=np.asarray(picture, np.uint8),
    )


def displacements(action_names: tuple[str, ...]) -> np.ndarray:
    """(A, 2) (row, column) step of each action by name; zeros for actions that do not move."""
    return np.array([DISPLACEMENTS.get(name, (0, 0)) for name in action_names], np.float64)


def expected_displacement(action_probs: np.ndarray, action_names: tuple[str, ...]) -> np.ndarray:
    """(..., 2) expected (row, column) step under action probabilities (..., A)."""
    return np.asarray(action_probs, np.float64) @ displacements(action_names)
