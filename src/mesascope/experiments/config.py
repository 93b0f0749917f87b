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
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, get_type_hints

from mesascope.agents.experts import ExpertSpec, check_expert
from mesascope.agents.imitation import LEARNERS, ImitationConfig
from mesascope.agents.ppo import PPOConfig
from mesascope.agents.shaping import parse_shaping
from mesascope.diagnose.verdict import VerdictThresholds
from mesascope.experiments.knobs import TRACED_KNOBS
from mesascope.experiments.level_mix import LEVEL_MIXES
from mesascope.fields import Spec, finite_problem, setting, spec_of
from mesascope.worlds import registry


class ConfigError(ValueError):
    """A bad configuration value or key; the message names the field and the allowed values."""





@dataclass(frozen=True)
class EvalConfig:
    """How trained agents are evaluated and diagnosed."""

    episodes: int = setting(128, low=2, high=65_536)
    """Episodes (one per level) per agent and distribution; levels are shared by all agents."""
    distributions: tuple[str, ...] = setting(("train", "test"), nonempty=True, unique=True)
    """Level distributions to evaluate on (names the world defines)."""
    greedy: bool = False
    """Act greedily instead of sampling from the policy."""
    goal_gamma: float = setting(0.9, low=0.0, high=1.0, low_open=True, high_open=True)
    """Discount of the Boltzmann-rational planners used for goal inference."""
    goal_lapse: bool = True
    """Fit a lapse rate ε with β in goal inference's behaviour model, (1−ε)·Boltzmann + ε·uniform (false: the plain Boltzmann model; see docs/decisions.md for the comparison that chose the default)."""
    goal_mixture_resolution: int = setting(6, low=1, high=12)
    """Steps per unit of the weight grid over the simplex of objectives for mixture hypotheses (1: single objectives only)."""
    bootstrap: int = setting(500, low=10, high=100_000)
    """Bootstrap resamples for intervals over episodes."""
    gifs: int = setting(3, low=0, high=64)
    """Test episodes rendered as GIFs for each training shift value."""
    checkpoints: int = setting(4, low=1, high=1_000)
    """Parameter snapshots evenly spread over training, the last the final one (at most one per PPO update); saved with the run and probed for decision influence."""
    influence_levels: int = setting(32, low=0, high=65_536)
    """Test levels on which decision influence (removing or moving each object kind) is measured at every checkpoint; 0 skips it."""
    identify_levels: int = setting(64, low=0, high=65_536)
    """Levels per evaluated distribution on which the objectives' exact identifiability is computed for the report; 0 skips it."""
    level_seed: int = setting(-1, low=-1, high=2**32 - 1)
    """Seed of the evaluation levels, rollout keys, goal-inference and return bootstraps (-1: the experiment's `seed`). Every agent of a run plays the same levels, so their verdicts share that draw; re-diagnosing with other values (`mesascope diagnose RUN --set eval.level_seed=K`, no retraining) measures how much a verdict share owes to it."""
    trajectory: bool = False
    """Also diagnose every saved checkpoint (`checkpoints` ≥ 2) on the test distribution, with these same settings, and store each agent's verdict along training for the report (the last checkpoint reuses the final evaluation; each other one costs about one more evaluation)."""


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a population of agents trained on one world and diagnosed."""

    name: str = setting("experiment", nonempty=True)
    """A label for the experiment (part of the run id)."""
    world: str = setting("coin", nonempty=True)
    """Registered world name (see `mesascope list`)."""
    world_options: dict[str, Any] = field(default_factory=dict)
    """Options passed to the world's constructor (see `mesascope show WORLD`)."""
    train_shifts: tuple[float, ...] = setting((0.0, 0.3), nonempty=True, unique=True)
    """Values of the world's shift dial to train at; one sub-population per value. With a
    `level_mix`, the shares q in [0, 1] of training levels drawn from the mix's pool instead."""
    level_mix: str = setting("none", choices=LEVEL_MIXES)
    """Where training levels come from: "none" (the world's shift dial), "test" (share q from
    the world's test distribution, plain random shift) or "adversarial" (share q from a bank of
    the test levels that separate the intended objective from the proxies most)."""
    adversarial_pool: int = setting(512, low=1, high=65_536)
    """Candidate test levels scored to choose the adversarial bank from."""
    adversarial_bank: int = setting(32, low=1, high=65_536)
    """Levels in the adversarial bank (the best of `adversarial_pool`)."""
    reward_weights: tuple[float, ...] = setting((), low=-1e6, high=1e6)
    """Training reward as weights over the world's objectives, in their order (e.g. 0,1 trains on the first proxy); empty: the intended objective alone. Evaluation always judges against the intended objective."""
    shaping: str = setting("none", nonempty=True)
    """Reward shaping added to the training reward: "none", "potential:FEATURE" (coef·(γ·f(s') − f(s)), γ = ppo.gamma; leaves optimal policies unchanged) or "bonus:FEATURE" (coef·f(s')), over a feature the world declares (grid worlds: distance_to_<object>)."""
    shaping_coef: float = setting(-0.1, low=-100.0, high=100.0)
    """Coefficient of the shaping term (negative with a distance feature: coming closer pays)."""
    trial_episodes: int = setting(1, low=1, high=1_000)
    """Episodes per trial on the same level (the same task); a recurrent agent's memory runs through a trial and is evaluated on its last episode. Feed-forward agents have no memory, so trials change nothing for them."""
    seeds: int = setting(8, low=1, high=4_096)
    """Agents trained per shift value."""
    seed: int = setting(0, low=0, high=2**32 - 1)
    """Base random seed; agent i gets an independent key derived from it."""
    l2: float = setting(0.0, low=0.0, high=1e3)
    """L2 weight-decay strength on network kernels."""
    l1: float = setting(0.0, low=0.0, high=1e3)
    """L1 strength on network kernels."""
    time_penalty: float = setting(0.0, low=0.0, high=1e3)
    """Speed prior: loss weight of the expected thinking iterations per decision (needs ppo.halting, which makes the iterations variable)."""
    channel_penalty: float = setting(0.0, low=0.0, high=1e3)
    """Internals-based selection: loss weight of the policy's sensitivity to `penalised_channel` (KL to the policy with that channel blanked)."""
    penalised_channel: str = ""
    """The observation channel `channel_penalty` selects against (one of the world's channels; see `mesascope show WORLD`); empty: none."""
    knob_grid: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Traced knobs that vary across agents inside one compiled program: knob -> values (set as knob_grid.l2=0,1e-3). Agents are the product of train_shifts, every axis here and the seeds; a knob here overrides its scalar field."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO settings (the network's width, depth and thinking steps serve every agent family)."""
    agent: str = setting("ppo", choices=("ppo", "recurrent") + LEARNERS)
    """Agent family: "ppo" (feed-forward actor-critic, reinforcement learning on the training reward), "recurrent" (RL²: PPO with a GRU memory through a trial of `trial_episodes` episodes of the same level), or an imitation learner of `expert`: "bc" (behavioural cloning) or "dagger"."""
    expert: ExpertSpec = field(default_factory=ExpertSpec)
    """The bounded planner that imitation learners clone (unused by ppo)."""
    imitation: ImitationConfig = field(default_factory=ImitationConfig)
    """Imitation learner settings (unused by ppo)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Evaluation settings."""
    thresholds: VerdictThresholds = field(default_factory=VerdictThresholds)
    """Verdict thresholds (reported beside every verdict)."""
    devices: int = setting(0, low=0, high=1_024)
    """CPU devices to split the population over; 0 picks as many as divide the population."""

    @property
    def num_agents(self) -> int:
        """Agents in the population: seeds per cell, times shift values, times the values of each
        knob_grid axis."""
        cells = len(self.train_shifts)
        for values in self.knob_grid.values():
            cells *= len(values)
        return self.seeds * cells

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
            keys += [f"world_options.{k}" for k in registry.options(config.world)] if registry.is_known(config.world) else []
        elif f.name == "knob_grid":
            keys += [f"knob_grid.{k}" for k in TRACED_KNOBS]
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
    if head == "knob_grid":
        _require(rest in TRACED_KNOBS, f"knob_grid keys are the traced knobs {list(TRACED_KNOBS)}, got {key!r} (knobs that change shapes, like ppo.width, need one program each: sweep them with --grid)")
        return dataclasses.replace(config, knob_grid={**config.knob_grid, rest: _parse(raw, tuple[float, ...], key)})
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
    if hint is None:  # a world option with no typed default (None: "the world decides") is a number
        for convert in (int, float):
            try:
                return convert(raw.replace("_", "") if convert is int else raw)
            except ValueError:
                pass
        raise ConfigError(f"{key} must be a number, got {raw!r}")
    return raw


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


