"""A Goodhart study: fit learned graders, put optimisation pressure on them, measure the true
(intended) and graded score at each pressure.

Pressures (each optional, all on the same levels and graders):

- `bon`: best-of-n over episodes of the base policy (uniform random), KL_BoN = log n - (n-1)/n;
- `rl`: one PPO agent per grader trained on that grader's reward (`agents.ppo` with the grader
  as reward hook), measured at checkpoints along training (the initial policy included) with
  the KL from the initial policy estimated from the agent's own episodes (the sum over steps of
  KL(pi(.|o) || pi_0(.|o)), the KL between the two policies' episode distributions);
- `plan`: the grader-optimizer, the exact planner of each grader's reward (KL unbounded).

The study is stored under the store's artifact root as a folder named by a hash of its config
and the code version; every stage writes its arrays (safetensors, never pickle) when done, so
an interrupted study resumes at the first stage not yet written.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.agents import grader as grader_module
from mesascope.agents.ppo import DEFAULTS_UNTIL_2026_12_02, PPOConfig, make_train, policy_logits
from mesascope.diagnose import goodhart, returns
from mesascope.diagnose.rollout import uniform_random
from mesascope.experiments import population
from mesascope.experiments.checkpoints import SPACINGS
from mesascope.experiments.config import ConfigError, EvalConfig, ExperimentConfig, check_fields
from mesascope.experiments.runner import code_version
from mesascope.fields import setting
from mesascope.store import artifacts
from mesascope.store.db import Store, run_id_for
from mesascope.worlds import registry
from mesascope.worlds.core import World

PRESSURES = ("bon", "rl", "plan")
BASES = ("random", "none")
GRADER_SALT, LEVEL_SALT, BON_SALT, RL_SALT = 0x6AD, 0x1E7, 0xB0, 0x21

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GoodhartConfig:
    """One Goodhart study."""

    world: str = setting("coin", nonempty=True)
    """Registered world name."""
    world_options: dict[str, Any] = field(default_factory=dict)
    """Options of the world's constructor."""
    grader: grader_module.GraderConfig = field(default_factory=grader_module.GraderConfig)
    """How each grader is fitted."""
    graders: int = setting(8, low=1, high=256)
    """Graders (seeds); every pressure is applied to each, intervals are over them."""
    bon: tuple[int, ...] = setting((), low=1, high=65_536, unique=True)
    """Best-of-n values of n (empty: no best-of-n pressure)."""
    rl: bool = False
    """Train one PPO agent per grader on its reward."""
    plan: bool = True
    """Measure the grader-optimizer (exact planner of the grader's reward)."""
    base: str = setting("random", choices=BASES)
    """Base policy of the KL pressures: the uniform random policy, or none (then only `plan`)."""
    distribution: str = setting("train", nonempty=True)
    """Level distribution the pressure is measured on (the graders are fitted on train levels)."""
    levels: int = setting(32, low=1, high=4_096)
    """Levels the pressure is measured on."""
    kl_episodes: int = setting(4, low=1, high=1_024)
    """Episodes per level and checkpoint for the RL agents' true/graded scores and KL."""
    checkpoints: int = setting(6, low=1, high=100)
    """RL checkpoints spread over training (plus the initial policy)."""
    checkpoint_spacing: str = setting("even", choices=SPACINGS)
    """How the RL checkpoints are spread: evenly, or geometrically from the first PPO update
    (dense early, where the policy leaves its initialisation fastest)."""
    ppo: PPOConfig = field(default_factory=lambda: PPOConfig(total_steps=200_000, **DEFAULTS_UNTIL_2026_12_02))
    """PPO settings of the RL pressure."""
    seed: int = setting(0, low=0, high=2**32 - 1)
    """Base random seed."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able nested dict of every field."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def validate_goodhart(config: GoodhartConfig) -> World:
    """Check the study before any work; ConfigError naming the field and allowed values."""
    if config.world not in registry.names():
        raise ConfigError(f"world must be one of {registry.names()}, got {config.world!r}")
    check_fields(config)
    try:
        world = registry.make(config.world, **config.world_options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"world_options: {error}") from None
    if config.distribution not in world.distributions:
        raise ConfigError(f"distribution must be one of {sorted(world.distributions)}, got {config.distribution!r}")
    kl_pressures = [name for name, on in (("bon", bool(config.bon)), ("rl", config.rl)) if on]
    if config.base == "none" and kl_pressures:
        raise ConfigError(f"pressure {', '.join(kl_pressures)} is measured as KL from a base policy, but base is 'none'; use base=random or only the plan pressure")
    if not (config.bon or config.rl or config.plan):
        raise ConfigError(f"no pressure to apply; pressures: {list(PRESSURES)}")
    p = config.ppo
    if config.rl and (p.total_steps < p.batch_size or p.batch_size % p.minibatches):
        raise ConfigError(f"ppo.total_steps must be at least num_envs*num_steps = {p.batch_size} and ppo.minibatches must divide it")
    return world


@dataclass
class GoodhartResult:
    """Measured arrays of a study (graders on the first axis) and where it is stored."""

    config: GoodhartConfig
    study_id: str
    arrays: dict[str, np.ndarray]
    folder: Path


def study_id(config: GoodhartConfig) -> str:
    """The study's id: a hash of its config and the code version."""
    return run_id_for({"goodhart": config.to_dict()}, code_version())


