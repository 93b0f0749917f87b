"""Experiment configuration: typed dataclasses, `key=value` overrides, validation before any work.

Every field is documented by the docstring under it; `mesascope run --help` and the errors for
bad overrides list the allowed keys. Values are parsed by type (numbers, booleans,
comma-separated lists, plain strings), never by evaluating code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import textwrap
import math
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, get_type_hints

from mesascope.agents.ppo import PPOConfig
from mesascope.diagnose.verdict import VerdictThresholds
from mesascope.experiments.level_mix import LEVEL_MIXES
from mesascope.worlds import registry


class ConfigError(ValueError):
    """A bad configuration value or key; the message names the field and the allowed values."""


@dataclass(frozen=True)
class EvalConfig:
    """How trained agents are evaluated and diagnosed."""

    episodes: int = 128
    """Episodes (one per level) per agent and distribution; levels are shared by all agents."""
    distributions: tuple[str, ...] = ("train", "test")
    """Level distributions to evaluate on (names the world defines)."""
    greedy: bool = False
    """Act greedily instead of sampling from the policy."""
    goal_gamma: float = 0.9
    """Discount of the Boltzmann-rational planners used for goal inference."""
    goal_lapse: bool = True
    """Fit a lapse rate ε with β in goal inference's behaviour model, (1−ε)·Boltzmann + ε·uniform (false: the plain Boltzmann model; see docs/decisions.md for the comparison that chose the default)."""
    goal_mixture_resolution: int = 6
    """Steps per unit of the weight grid over the simplex of objectives for mixture hypotheses (1: single objectives only)."""
    bootstrap: int = 500
    """Bootstrap resamples for intervals over episodes."""
    gifs: int = 3
    """Test episodes rendered as GIFs for each training shift value."""
    checkpoints: int = 4
    """Parameter snapshots evenly spread over training, the last the final one (at most one per PPO update); saved with the run and probed for decision influence."""
    influence_levels: int = 32
    """Test levels on which decision influence (removing or moving each object kind) is measured at every checkpoint; 0 skips it."""
    identify_levels: int = 64
    """Levels per evaluated distribution on which the objectives' exact identifiability is computed for the report; 0 skips it."""


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a population of agents trained on one world and diagnosed."""

    name: str = "experiment"
    """A label for the experiment (part of the run id)."""
    world: str = "coin"
    """Registered world name (see `mesascope list`)."""
    world_options: dict[str, Any] = field(default_factory=dict)
    """Options passed to the world's constructor (see `mesascope show WORLD`)."""
    train_shifts: tuple[float, ...] = (0.0, 0.3)
    """Values of the world's shift dial to train at; one sub-population per value. With a
    `level_mix`, the shares q in [0, 1] of training levels drawn from the mix's pool instead."""
    level_mix: str = "none"
    """Where training levels come from: "none" (the world's shift dial), "test" (share q from
    the world's test distribution, plain random shift) or "adversarial" (share q from a bank of
    the test levels that separate the intended objective from the proxies most)."""
    adversarial_pool: int = 512
    """Candidate test levels scored to choose the adversarial bank from."""
    adversarial_bank: int = 32
    """Levels in the adversarial bank (the best of `adversarial_pool`)."""
    reward_weights: tuple[float, ...] = ()
    """Training reward as weights over the world's objectives, in their order (e.g. 0,1 trains on the first proxy); empty: the intended objective alone. Evaluation always judges against the intended objective."""
    seeds: int = 8
    """Agents trained per shift value."""
    seed: int = 0
    """Base random seed; agent i gets an independent key derived from it."""
    l2: float = 0.0
    """L2 weight-decay strength on network kernels."""
    l1: float = 0.0
    """L1 strength on network kernels."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO settings."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Evaluation settings."""
    thresholds: VerdictThresholds = field(default_factory=VerdictThresholds)
    """Verdict thresholds (reported beside every verdict)."""
    devices: int = 0
    """CPU devices to split the population over; 0 picks as many as divide the population."""

    @property
    def num_agents(self) -> int:
        """Agents in the population: seeds per shift value times shift values."""
        return self.seeds * len(self.train_shifts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able nested dict of every field."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under the fields of a dataclass, by field name."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for node, following in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                docs[node.target.id] = " ".join(str(following.value.value).split())
    return docs


def allowed_keys(config: ExperimentConfig | None = None) -> list[str]:
    """Every dotted key `--set` accepts (world options of the configured world included)."""
    config = config or ExperimentConfig()
    keys = []
    for f in dataclasses.fields(ExperimentConfig):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(value)]
        elif f.name == "world_options":
            keys += [f"world_options.{k}" for k in registry.options(config.world)] if config.world in registry.names() else []
        else:
            keys.append(f.name)
    return keys