THRESHOLD_SPECS: dict[str, Spec] = {
    "min_support": Spec(0.0, 1.0),
    "aligned_min_normalised": Spec(0.0, 1.0),
    "capable_min_normalised": Spec(0.0, 1.0),
    "min_gain_over_random": Spec(0.0, 100.0),
    "min_log_bayes_factor": Spec(0.0, 1e4),
    "min_mixture_log_bayes_factor": Spec(0.0, 1e4),
    "min_margin_per_step": Spec(0.0, 100.0),
}
"""Allowed values of the verdict thresholds (`VerdictThresholds` lives in `diagnose/`, which
declares no field metadata, so its ranges are declared here)."""

WORLD_OPTION_SPECS: dict[str, Spec] = {
    "max_steps": Spec(1, 10_000),
    "bank_size": Spec(1, 65_536),
    "layout_seed": Spec(0, 2**32 - 1),
    "size": Spec(3, 255),
    "obstacle_density": Spec(0.0, 1.0, high_open=True),
}
"""Bounds on world options shared by many worlds; each world's constructor checks the rest.
Every other numeric option must be finite and within `WORLD_OPTION_LIMIT`."""

WORLD_OPTION_LIMIT = Spec(-1_000_000, 1_000_000)

_NESTED = ("ppo", "expert", "imitation", "eval", "thresholds")


