"""Reward shaping as config: a potential-based term or a plain bonus over a named world feature.

A spec `potential:FEATURE` adds `coef * (gamma * f(s') - f(s))` to the training reward (Ng,
Harada & Russell 1999: with f = 0 at the end of an episode, it leaves every optimal policy of
the discounted problem unchanged); `bonus:FEATURE` adds `coef * f(s')` (not of that form, so
it may change what is optimal). Features are the world's declared `feature_names` (grid
worlds: `distance_to_<object>`, the Manhattan distance to the nearest such object), so a
negative `coef` rewards coming closer. After a terminating step f(s') counts as 0 in both.

The same term serves PPO (`reward_hook`, per environment inside the jitted trainer) and the
exact planner (`shaped_q_values`, over the tabulated level), so the exact test of invariance
checks the very function the learner is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp

from mesascope.worlds import planning
from mesascope.worlds.core import Level, State, World

SHAPING_KINDS = ("potential", "bonus")
"""The kinds of shaping term; a spec is `none` or `KIND:FEATURE`."""

RewardHook = Callable[[State, jax.Array, jax.Array, jax.Array, Any], jax.Array]
"""Per environment: (state acted in, action, final observation, base reward, hook params) -> training reward."""


@dataclass(frozen=True)
class Shaping:
    """A parsed shaping spec: the kind, the feature's name and index, its coefficient and the
    discount the potential term uses (the learner's own)."""

    kind: str
    feature: str
    index: int
    coef: float
    gamma: float


def feature_names(world: World) -> tuple[str, ...]:
    """The named features a world declares (none for a world without them)."""
    return tuple(getattr(world, "feature_names", ()))


def parse_shaping(spec: str, world: World, coef: float, gamma: float) -> Shaping | None:
    """The shaping of `spec` (`none`, `potential:FEATURE` or `bonus:FEATURE`) on `world`, or
    None for `none`; ValueError naming the allowed kinds or features otherwise."""
    if spec == "none":
        return None
    kind, sep, feature = spec.partition(":")
    allowed = feature_names(world)
    if not sep or kind not in SHAPING_KINDS:
        raise ValueError(f"shaping must be 'none' or KIND:FEATURE with KIND one of {list(SHAPING_KINDS)}, got {spec!r}")
    if feature not in allowed:
        raise ValueError(f"shaping: unknown feature {feature!r} of world {world.name!r}; allowed features: {list(allowed)}")
    return Shaping(kind, feature, allowed.index(feature), float(coef), float(gamma))


def feature_value(world: World, shaping: Shaping, level: Level, inner: Any) -> jax.Array:
    """The shaping feature f of one state."""
    return world.features(level, inner)[shaping.index]  # type: ignore[attr-defined]


def shaping_term(shaping: Shaping, before: jax.Array, after: jax.Array, terminated: jax.Array) -> jax.Array:
    """The added reward of one transition from feature values f(s), f(s') (f(s') = 0 at the end)."""
    after = jnp.where(terminated, 0.0, after)
    if shaping.kind == "potential":
        return shaping.coef * (shaping.gamma * after - before)
    return shaping.coef * after


def reward_hook(world: World, shaping: Shaping) -> RewardHook:
    """The PPO reward hook adding the shaping term to the base reward of each step."""

    def hook(state: State, action: jax.Array, final_obs: jax.Array, base: jax.Array, params: Any) -> jax.Array:
        del final_obs, params
        inner, _, terminated = world.transition(state.level, state.inner, action)
        before = feature_value(world, shaping, state.level, state.inner)
        after = feature_value(world, shaping, state.level, inner)
        return base + shaping_term(shaping, before, after, terminated)

    return hook


def shaped_q_values(world: World, level: Level, weights: jax.Array, shaping: Shaping | None, gamma: float, iterations: int) -> jax.Array:
    """Discounted Q (S+1, A) of `weights @ objective rewards` plus the shaping term on `level`
    (jittable). The absorbing end state has f = 0, exactly as `reward_hook` treats termination."""
    view = planning.tabulate(world, level)
    rewards = view.rewards @ jnp.asarray(weights, jnp.float32)
    if shaping is not None:
        inners = world.enumerate_inner(level)
        values = jax.vmap(lambda inner: feature_value(world, shaping, level, inner))(inners)
        values = jnp.concatenate([values, jnp.zeros(1, jnp.float32)])
        terminal = view.next_index == world.num_tabular_states
        extra = shaping_term(shaping, values[:, None], values[view.next_index], terminal)
        rewards = rewards + extra.at[-1].set(0.0)
    return planning.discounted_q_values(view.replace(rewards=rewards[..., None]), gamma, iterations)[0]


def optimal_action_sets(q: jax.Array, tolerance: float = 1e-4) -> jax.Array:
    """(S+1, A) bool: the actions within `tolerance` of the best in each state."""
    return q >= q.max(-1, keepdims=True) - tolerance