def apply_overrides(config: ExperimentConfig, assignments: list[str]) -> ExperimentConfig:
    """Apply `key=value` overrides (dotted keys for nested fields) and validate the result."""
    for assignment in assignments:
        if "=" not in assignment:
            raise ConfigError(f"override {assignment!r} is not of the form key=value; allowed keys: {', '.join(allowed_keys(config))}")
        key, raw = (part.strip() for part in assignment.split("=", 1))
        config = _set(config, key, raw)
    validate(config)
    return config


def _set(config: ExperimentConfig, key: str, raw: str) -> ExperimentConfig:
    head, _, rest = key.partition(".")
    names = {f.name for f in dataclasses.fields(ExperimentConfig)}
    if head not in names:
        raise ConfigError(f"unknown config key {key!r}; allowed keys: {', '.join(allowed_keys(config))}")
    if head == "world_options":
        if not rest:
            raise ConfigError("set world options one at a time, e.g. world_options.size=11")
        allowed = registry.options(config.world)
        if rest not in allowed:
            raise ConfigError(f"unknown option {rest!r} for world {config.world!r}; allowed: {sorted(allowed)}")
        default = allowed[rest]
        typed = default is not None and default is not inspect.Parameter.empty
        value = _parse(raw, type(default) if typed else None, key)
        return dataclasses.replace(config, world_options={**config.world_options, rest: value})
    current = getattr(config, head)
    if dataclasses.is_dataclass(current):
        sub_names = {f.name: f for f in dataclasses.fields(current)}
        if rest not in sub_names:
            raise ConfigError(f"unknown config key {key!r}; allowed keys: {', '.join(k for k in allowed_keys(config) if k.startswith(head + '.'))}")
        hint = get_type_hints(type(current))[rest]
        try:
            updated = dataclasses.replace(current, **{rest: _parse(raw, hint, key)})
        except ConfigError:
            raise
        except ValueError as error:  # a nested config's own validation
            raise ConfigError(f"{key}: {error}") from None
        return dataclasses.replace(config, **{head: updated})
    if rest:
        raise ConfigError(f"config key {head!r} has no sub-keys; got {key!r}")
    hint = get_type_hints(ExperimentConfig)[head]
    return dataclasses.replace(config, **{head: _parse(raw, hint, key)})