def field_spec(cls: type, field: dataclasses.Field) -> Spec | None:
    """The allowed values of a config field: its metadata, or `THRESHOLD_SPECS` for thresholds."""
    spec = spec_of(field)
    if spec is None and cls is VerdictThresholds:
        spec = THRESHOLD_SPECS.get(field.name)
    return spec


def _type_problem(value: Any, hint: Any) -> str | None:
    """Why `value` is not of the field type `hint` (int, float, bool, str, tuples of those)."""
    if get_origin(hint) is tuple:
        if not isinstance(value, tuple):
            return f"must be a list, got {type(value).__name__}"
        (item, *_) = get_args(hint)
        return next((why for why in (_type_problem(v, item) for v in value) if why), None)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is str:
        ok = isinstance(value, str)
    else:
        return None
    return None if ok else f"must be of type {getattr(hint, '__name__', hint)}, got {value!r}"


def check_fields(obj: Any, prefix: str = "") -> None:
    """Check every field of a config dataclass (nested ones included) against its type and
    declared allowed values; floats must be finite. Raises ConfigError naming the key."""
    hints = get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        key, value = prefix + f.name, getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            check_fields(value, f"{key}.")
            continue
        why = _type_problem(value, hints[f.name])
        spec = field_spec(type(obj), f)
        why = why or (spec.problem(value) if spec else None) or finite_problem(value)
        _require(why is None, f"{key} {why}")


