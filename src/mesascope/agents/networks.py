"""Policy and value networks over flattened symbolic observations: small MLPs, and a policy with
a thinking budget (one weight-tied block applied K times per decision, optionally halting early).

Every network's `__call__` returns (action logits, state value); `with_compute` also returns the
expected number of thinking iterations the decision used (0 for a plain MLP), which the speed
prior of the PPO loss penalises.

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


def flatten_observation(obs: jax.Array) -> jax.Array:
    """(…, H, W, C) uint8 channels as (…, H·W·C) float32 inputs."""
    return obs.reshape(obs.shape[: obs.ndim - 3] + (-1,)).astype(jnp.float32)


def first_layer(obs: jax.Array, kernel: jax.Array, bias: jax.Array, one_hot_channels: tuple[int, ...] = ()) -> jax.Array:
    """`flatten_observation(obs) @ kernel + bias` for uint8 observations (…, H, W, C), with the
    channels in `one_hot_channels` (each lighting at most one cell: `World.one_hot_channels`)
    read by a lookup of their lit cell's kernel row instead of a product over their plane.

    The same function, up to the order of float additions; the lookup's gradient is a
    scatter-add of one row per observation. On a world whose objects are single cells the
    first layer is most of a feed-forward agent's arithmetic, and the lookup leaves only the
    other channels (the walls) to multiply (docs/benchmarks.md)."""
    if not one_hot_channels:
        return jnp.dot(flatten_observation(obs), kernel) + bias
    height, width, channels = obs.shape[-3:]
    lead = obs.shape[:-3]
    rows = kernel.reshape(height * width, channels, -1)  # row (cell, channel) of the flat kernel
    dense = tuple(c for c in range(channels) if c not in one_hot_channels)
    out = jnp.dot(obs[..., dense].reshape(lead + (-1,)).astype(jnp.float32), rows[:, dense, :].reshape(-1, rows.shape[-1])) + bias
    for c in one_hot_channels:
        plane = obs[..., c].reshape(lead + (height * width,))
        lit = jnp.argmax(plane, axis=-1)  # the lit cell, or cell 0 of an empty plane (scaled by 0 below)
        out = out + plane.max(-1).astype(jnp.float32)[..., None] * jnp.take(rows[:, c, :], lit, axis=0)
    return out


def fused_first_layers(obs: jax.Array, layers: Sequence[dict], one_hot_channels: tuple[int, ...] = ()) -> list[jax.Array]:
    """Several dense layers over the same observation (their params dicts: kernel, bias) as one
    `first_layer` on the concatenated kernels: the pre-activations of each, in order."""
    kernel = jnp.concatenate([layer["kernel"] for layer in layers], axis=1)
    bias = jnp.concatenate([layer["bias"] for layer in layers])
    return jnp.split(first_layer(obs, kernel, bias, one_hot_channels), len(layers), axis=-1)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs; returns (action logits, state value).

    The two first layers (over the flattened grid: most of the arithmetic) run as one matrix
    product on the concatenated kernels, which computes the same function as calling the two
    MLPs and is about 1.35x faster to differentiate on the CPU (bench/ppo_throughput.py). The
    parameters are those of the two MLPs, so stored runs load unchanged."""

    num_actions: int
    width: int = 64
    depth: int = 2
    shared_input: bool = False
    """One first layer for both: the actor and the critic read the same `width` features of the
    grid, and only the layers above are separate. Half the arithmetic of the first layer."""
    one_hot_channels: tuple[int, ...] = ()
    """Observation channels the first layer reads by a row lookup (`first_layer`): the same
    function and parameters, less arithmetic."""

    def setup(self) -> None:
        """The actor and critic MLPs (and the shared first layer, when `shared_input`)."""
        above = self.depth - 1 if self.shared_input else self.depth
        self.input = _dense(self.width, 2.0) if self.shared_input else None
        self.actor = MLP(self.width, above, self.num_actions, head_scale=0.01)
        self.critic = MLP(self.width, above, 1, head_scale=1.0)

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.is_initializing() or self.depth == 0:
            x = flatten_observation(obs)
            features = nn.tanh(self.input(x)) if self.shared_input else x
            return self.actor(features), self.critic(features)[..., 0]
        if self.shared_input:
            first = self.input.variables["params"]
            features = nn.tanh(first_layer(obs, first["kernel"], first["bias"], self.one_hot_channels))
            return self.actor(features), self.critic(features)[..., 0]
        actor, critic = self.actor.variables["params"], self.critic.variables["params"]
        actor_first, critic_first = fused_first_layers(obs, (actor["Dense_0"], critic["Dense_0"]), self.one_hot_channels)
        logits = _mlp_rest(actor, nn.tanh(actor_first), self.depth)
        value = _mlp_rest(critic, nn.tanh(critic_first), self.depth)
        return logits, value[..., 0]

    def with_compute(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(logits, value, thinking iterations used = 0): a plain MLP does not think."""
        logits, value = self(obs)
        return logits, value, jnp.zeros(value.shape, jnp.float32)


def _mlp_rest(params: dict, hidden: jax.Array, depth: int) -> jax.Array:
    """An `MLP`'s layers after the first, applied to the first layer's activations."""
    for i in range(1, depth):
        hidden = nn.tanh(jnp.dot(hidden, params[f"Dense_{i}"]["kernel"]) + params[f"Dense_{i}"]["bias"])
    return jnp.dot(hidden, params[f"Dense_{depth}"]["kernel"]) + params[f"Dense_{depth}"]["bias"]


class ThinkingPolicy(nn.Module):
    """A policy that thinks for up to `steps` iterations of one weight-tied block per decision.

    h₀ = tanh(E x); h_{k+1} = tanh(B h_k + U x) with the same B and U at every iteration (input
    injection keeps the observation in view), and a policy head read at each iteration. Without
    halting the decision is the head at the last iteration. With halting, each iteration k emits a
    halting probability λ_k and the policy is the mixture Σ_k p_k π_k with
    p_k = λ_k Π_{j<k} (1 − λ_j) (the last iteration takes the remaining mass), as in PonderNet;
    the expected iterations Σ_k p_k (k + 1) is the computation the decision used. Weight tying
    makes the thinking budget a knob of computation, not of description length: K iterations have
    the parameters of one."""

    width: int
    steps: int
    outputs: int
    halting: bool = False

    @nn.compact
    def __call__(self, x: jax.Array | None, first: tuple[jax.Array, jax.Array] | None = None) -> tuple[jax.Array, jax.Array]:
        """(log-probabilities of the actions, expected iterations used) for inputs `x` (…, D), or
        for the two layers over the input already applied, `first` = (E x, U x) without their
        tanh (a caller that computes them with others in one `first_layer`)."""
        inject_layer = _dense(self.width, 2.0)  # U (Dense_0)
        block = _dense(self.width, 2.0)
        head = _dense(self.outputs, 0.01)
        halt = nn.Dense(1, kernel_init=nn.initializers.zeros, bias_init=nn.initializers.zeros)
        start_layer = _dense(self.width, 2.0)  # E (Dense_4)
        inject, start = first if first is not None else (inject_layer(x), start_layer(x))
        h = nn.tanh(start)
        log_probs, halts = [], []
        for _ in range(self.steps):
            h = nn.tanh(block(h) + inject)
            log_probs.append(jax.nn.log_softmax(head(h)))
            halts.append(jax.nn.sigmoid(halt(h))[..., 0])
        if not self.halting:
            return log_probs[-1], jnp.full(inject.shape[:-1], float(self.steps), jnp.float32)
        weights = _halting_distribution(jnp.stack(halts, -1))
        mixed = jax.nn.logsumexp(jnp.stack(log_probs, -2) + jnp.log(weights + 1e-12)[..., None], axis=-2)
        expected = (weights * jnp.arange(1, self.steps + 1, dtype=jnp.float32)).sum(-1)
        return mixed, expected


def _halting_distribution(halts: jax.Array) -> jax.Array:
    """p_k = λ_k Π_{j<k} (1 − λ_j) over the last axis, with the last iteration taking the rest."""
    continuing = jnp.cumprod(1.0 - halts, axis=-1)
    before = jnp.concatenate([jnp.ones_like(halts[..., :1]), continuing[..., :-1]], axis=-1)
    stops = halts.at[..., -1].set(1.0)
    return before * stops


class ThinkingActorCritic(nn.Module):
    """A `ThinkingPolicy` actor beside a plain MLP critic (`depth` layers): the thinking budget is
    a knob of the decision, not of the value estimate used only in training."""

    num_actions: int
    width: int = 64
    depth: int = 2
    steps: int = 4
    halting: bool = False
    one_hot_channels: tuple[int, ...] = ()
    """Observation channels read by a row lookup: then the actor's two layers over the grid and
    the critic's first run as one `first_layer` (the same function and parameters)."""

    def setup(self) -> None:
        """The thinking actor and a plain MLP critic."""
        self.actor = ThinkingPolicy(self.width, self.steps, self.num_actions, self.halting)
        self.critic = MLP(self.width, self.depth, 1, head_scale=1.0)

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits, value, _ = self.with_compute(obs)
        return logits, value

    def with_compute(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(action log-probabilities, value, expected thinking iterations used)."""
        if self.is_initializing() or not self.one_hot_channels:
            x = flatten_observation(obs)
            logits, expected = self.actor(x)
            return logits, self.critic(x)[..., 0], expected
        actor, critic = self.actor.variables["params"], self.critic.variables["params"]
        inject, start, critic_first = fused_first_layers(obs, (actor["Dense_0"], actor["Dense_4"], critic["Dense_0"]), self.one_hot_channels)
        logits, expected = self.actor(None, first=(inject, start))
        return logits, _mlp_rest(critic, nn.tanh(critic_first), self.depth)[..., 0], expected


class RecurrentActorCritic(nn.Module):
    """An RL² actor-critic: a GRU core whose memory runs through a whole trial of episodes.

    Each decision reads the observation and the feedback of the previous step (its action one-hot,
    its reward, and whether a new episode began), encodes them with `depth` tanh layers, updates
    the GRU state (`width` units), and reads the policy (a `ThinkingPolicy` when `steps` > 0, so
    the speed prior applies as for feed-forward agents) and the value from it. `__call__(obs)` is
    the first decision of a trial (zero memory, no feedback), for probes that see one observation.
    Kernels are variance-scaled, the GRU's recurrent kernels included (no orthogonal init: no LAPACK)."""

    num_actions: int
    width: int = 64
    depth: int = 2
    steps: int = 0
    halting: bool = False

    recurrent = True

    def setup(self) -> None:
        """The encoder, the GRU memory, the (thinking or plain) policy head and the critic."""
        self.encoder = [_dense(self.width, 2.0) for _ in range(max(1, self.depth))]
        init = nn.initializers.variance_scaling(1.0, "fan_avg", "truncated_normal")
        self.core = nn.GRUCell(self.width, kernel_init=init, recurrent_kernel_init=init)
        self.thinking = ThinkingPolicy(self.width, self.steps, self.num_actions, self.halting) if self.steps else None
        self.head = _dense(self.num_actions, 0.01)
        self.critic = _dense(1, 1.0)

    def initial_carry(self, batch_shape: tuple[int, ...] = ()) -> jax.Array:
        """Zero memory: the state at the start of a trial."""
        return jnp.zeros(batch_shape + (self.width,), jnp.float32)

    def step(self, carry, obs, prev_action, prev_reward, episode_start):
        """(new memory, action logits, value, thinking iterations used) of one decision."""
        feedback = [jax.nn.one_hot(prev_action, self.num_actions), prev_reward[..., None], episode_start[..., None].astype(jnp.float32)]
        x = jnp.concatenate([flatten_observation(obs)] + [f.astype(jnp.float32) for f in feedback], -1)
        for layer in self.encoder:
            x = nn.tanh(layer(x))
        carry, h = self.core(carry, x)
        if self.thinking is None:
            logits, thinking = self.head(h), jnp.zeros(h.shape[:-1], jnp.float32)
        else:
            logits, thinking = self.thinking(h)
        return carry, logits, self.critic(h)[..., 0], thinking

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(logits, value) of the first decision of a trial: zero memory, no feedback."""
        batch = obs.shape[: obs.ndim - 3]
        _, logits, value, _ = self.step(self.initial_carry(batch), obs, jnp.full(batch, -1), jnp.zeros(batch), jnp.ones(batch, bool))
        return logits, value

    def with_compute(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(logits, value, thinking iterations) of the first decision of a trial."""
        batch = obs.shape[: obs.ndim - 3]
        _, logits, value, thinking = self.step(self.initial_carry(batch), obs, jnp.full(batch, -1), jnp.zeros(batch), jnp.ones(batch, bool))
        return logits, value, thinking


AGENT_FAMILIES = ("feedforward", "recurrent")
"""Agent families: memoryless actor-critics, and RL² agents with a GRU memory across a trial."""


def network_family(agent: str) -> str:
    """The network family of a config's `agent`: "recurrent" for recurrent PPO, else "feedforward"
    (PPO and the imitation learners share the feed-forward actor-critic)."""
    return "recurrent" if agent == "recurrent" else "feedforward"


def make_network(
    num_actions: int,
    width: int,
    depth: int,
    thinking_steps: int = 0,
    halting: bool = False,
    family: str = "feedforward",
    shared_input: bool = False,
    one_hot_channels: tuple[int, ...] = (),
) -> nn.Module:
    """The actor-critic a PPO config asks for: plain MLPs when `thinking_steps` is 0, else a
    thinking-budget actor with `thinking_steps` iterations (halting early when `halting`); with
    `family="recurrent"` the same actor heads read a GRU memory (`RecurrentActorCritic`);
    `shared_input` gives the plain actor-critic one first layer for both heads. The plain and
    thinking actor-critics read `one_hot_channels` by a row lookup (`first_layer`); the recurrent
    one ignores them."""
    if thinking_steps < 0:
        raise ValueError(f"thinking_steps must be 0 (no thinking) or a positive number of iterations, got {thinking_steps}")
    if family not in AGENT_FAMILIES:
        raise ValueError(f"agent family must be one of {AGENT_FAMILIES}, got {family!r}")
    if halting and thinking_steps == 0:
        raise ValueError("halting needs a thinking budget: set thinking_steps to a positive number")
    if shared_input and (family == "recurrent" or thinking_steps):
        raise ValueError("shared_input applies to the plain MLP actor-critic: thinking_steps must be 0 and family feedforward")
    if family == "recurrent":
        return RecurrentActorCritic(num_actions, width, depth, thinking_steps, halting)
    if thinking_steps == 0:
        if halting:
            raise ValueError("halting needs a thinking budget: set thinking_steps to a positive number")
        return ActorCritic(num_actions, width, depth, shared_input, tuple(one_hot_channels))
    return ThinkingActorCritic(num_actions, width, depth, thinking_steps, halting, tuple(one_hot_channels))


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
