"""Build docs/worlds.md: one rendered picture per registered world and a measured table.

For each world: its default experiment (`mesascope run WORLD`: 8 seeds at the world's training
shift, default PPO budget) with the update schedule the catalogue was measured with
(`ppo.DEFAULTS_UNTIL_2026_12_02`: 4 epochs of 4 minibatches at step size 5e-4, the default
until 2026-12-02), evaluated on train and test; the table reports the mean normalised
intended and proxy returns on each distribution and the verdict counts on test. Results go to
the given store, so rerunning reuses finished runs.

With `--reuse-training`, a world whose run under the current code is not in the store but that
has a finished run of the same experiment under an earlier code version (the same config but
for the verdict thresholds and evaluation settings, which training never reads) is not retrained: that run's trained
parameters are loaded and evaluated again — rollouts, returns, goal inference and verdicts —
with the current code. Use it when only the diagnosis changed.

    python tools/world_catalogue.py [--db catalogue.db] [--worlds coin lamp ...] [--reuse-training]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import date
from collections import Counter
from pathlib import Path

from mesascope.experiments.population import request_host_devices

request_host_devices()

import jax  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from mesascope.diagnose.causal import proxy_kinds  # noqa: E402
from mesascope.agents.ppo import DEFAULTS_UNTIL_2026_12_02, make_train  # noqa: E402
from mesascope.experiments import population, presets  # noqa: E402
from mesascope.experiments.evaluate import evaluate_population  # noqa: E402
from mesascope.experiments.runner import code_version, run_experiment, run_id_for  # noqa: E402
from mesascope.store import artifacts  # noqa: E402
from mesascope.report import summary  # noqa: E402
from mesascope.store.db import Store  # noqa: E402
from mesascope.worlds import registry  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
CARDS = (
    "Each world's full card (`mesascope show NAME`, or `help()` on its class) is its docstring plus what the "
    "grid-world layer generates from its declarations: the observation channels of both views, the actions, the step "
    "limit, each distribution's dial and description, and the Gymnasium id; its options, defaults and allowed values "
    "come from its `declare(...)` (see docs/new_world.md).\n\n"
)
"""The paragraph that opens the per-world sections."""


def picture(world, path: Path) -> None:
    """Save a rendered test level of `world`, 4x enlarged."""
    level = world.sample_level(jax.random.PRNGKey(0), world.distributions["test"].shift)
    _, state = world.reset(jax.random.PRNGKey(0), level)
    image = np.asarray(world.render_state(state))
    Image.fromarray(image).resize((image.shape[1] * 3, image.shape[0] * 3), Image.NEAREST).save(path)


def row(world, result) -> str:
    """One markdown table row of measured returns and verdict counts."""
    cells = [f"`{world.name}`", world.intended, ", ".join(f"{p} ({k})" for p, k in proxy_kinds(world).items())]
    for distribution in ("train", "test"):
        per_agent = summary.agent_normalised(result, distribution)  # (A, K)
        stats = [summary.bootstrap_ci(per_agent[:, k]) for k in range(per_agent.shape[1])]
        cells.append(" / ".join(f"{mean:.2f} [{low:.2f}, {high:.2f}]" for mean, low, high in stats))
    counts = Counter(v.verdict for v in result.verdicts if v.distribution == "test")
    cells.append(", ".join(f"{n} {verdict}" for verdict, n in counts.most_common()))
    return "| " + " | ".join(cells) + " |"


def _training_part(config_data: dict) -> dict:
    """The config without what only evaluation reads (verdict thresholds, evaluation settings)."""
    return {key: value for key, value in config_data.items() if key not in ("thresholds", "eval")}


def rediagnosed(config, store: Store):
    """The result of an earlier finished run of `config` (same training), evaluated again with
    the current code; None when there is none or the current code's run is already stored."""
    data = config.to_dict()
    if store.status(run_id_for(data, code_version())) == "finished":
        return None
    for run in store.list_runs():
        if run["status"] != "finished" or run["world"] != config.world:
            continue
        old = store.load_result(run["run_id"])
        if _training_part(old.config) != _training_part(data):
            continue
        world = registry.make(config.world, **config.world_options)
        params, _ = artifacts.load_params(store.run_dir(run["run_id"]) / "params")
        network = make_train(config.ppo, world, config.reward_weights or None).network
        _, shifts = population.agent_layout(config)
        quiet = dataclasses.replace(config, eval=dataclasses.replace(config.eval, gifs=0))
        evaluation = evaluate_population(world, network, params, quiet, shifts)
        return dataclasses.replace(
            old,
            evaluations=evaluation.evaluations,
            inferences=evaluation.inferences,
            verdicts=evaluation.verdicts,
            episode_returns=evaluation.episode_returns,
            episode_normalised=evaluation.episode_normalised,
            thresholds=dataclasses.asdict(config.thresholds),
        )
    return None