def world_option_spec(world: str, name: str) -> Spec:
    """The bounds a numeric option of `world` is checked against: the shared ones
    (`WORLD_OPTION_SPECS`, else `WORLD_OPTION_LIMIT`) narrowed by the range the world declares,
    so that the range a user is told is the one that holds."""
    shared = WORLD_OPTION_SPECS.get(name, WORLD_OPTION_LIMIT)
    option = registry.declared_options(world).get(name)
    if option is None:
        return shared
    low, low_open = shared.low, shared.low_open
    declared_low = 0.0 if option.positive and (option.low is None or option.low <= 0) else option.low
    if declared_low is not None and (low is None or declared_low >= low):
        low, low_open = declared_low, option.positive and declared_low == 0.0
    high, high_open = shared.high, shared.high_open
    if option.high is not None and (high is None or option.high <= high):
        high, high_open = option.high, option.high_open
    return dataclasses.replace(shared, low=low, low_open=low_open, high=high, high_open=high_open)


def _declares_range(option: Any) -> bool:
    """Whether a declared world option (`Option`, or None) bounds its values."""
    return option is not None and (option.low is not None or option.high is not None or option.positive)


def _check_world_options(world: str, options: dict[str, Any]) -> None:
    for name, value in options.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        why = finite_problem(value) or world_option_spec(world, name).problem(value)
        _require(why is None, f"world_options.{name} {why}")


def validate(config: ExperimentConfig) -> None:
    """Check every field; raise ConfigError naming the first bad field and its allowed values.
    Field-by-field rules come from the metadata beside each field (`check_fields`); the rules
    below relate fields to each other or to the chosen world."""
    _require(registry.is_known(config.world), f"world must be one of {registry.names()} (or union:WORLD,WORLD,...), got {config.world!r}")
    _require(isinstance(config.world_options, dict), f"world_options must be a mapping, got {config.world_options!r}")
    _check_world_options(config.world, config.world_options)
    _require(isinstance(config.knob_grid, dict), f"knob_grid must be a mapping of knob -> values, got {config.knob_grid!r}")
    check_fields(config)
    try:
        world = registry.make(config.world, **config.world_options)
    except (TypeError, ValueError, OverflowError) as error:
        raise ConfigError(f"world_options: {error}") from None
    try:
        world.check_declarations()
    except ValueError as error:
        raise ConfigError(f"world {config.world!r} is declared inconsistently (its class, not the config): {error}") from None
    _require(
        config.adversarial_bank <= config.adversarial_pool,
        f"adversarial_bank must be in [1, adversarial_pool] = [1, {config.adversarial_pool}], got {config.adversarial_bank}",
    )
    low, high = world.shift_range
    dial = world.shift_name
    if config.level_mix != "none":
        low, high, dial = 0.0, 1.0, f"with level_mix={config.level_mix!r} the values are shares q_{config.level_mix} of pool levels, which"
    for value in config.train_shifts:
        _require(low <= value <= high, f"train_shifts: {dial} must be in [{low}, {high}], got {value}")
    weights = config.reward_weights
    _require(
        not weights or (len(weights) == world.num_objectives and any(w != 0 for w in weights)),
        f"reward_weights needs one finite weight per objective {list(world.objectives)}, not all zero (or none for the intended objective), got {list(weights)}",
    )
    try:
        parse_shaping(config.shaping, world, config.shaping_coef, config.ppo.gamma)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    p = config.ppo
    _require(p.total_steps >= p.batch_size, f"ppo.total_steps must be at least num_envs*num_steps = {p.batch_size}, got {p.total_steps}")
    _require(p.batch_size % p.minibatches == 0, f"ppo.minibatches must divide num_envs*num_steps = {p.batch_size}, got {p.minibatches}")
    _require(not p.halting or p.thinking_steps > 0, "ppo.halting needs a thinking budget: set ppo.thinking_steps to a positive number (1-64), or ppo.halting=false")
    _require(
        not p.shared_input or (p.thinking_steps == 0 and config.agent != "recurrent"),
        f"ppo.shared_input applies to the plain MLP actor-critic: set ppo.thinking_steps=0 and agent to ppo, bc or dagger, or ppo.shared_input=false (got thinking_steps={p.thinking_steps}, agent={config.agent})",
    )
    _require(
        config.agent != "recurrent" or p.num_envs % p.minibatches == 0,
        f"ppo.minibatches must divide ppo.num_envs = {p.num_envs} for the recurrent agent (minibatches are whole environment sequences), got {p.minibatches}",
    )
    _require(p.num_updates <= 1_000_000, f"ppo.total_steps / (num_envs*num_steps) is {p.num_updates} PPO updates; at most 1000000 are allowed")
    _check_knob_grid(config)
    channels = tuple(getattr(world, "observation_channels", ()))
    _require(not config.penalised_channel or config.penalised_channel in channels,
             f"penalised_channel must be one of {config.world}'s observation channels {list(channels)} (or empty), got {config.penalised_channel!r}")
    _require(not _may_be_positive(config, "channel_penalty") or config.penalised_channel,
             f"channel_penalty needs penalised_channel: one of {list(channels)}")
    _require(not _may_be_positive(config, "time_penalty") or p.halting,
             "time_penalty weighs the expected thinking iterations, which only a halting head makes variable: set ppo.thinking_steps and ppo.halting=true")
    for name in config.eval.distributions:
        _require(name in world.distributions, f"eval.distributions: unknown distribution {name!r}; allowed: {sorted(world.distributions)}")
    if config.agent != "ppo":
        for name, value, off in (("shaping", config.shaping, "none"), ("penalised_channel", config.penalised_channel, "")):
            _require(value == off, f"{name} shapes the feed-forward PPO trainer; agent={config.agent!r} does not read it: set {name}={off or 'an empty value'} or agent=ppo")
    if config.agent in LEARNERS:
        _require(config.level_mix == "none", f"level_mix must be 'none' for imitation learners (agent={config.agent!r}), got {config.level_mix!r}")
        try:
            check_expert(world, config.expert, config.seed)
        except ValueError as error:
            raise ConfigError(str(error)) from None