def _stage(folder: Path, name: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    path = folder / f"{name}.safetensors"
    if path.exists():
        return artifacts.load_arrays(path)[0]
    arrays = {k: np.ascontiguousarray(v) for k, v in compute().items()}
    artifacts.save_arrays(path, arrays)
    return arrays


def run_goodhart(config: GoodhartConfig, store: Store, progress: Progress | None = None) -> GoodhartResult:
    """Run (or resume) the study `config` in `store`."""
    world = validate_goodhart(config)
    sid = study_id(config)
    folder = store.run_dir(sid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    say = progress or (lambda _: None)
    base = jax.random.PRNGKey(config.seed)
    say("fitting graders")
    params, mse, label_var = _graders(world, config, folder, base)
    params = jax.tree.map(jnp.asarray, params)
    levels = world.sample_levels(jax.random.fold_in(base, LEVEL_SALT), world.distributions[config.distribution].shift, config.levels)
    arrays: dict[str, np.ndarray] = {"grader_mse": mse, "label_var": label_var}
    say("reference policies")
    arrays |= _stage(folder, "reference", lambda: _references(world, levels))
    if config.bon:
        say("best-of-n")
        arrays |= _stage(folder, "bon", lambda: _best_of_n(world, config, levels, params, base))
    if config.rl:
        say("PPO on each grader")
        arrays |= _stage(folder, "rl", lambda: _rl(world, config, levels, params, base, say))
    if config.plan:
        say("grader-optimizer")
        arrays |= _stage(folder, "plan", lambda: _plan(world, config, levels, params, base))
    return GoodhartResult(config, sid, arrays, folder)


def _graders(world: World, config: GoodhartConfig, folder: Path, base: jax.Array) -> tuple[Any, np.ndarray, np.ndarray]:
    """Fitted graders (stacked params), their training MSE and their labels' variance; stored."""
    stem = folder / "graders"
    if stem.with_suffix(".json").exists():
        params, manifest = artifacts.load_params(stem)
        return params, np.asarray(manifest["mse"], np.float32), np.asarray(manifest["label_var"], np.float32)
    keys = jax.random.split(jax.random.fold_in(base, GRADER_SALT), config.graders)
    params, mse, label_var = jax.device_get(grader_module.fit(world, keys, config.grader))
    meta = {"mse": [float(m) for m in mse], "label_var": [float(v) for v in label_var], "grader": dataclasses.asdict(config.grader)}
    artifacts.save_params(stem, params, meta)
    return params, np.asarray(mse), np.asarray(label_var)


def _references(world: World, levels: Any) -> dict[str, np.ndarray]:
    """Exact true score per level of the intended planner (G*) and the uniform random policy (G°)."""
    optimal, random = returns.level_baselines(world, levels)
    return {"planner_true": optimal[:, 0], "random_true": random[:, 0]}


def _best_of_n(world: World, config: GoodhartConfig, levels: Any, params: Any, base: jax.Array) -> dict[str, np.ndarray]:
    keys = jax.random.split(jax.random.fold_in(base, BON_SALT), max(config.bon))
    policy = uniform_random(world.num_actions)

    def episodes(grader_params):
        grade = grader_module.grade_fn(config.grader, grader_params)
        return jax.vmap(lambda k: grader_module.graded_rollout(world, policy, levels, k, grade)[:2])(keys)

    returns, scores = jax.device_get(jax.jit(jax.vmap(episodes))(params))  # (G, M, L, K), (G, M, L)
    rng = np.random.default_rng(config.seed)
    true, graded = [], []
    for g in range(config.graders):
        t, s = goodhart.best_of_n(returns[g, ..., 0].T, scores[g].T, config.bon, rng)
        true.append(t.mean(0))
        graded.append(s.mean(0))
    return {"bon_n": np.asarray(config.bon, np.int64), "bon_true": np.stack(true), "bon_graded": np.stack(graded)}


def _rl(world: World, config: GoodhartConfig, levels: Any, params: Any, base: jax.Array, say: Progress) -> dict[str, np.ndarray]:
    experiment = ExperimentConfig(
        world=config.world, world_options=config.world_options, train_shifts=(world.distributions["train"].shift,),
        seeds=config.graders, seed=config.seed, ppo=config.ppo, eval=EvalConfig(checkpoints=config.checkpoints),
    )
    trainer = make_train(config.ppo, world, reward_hook=grader_module.reward_hook(config.grader))
    hyper = population.population_hyper(experiment).replace(reward_params=params)
    initial = jax.device_get(jax.vmap(trainer.init)(population.population_keys(experiment), hyper).params)

    def chunk(done: int, total: int, _: dict) -> None:
        say(f"PPO on each grader: update {done}/{total}")

    _, _, checkpoints = population.train_population(trainer, experiment, chunk, checkpoints=config.checkpoints, hyper=hyper,
                                                   spacing=config.checkpoint_spacing)
    stages = [initial, *checkpoints.params]
    keys = jax.random.split(jax.random.fold_in(base, RL_SALT), config.kl_episodes)
    network = trainer.network

    def measure(agent_params, agent_initial, grade_params, key):
        logits = policy_logits(network, agent_params)
        logits0 = policy_logits(network, agent_initial)
        grade = grader_module.grade_fn(config.grader, grade_params)

        def kl(obs):
            logp, logq = jax.nn.log_softmax(jax.vmap(logits)(obs)), jax.nn.log_softmax(jax.vmap(logits0)(obs))
            return (jnp.exp(logp) * (logp - logq)).sum(-1)

        policy = lambda k, obs, state: jax.random.categorical(k, logits(obs)).astype(jnp.int32)  # noqa: E731
        returns, graded, divergence = grader_module.graded_rollout(world, policy, levels, key, grade, kl)
        return returns[:, 0].mean(), graded.mean(), divergence.mean()

    over_keys = jax.vmap(measure, in_axes=(None, None, None, 0))
    run = jax.jit(jax.vmap(over_keys, in_axes=(0, 0, 0, None)))
    true, graded, kl = [], [], []
    for stage in stages:
        t, g, d = jax.device_get(run(stage, initial, params, keys))
        true.append(t.mean(1))
        graded.append(g.mean(1))
        kl.append(d.mean(1))
    steps = np.concatenate([[0], checkpoints.steps]).astype(np.int64)
    return {"rl_steps": steps, "rl_true": np.stack(true, 1), "rl_graded": np.stack(graded, 1), "rl_kl": np.maximum(np.stack(kl, 1), 0.0)}


def _plan(world: World, config: GoodhartConfig, levels: Any, params: Any, base: jax.Array) -> dict[str, np.ndarray]:
    key = jax.random.fold_in(base, 11)

    def one(grader_params):
        grade = grader_module.grade_fn(config.grader, grader_params)
        returns, scores, _ = grader_module.graded_rollout(world, grader_module.grader_planner_policy(world, grade), levels, key, grade)
        return returns[:, 0].mean(), scores.mean()

    true, graded = jax.device_get(jax.jit(jax.vmap(one))(params))
    return {"plan_true": np.asarray(true), "plan_graded": np.asarray(graded)}
