"""Policy and value networks: small MLPs over flattened symbolic observations.

Initialisers are variance-scaling, not orthogonal: Flax's orthogonal initialiser runs a QR
decomposition, which under vmap becomes a batched LAPACK call that can deadlock XLA's CPU
thread pool (docs/design.md §5). Scaled normal initialisation needs no LAPACK.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def _dense(features: int, scale: float) -> nn.Dense:
    return nn.Dense(features, kernel_init=nn.initializers.variance_scaling(scale, "fan_avg", "truncated_normal"))


class MLP(nn.Module):
    """A tanh MLP with `depth` hidden layers of `width` units and a linear head."""

    width: int
    depth: int
    outputs: int
    head_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            x = nn.tanh(_dense(self.width, 2.0)(x))
        return _dense(self.outputs, self.head_scale)(x)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs; returns (action logits, state value)."""

    num_actions: int
    width: int = 64
    depth: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = obs.reshape(obs.shape[: obs.ndim - 3] + (-1,)).astype(jnp.float32)
        logits = MLP(self.width, self.depth, self.num_actions, head_scale=0.01, name="actor")(x)
        value = MLP(self.width, self.depth, 1, head_scale=1.0, name="critic")(x)
        return logits, value[..., 0]


def kernel_norms(params) -> tuple[jax.Array, jax.Array]:
    """(sum of squared kernel weights, sum of absolute kernel weights); biases are not penalised."""
    kernels = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params) if _is_kernel(path)]
    l2 = sum(jnp.sum(k**2) for k in kernels)
    l1 = sum(jnp.sum(jnp.abs(k)) for k in kernels)
    return l2, l1


def _is_kernel(path: Sequence) -> bool:
    return any(getattr(p, "key", None) == "kernel" for p in path)


def parameter_count(params) -> int:
    """Number of scalar parameters in a pytree."""
    return int(sum(x.size for x in jax.tree.leaves(params)))