def _check_knob_grid(config: ExperimentConfig) -> None:
    """Each knob_grid axis: a traced knob, a non-empty list of distinct values, each allowed for
    the knob's own field."""
    for key, values in config.knob_grid.items():
        _require(key in TRACED_KNOBS, f"knob_grid keys are the traced knobs {list(TRACED_KNOBS)}, got {key!r}")
        _require(isinstance(values, tuple) and len(values) > 0, f"knob_grid.{key} needs at least one value, got {values!r}")
        _require(len(set(values)) == len(values), f"knob_grid.{key} values repeat: {list(values)}")
        cls, name = (PPOConfig, key.split(".", 1)[1]) if key.startswith("ppo.") else (ExperimentConfig, key)
        spec = field_spec(cls, next(f for f in dataclasses.fields(cls) if f.name == name))
        for value in values:
            why = _type_problem(value, float) or finite_problem(value) or (spec.problem(value) if spec else None)
            _require(why is None, f"knob_grid.{key} {why}")


def _may_be_positive(config: ExperimentConfig, key: str) -> bool:
    """Whether some agent gets a positive value of the traced knob `key`."""
    return getattr(config, key) > 0 or any(v > 0 for v in config.knob_grid.get(key, ()))


def config_rows(config: ExperimentConfig | None = None) -> list[tuple[str, str, str, str, str]]:
    """(key, type, default, allowed values, doc) for every key `--set` accepts, from the field
    metadata and docstrings (world options of the configured world included)."""
    config = config or ExperimentConfig()
    rows = []

    def add(cls: type, obj: Any, prefix: str) -> None:
        docs, hints = field_docs(cls), get_type_hints(cls)
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                add(type(value), value, f"{f.name}.")
                continue
            if f.name == "knob_grid":
                for key in TRACED_KNOBS:
                    rows.append((f"knob_grid.{key}", "list of float", ",".join(map(str, value.get(key, ()))) or "(not varied)",
                                 f"each value as {key} allows, finite; non-empty, no repeats", cls_doc(docs, f.name, cls)))
                continue
            if f.name == "world_options":
                declared = registry.declared_options(config.world)
                for option, default in registry.options(config.world).items():
                    shown = "(world default)" if default is None or default is inspect.Parameter.empty else repr(default)
                    numeric = default is None or isinstance(default, (int, float)) and not isinstance(default, bool)
                    choices = getattr(declared.get(option), "choices", None)
                    if choices is not None:
                        allowed = "one of " + ", ".join(map(str, choices))
                    elif numeric and option not in WORLD_OPTION_SPECS and not _declares_range(declared.get(option)):
                        allowed = "finite; the world checks its range"
                    elif numeric:
                        integer = isinstance(default, int) or getattr(declared.get(option), "integer", False)
                        allowed = ", ".join(filter(None, [world_option_spec(config.world, option).describe(), "an integer" if integer else "", "finite"]))
                    else:
                        allowed = "the world checks it"
                    rows.append((f"world_options.{option}", type(default).__name__ if default is not None else "number", shown, allowed, f"option of world {config.world!r} (see `mesascope show {config.world}`)"))
                continue
            hint = hints[f.name]
            kind = f"list of {get_args(hint)[0].__name__}" if get_origin(hint) is tuple else getattr(hint, "__name__", str(hint))
            spec = field_spec(cls, f)
            allowed = spec.describe() if spec else ""
            if cls is ExperimentConfig and f.name == "world":  # worlds may be registered late (plugins)
                allowed = "one of " + ", ".join(registry.names())
            if hint is float or get_origin(hint) is tuple and get_args(hint)[0] is float:
                allowed = ", ".join(filter(None, [allowed, "finite"]))
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            rows.append((prefix + f.name, kind, shown, allowed, cls_doc(docs, f.name, cls)))

    add(ExperimentConfig, config, "")
    return rows


