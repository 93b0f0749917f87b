"""The PPO network's first layer over one-hot object channels: dense product against row gathers.

The coin world's egocentric observation is 13x13 cells x 3 channels (wall, coin, exit). The coin
and exit channels hold at most one 1 each, so their share of the first layer's product, x @ W,
is a gather of at most one kernel row per channel, and its gradient a scatter-add; only the
wall channel needs a dense product. This computes exactly the same function and gradient (up
to float rounding). The script times the gradient of a squared loss through the first layer
(tanh, 128 units: the actor's and the critic's first layers side by side, as the trainer runs
them) for 16 agents vmapped, 512 observations each (one minibatch), in three forms:

- `dense`: today's product over the flattened observation;
- `gather`: dense wall channel, row gathers for the object channels, found in the observation
  by argmax inside the network (autodiff gives the scatter-add);
- `indexed`: the same with the object cells found once, outside the gradient (as a rollout
  that stored them next to the observation would), and the backward pass written by hand.

For scale it also times one whole minibatch step of the default actor-critic (64x64 MLPs, a
PPO-shaped loss, gradient clipping and Adam) on the same observations: the first layer's share
of it bounds what any change to the first layer can gain.

    python bench/first_layer_onehot.py
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import optax

from mesascope.agents.networks import ActorCritic
from mesascope.worlds import registry

AGENTS, MINIBATCH, HIDDEN = 16, 512, 128


def coin_observations() -> jax.Array:
    """(AGENTS, MINIBATCH, 13, 13, 3) observations of the coin world a few random steps in."""
    world = registry.make("coin")
    count = AGENTS * MINIBATCH
    levels = world.sample_levels(jax.random.key(0), 0.0, count)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(1), count), levels)
    step = jax.jit(jax.vmap(world.step, in_axes=(0, 0, 0, None)))
    for i in range(5):
        actions = jax.random.randint(jax.random.key(10 + i), (count,), 0, world.num_actions)
        timestep = step(jax.random.split(jax.random.key(100 + i), count), timestep.state, actions, 0.0)
    return timestep.obs.reshape(AGENTS, MINIBATCH, *timestep.obs.shape[1:])


def dense_layer(kernel, bias, obs):
    """tanh(x @ W + b) over the flattened observation."""
    return jnp.tanh(obs.reshape(obs.shape[0], -1).astype(jnp.float32) @ kernel + bias)


def gather_layer(kernel, bias, obs):
    """The same function: a dense product over channel 0, a row gather for every other channel."""
    height, width, channels = obs.shape[1:]
    rows = kernel.reshape(height * width, channels, -1)
    out = obs[..., 0].reshape(obs.shape[0], -1).astype(jnp.float32) @ rows[:, 0] + bias
    for channel in range(1, channels):
        flat = obs[..., channel].reshape(obs.shape[0], -1)
        cell = jnp.argmax(flat, axis=1)
        present = jnp.take_along_axis(flat, cell[:, None], 1).astype(jnp.float32)
        out = out + rows[cell, channel] * present
    return jnp.tanh(out)


def indexed_layer(shape):
    """`gather_layer` on (wall plane, object cells, presence) found beforehand, with a hand-written
    backward pass (a dense product for the wall plane, segment sums for the object rows)."""
    height, width, channels = shape

    @jax.custom_vjp
    def layer(kernel, bias, wall, cells, present):
        rows = kernel.reshape(height * width, channels, -1)
        out = wall.astype(jnp.float32) @ rows[:, 0] + bias
        for j in range(channels - 1):
            out = out + rows[cells[:, j], j + 1] * present[:, j : j + 1]
        return jnp.tanh(out)

    def forward(kernel, bias, wall, cells, present):
        out = layer(kernel, bias, wall, cells, present)
        return out, (out, wall, cells, present)

    def backward(saved, grad):
        out, wall, cells, present = saved
        pre = grad * (1 - out * out)
        parts = [wall.astype(jnp.float32).T @ pre]
        for j in range(channels - 1):
            parts.append(jax.ops.segment_sum(pre * present[:, j : j + 1], cells[:, j], num_segments=height * width))
        return jnp.stack(parts, 1).reshape(height * width * channels, -1), pre.sum(0), None, None, None

    layer.defvjp(forward, backward)
    return layer


def minibatch_step(obs: jax.Array):
    """A jitted whole minibatch step of the default actor-critic for every agent: policy-gradient,
    value and entropy terms, clipping and Adam (the shape of a PPO update, not its exact loss)."""
    network = ActorCritic(4, 64, 2)
    params = jax.vmap(lambda key: network.init(key, obs[0, :1]))(jax.random.split(jax.random.key(0), AGENTS))
    optimiser = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(3e-4))
    state = jax.vmap(optimiser.init)(params)
    actions = jax.random.randint(jax.random.key(1), (AGENTS, MINIBATCH), 0, 4)
    advantages = jax.random.normal(jax.random.key(2), (AGENTS, MINIBATCH))

    def loss(params, obs, actions, advantages):
        logits, value = network.apply(params, obs)
        log_probs = jax.nn.log_softmax(logits)
        entropy = -(jnp.exp(log_probs) * log_probs).sum(-1).mean()
        chosen = log_probs[jnp.arange(actions.shape[0]), actions]
        return -(chosen * advantages).mean() + 0.5 * ((value - advantages) ** 2).mean() - 0.01 * entropy

    def one(params, state, obs, actions, advantages):
        updates, state = optimiser.update(jax.grad(loss)(params, obs, actions, advantages), state, params)
        return optax.apply_updates(params, updates), state

    step = jax.jit(jax.vmap(one))
    return lambda: step(params, state, obs, actions, advantages)


def main() -> None:
    """Print the median milliseconds of each form's gradient and its ratio to `dense`."""
    obs = coin_observations()
    nonzero = [int(obs[..., c].reshape(AGENTS * MINIBATCH, -1).sum(-1).max()) for c in range(obs.shape[-1])]
    print(f"# {AGENTS} agents x {MINIBATCH} observations {tuple(obs.shape[2:])}; most 1s per channel: {nonzero}; jax {jax.__version__}")
    assert all(n <= 1 for n in nonzero[1:]), "the object channels must be one-hot for the gather forms"
    features = obs.shape[2] * obs.shape[3] * obs.shape[4]
    kernel = jax.random.normal(jax.random.key(2), (AGENTS, features, HIDDEN)) * 0.05
    bias = jnp.zeros((AGENTS, HIDDEN))
    target = jax.random.normal(jax.random.key(3), (AGENTS, MINIBATCH, HIDDEN))
    objects = [obs[..., c].reshape(AGENTS, MINIBATCH, -1) for c in range(1, obs.shape[-1])]
    wall = obs[..., 0].reshape(AGENTS, MINIBATCH, -1)
    cells = jnp.stack([jnp.argmax(o, -1) for o in objects], -1)
    present = jnp.stack([o.max(-1) for o in objects], -1).astype(jnp.float32)

    def gradient(layer):
        loss = lambda k, b, *inputs: jnp.mean((layer(k, b, *inputs[:-1]) - inputs[-1]) ** 2)  # noqa: E731
        return jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1))))

    dense, gather, indexed = gradient(dense_layer), gradient(gather_layer), gradient(indexed_layer(obs.shape[2:]))
    calls = {
        "dense": lambda: dense(kernel, bias, obs, target),
        "gather": lambda: gather(kernel, bias, obs, target),
        "indexed": lambda: indexed(kernel, bias, wall, cells, present, target),
        "whole step": minibatch_step(obs),
    }
    reference = calls["dense"]()[0]
    for label, call in list(calls.items())[:3]:
        error = float(jnp.abs(call()[0] - reference).max())
        print(f"# {label}: largest difference of the kernel gradient from dense {error:.1e}")
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(15):
        for label, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[label].append(time.perf_counter() - start)
    base = statistics.median(times["dense"])
    whole = statistics.median(times.pop("whole step"))
    for label, measured in times.items():
        print(f"{label:>8}: {statistics.median(measured) * 1e3:6.1f} ms  {base / statistics.median(measured):.2f}x")
    saved = base - statistics.median(times["indexed"])
    print(f"whole minibatch step: {whole * 1e3:.1f} ms, of which the dense first layer's gradient {base / whole:.0%};"
          f" with `indexed` it would take {(whole - saved) * 1e3:.1f} ms ({whole / (whole - saved):.2f}x)")


if __name__ == "__main__":
    main()