def main() -> None:
    """Run every world's default experiment and write docs/worlds.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=Path("catalogue.db"), help="store for the catalogue's runs; rerunning reuses them (default catalogue.db)")
    parser.add_argument("--worlds", nargs="*", default=registry.names(), help="registered worlds to run (default: all)")
    parser.add_argument("--reuse-training", action="store_true", help="re-evaluate an earlier run's trained agents with the current code")
    args = parser.parse_args()
    (DOCS / "images").mkdir(parents=True, exist_ok=True)
    cache = DOCS / "images" / "catalogue.json"  # rows of earlier invocations, so worlds can be added one at a time
    entries = json.loads(cache.read_text()) if cache.exists() else {}
    with Store(args.db) as store:
        for name in args.worlds:
            world = registry.make(name)
            picture(world, DOCS / "images" / f"{name}.png")
            config = presets.world_default(name)
            config = dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, **DEFAULTS_UNTIL_2026_12_02))
            result = rediagnosed(config, store) if args.reuse_training else None
            if result is not None:
                print(f"{name}: agents of run {result.run_id} re-evaluated with code {code_version()}", flush=True)
            else:
                result = run_experiment(config, store).result
                print(f"{name}: run {result.run_id} (train {result.timings.get('train', 0):.0f}s)", flush=True)
            entries[name] = {"measured": f"{date.today().isoformat()}, code {code_version()}", "row": row(world, result), "section": f"### `{name}`\n\n![{name}](images/{name}.png)\n\n{world.summary}\n\n"
                            f"Objectives: {', '.join(world.objectives)} (intended first). Shift dial `{world.shift_name}`: "
                            f"train {world.distributions['train'].shift:g}, test {world.distributions['test'].shift:g}. "
                            f"`mesascope show {name}` prints its full documentation.\n"}
            cache.write_text(json.dumps(entries, indent=1, sort_keys=True))
    header = (
        "# The world catalogue\n\n"
        "Generated by `tools/world_catalogue.py`. Each world's default experiment (`mesascope run WORLD`): "
        "8 PPO agents trained at the world's training shift with the default budget and the update schedule "
        "that was the default until 2026-12-02 (4 epochs of 4 minibatches at step size 5e-4), evaluated on 128 train "
        "and 128 test levels. Returns are mean normalised returns over agents (0 = uniform random policy, "
        "1 = optimal, exact per level): intended / each proxy, each with a 95% bootstrap interval over the 8 agents. "
        "Verdicts are on test.\n\n"
        "| world | intended | proxies (causal kind) | train: intended / proxy | test: intended / proxy | verdicts on test (8 agents) |\n"
        "|---|---|---|---|---|---|\n"
    )
    rows = [entries[name]["row"] for name in sorted(entries)]
    batches: dict[str, list[str]] = {}
    for name in sorted(entries):
        batches.setdefault(entries[name].get("measured", "2026-11-24 (before measurement dates were recorded)"), []).append(f"`{name}`")
    measured = "Rows measured: " + "; ".join(f"{when}: {', '.join(names)}" for when, names in sorted(batches.items())) + ".\n\n"
    table_start = header.index("| world |")
    header = header[:table_start] + measured + header[table_start:]
    sections = [entries[name]["section"] for name in sorted(entries)]
    reading = DOCS / "worlds_reading.md"  # hand-written notes on the measured run, kept across regenerations
    notes = "\n" + reading.read_text() if reading.exists() else ""
    (DOCS / "worlds.md").write_text(header + "\n".join(rows) + "\n" + notes + "\n## Worlds\n\n" + CARDS + "\n".join(sections))
    print(f"wrote {DOCS / 'worlds.md'}")


if __name__ == "__main__":
    main()