def cls_doc(docs: dict[str, str], name: str, cls: type) -> str:
    """A field's docstring, or its line in the class's Attributes section."""
    if name in docs:
        return docs[name]
    lines = (cls.__doc__ or "").splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(f"{name}:"):
            indent = len(line) - len(line.lstrip())
            text = [line.strip().split(":", 1)[1].strip()]
            for more in lines[i + 1:]:
                if not more.strip() or len(more) - len(more.lstrip()) <= indent:
                    break
                text.append(more.strip())
            return " ".join(text)
    return ""


STORED_BEFORE_THE_KEY = {"ppo": {"object_lookup": False}}
"""Keys added to the config after runs were stored, with the value that describes how those runs
were made (a stored config without the key was trained with it so)."""


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Rebuild a config from `to_dict` output (as stored with a run); a key the stored config
    predates takes the value its run was made with (`STORED_BEFORE_THE_KEY`)."""
    data = dict(data)
    nested = {"ppo": PPOConfig, "expert": ExpertSpec, "imitation": ImitationConfig, "eval": EvalConfig, "thresholds": VerdictThresholds}
    for name, cls in nested.items():
        if name in data:
            values = {**STORED_BEFORE_THE_KEY.get(name, {}), **data[name]}
            hints = get_type_hints(cls)
            for key, value in values.items():
                if get_origin(hints.get(key)) is tuple:
                    values[key] = tuple(value)
            data[name] = cls(**values)
    for name in ("train_shifts", "reward_weights"):
        if name in data:
            data[name] = tuple(data[name])
    if "knob_grid" in data:
        data["knob_grid"] = {key: tuple(values) for key, values in data["knob_grid"].items()}
    return ExperimentConfig(**data)