def _parse(raw: str, hint: Any, key: str) -> Any:
    """Parse `raw` as the type `hint`; errors name the key and the expected type."""
    origin = get_origin(hint)
    if origin is tuple:
        (item, *_) = get_args(hint)
        return tuple(_parse(part, item, key) for part in raw.split(",") if part.strip())
    if hint is bool:
        lowered = raw.lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{key} must be a boolean (true/false), got {raw!r}")
        return lowered in ("true", "1", "yes")
    if hint is int:
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
    if hint is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {raw!r}") from None
    if hint is None:  # a world option with no typed default: number if it parses, else string
        for convert in (int, float):
            try:
                return convert(raw)
            except ValueError:
                pass
        return raw
    return raw


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def validate(config: ExperimentConfig) -> None:
    """Check every field; raise ConfigError naming the first bad field and its allowed values."""
    _require(config.world in registry.names(), f"world must be one of {registry.names()}, got {config.world!r}")
    try:
        world = registry.make(config.world, **config.world_options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"world_options: {error}") from None
    _require(config.level_mix in LEVEL_MIXES, f"level_mix must be one of {list(LEVEL_MIXES)}, got {config.level_mix!r}")
    _require(1 <= config.adversarial_pool <= 65536, f"adversarial_pool must be in [1, 65536], got {config.adversarial_pool}")
    _require(
        1 <= config.adversarial_bank <= config.adversarial_pool,
        f"adversarial_bank must be in [1, adversarial_pool] = [1, {config.adversarial_pool}], got {config.adversarial_bank}",
    )
    low, high = world.shift_range
    dial = world.shift_name
    if config.level_mix != "none":
        low, high, dial = 0.0, 1.0, f"with level_mix={config.level_mix!r} the values are shares q_{config.level_mix} of pool levels, which"
    _require(len(config.train_shifts) >= 1, "train_shifts needs at least one value")
    for value in config.train_shifts:
        _require(math.isfinite(value) and low <= value <= high, f"train_shifts: {dial} must be in [{low}, {high}], got {value}")
    _require(len(set(config.train_shifts)) == len(config.train_shifts), f"train_shifts has repeated values: {config.train_shifts}")
    _require(1 <= config.seeds <= 4096, f"seeds must be in [1, 4096], got {config.seeds}")
    _require(config.seed >= 0, f"seed must be >= 0, got {config.seed}")
    weights = config.reward_weights
    _require(
        not weights or (len(weights) == world.num_objectives and all(math.isfinite(w) for w in weights) and any(w != 0 for w in weights)),
        f"reward_weights needs one finite weight per objective {list(world.objectives)}, not all zero (or none for the intended objective), got {list(weights)}",
    )
    _require(config.l2 >= 0 and config.l1 >= 0, f"l2 and l1 must be >= 0, got l2={config.l2}, l1={config.l1}")
    _require(config.devices >= 0, f"devices must be >= 0 (0 = automatic), got {config.devices}")
    p = config.ppo
    _require(p.total_steps >= p.batch_size, f"ppo.total_steps must be at least num_envs*num_steps = {p.batch_size}, got {p.total_steps}")
    for name in ("num_envs", "num_steps", "epochs", "minibatches", "width", "depth"):
        _require(getattr(p, name) >= 1, f"ppo.{name} must be >= 1, got {getattr(p, name)}")
    _require(p.batch_size % p.minibatches == 0, f"ppo.minibatches must divide num_envs*num_steps = {p.batch_size}, got {p.minibatches}")
    _require(p.learning_rate > 0, f"ppo.learning_rate must be > 0, got {p.learning_rate}")
    for name in ("gamma", "gae_lambda"):
        _require(0.0 <= getattr(p, name) <= 1.0, f"ppo.{name} must be in [0, 1], got {getattr(p, name)}")
    _require(p.clip > 0, f"ppo.clip must be > 0, got {p.clip}")
    e = config.eval
    _require(e.episodes >= 2, f"eval.episodes must be >= 2, got {e.episodes}")
    for name in e.distributions:
        _require(name in world.distributions, f"eval.distributions: unknown distribution {name!r}; allowed: {sorted(world.distributions)}")
    _require(0.0 < e.goal_gamma < 1.0, f"eval.goal_gamma must be in (0, 1), got {e.goal_gamma}")
    _require(e.bootstrap >= 10, f"eval.bootstrap must be >= 10, got {e.bootstrap}")
    _require(1 <= e.goal_mixture_resolution <= 12, f"eval.goal_mixture_resolution must be in [1, 12], got {e.goal_mixture_resolution}")
    _require(e.gifs >= 0, f"eval.gifs must be >= 0, got {e.gifs}")
    _require(e.checkpoints >= 1, f"eval.checkpoints must be >= 1 (1 keeps only the final parameters), got {e.checkpoints}")
    _require(e.influence_levels >= 0, f"eval.influence_levels must be >= 0 (0 skips decision influence), got {e.influence_levels}")
    _require(e.identify_levels >= 0, f"eval.identify_levels must be >= 0 (0 skips identifiability), got {e.identify_levels}")
    t = config.thresholds
    for name in ("min_support", "aligned_min_normalised", "capable_min_normalised"):
        value = getattr(t, name)
        _require(0.0 <= value <= 1.0, f"thresholds.{name} must be in [0, 1], got {value}")
    _require(t.min_gain_over_random >= 0, f"thresholds.min_gain_over_random must be >= 0, got {t.min_gain_over_random}")
    _require(t.min_log_bayes_factor >= 0, f"thresholds.min_log_bayes_factor must be >= 0, got {t.min_log_bayes_factor}")
    _require(t.min_margin_per_step >= 0, f"thresholds.min_margin_per_step must be >= 0, got {t.min_margin_per_step}")


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Rebuild a config from `to_dict` output (as stored with a run)."""
    data = dict(data)
    nested = {"ppo": PPOConfig, "eval": EvalConfig, "thresholds": VerdictThresholds}
    for name, cls in nested.items():
        if name in data:
            values = dict(data[name])
            hints = get_type_hints(cls)
            for key, value in values.items():
                if get_origin(hints.get(key)) is tuple:
                    values[key] = tuple(value)
            data[name] = cls(**values)
    for name in ("train_shifts", "reward_weights"):
        if name in data:
            data[name] = tuple(data[name])
    return ExperimentConfig(**data)
