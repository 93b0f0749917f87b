"""The `mesascope` command line: list, show, config, knobs, run, diagnose, demo, report, identify, runs, dose, scatter, sweep, influence, trajectory, export, goodhart, compare, imitate, meta."""

from __future__ import annotations

import inspect
import os
import re
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markdown import Markdown
from rich.table import Table

from mesascope.experiments.population import request_host_devices

request_host_devices()  # before JAX starts: lets a population use every core (docs/design.md §5)

from mesascope.commands.common import DB_OPTION, RUN_ARGUMENT, console, open_store, output_file, run_and_print, text  # noqa: E402
from mesascope.commands.common import fail as _fail  # noqa: E402
from mesascope.commands.compare import compare  # noqa: E402
from mesascope.commands.config import config_command, config_epilog, knobs_command  # noqa: E402
from mesascope.commands.diagnose import diagnose  # noqa: E402
from mesascope.commands.dose import dose, scatter  # noqa: E402
from mesascope.commands.export import export  # noqa: E402
from mesascope.commands.goodhart import goodhart  # noqa: E402
from mesascope.commands.imitate import imitate  # noqa: E402
from mesascope.commands.influence import influence  # noqa: E402
from mesascope.commands.meta import meta  # noqa: E402
from mesascope.commands.sweep import sweep  # noqa: E402
from mesascope.commands.trajectory import trajectory  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help="mesascope: see, measure and explain inner-alignment failures.")


@app.command("list")
def list_command() -> None:
    """List the registered worlds and the preset experiments."""
    from mesascope.experiments import presets
    from mesascope.worlds import registry

    worlds = Table(title="worlds", show_lines=False)
    for column in ("name", "objectives (intended first)", "shift dial", "what it shows"):
        worlds.add_column(column)
    for name in registry.names():
        try:  # one broken world file must not hide the others
            world = registry.make(name)
        except Exception as error:  # noqa: BLE001 (a user's world may fail in any way; say how and go on)
            worlds.add_row(name, "", "", text(f"cannot be built ({type(error).__name__}: {error}); `mesascope show {name}` says more"))
            continue
        worlds.add_row(name, ", ".join(world.objectives), world.shift_name, world.summary)
    console.print(worlds)
    table = Table(title="presets")
    table.add_column("name")
    table.add_column("description")
    for name in presets.names():
        table.add_row(name, presets.DESCRIPTIONS.get(name, ""))
    for name, (base, axes) in presets.GRID_PRESETS.items():
        grid = " × ".join(f"{key} ∈ {{{', '.join(values)}}}" for key, values in axes)
        table.add_row(name, f"sweep preset (`mesascope sweep {name}`): {grid}, {base.seeds} seeds per cell")
    console.print(table)


@app.command()
def show(
    world: str = typer.Argument(..., help="A registered world name (see `mesascope list`)."),
    picture: Optional[Path] = typer.Option(None, "--png", help="Also save a rendered test level to this PNG file."),
    graph: Optional[Path] = typer.Option(None, "--graph", help="Also save a picture of the causal graph to this PNG file."),
) -> None:
    """Describe a world: documentation, objectives, causal graph, distributions and options."""
    from mesascope.worlds import registry

    try:
        instance = registry.make(world)
        instance.check_declarations()
    except (TypeError, ValueError) as error:
        _fail(f"world {world!r}: {error}")
    picture = picture and output_file(picture)
    graph = graph and output_file(graph)
    console.print(f"[bold]{world}[/]\n")
    console.print(Markdown(instance.describe()))  # reflows the docstring's hard-wrapped paragraphs to the terminal
    console.print(f"\n[bold]objectives[/]: {instance.intended} (intended); proxies: {', '.join(instance.proxies)}")
    console.print("[bold]causal graph[/]: " + "; ".join(f"{a} -> {b}" for a, b in instance.causal_edges))
    from mesascope.diagnose.causal import proxy_kinds

    console.print("[bold]proxy kinds[/]: " + ", ".join(f"{p}: {k}" for p, k in proxy_kinds(instance).items()))
    for dist in instance.distributions.values():
        console.print(f"[bold]distribution {dist.name}[/]: {instance.shift_name} = {dist.shift:g} ({dist.description})")
    console.print("[bold]options[/]: " + ", ".join(f"{k}={v!r}" for k, v in registry.options(world).items()))
    if picture is not None:
        import jax
        from PIL import Image

        level = instance.sample_level(jax.random.PRNGKey(0), instance.distributions["test"].shift)
        _, state = instance.reset(jax.random.PRNGKey(0), level)
        Image.fromarray(jax.device_get(instance.render_state(state))).resize((288, 288), Image.NEAREST).save(picture)
        console.print(f"picture saved to {text(picture)}")
    if graph is not None:
        from mesascope.report.causal_plot import causal_graph_plot

        graph.write_bytes(causal_graph_plot(instance))
        console.print(f"causal graph saved to {text(graph)}")





app.command("config")(config_command)
app.command("knobs")(knobs_command)


@app.command(epilog=config_epilog())
def run(
    preset: str = typer.Argument(..., help="A preset (see `mesascope list`) or a world name for its default experiment: 8 agents at the world's training shift only (add --set train_shifts=0,0.3 to train at several and see a dose response)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Agents per training shift value."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Environment steps per agent (ppo.total_steps)."),
    assignments: list[str] = typer.Option([], "--set", help="Override any config key, e.g. --set train_shifts=0,0.2 --set ppo.width=128 --set world_options.size=11 (repeatable)."),
    db: Path = DB_OPTION,
    force: bool = typer.Option(False, "--force", help="Redo the run even if an identical one is finished."),
    agent: Optional[str] = typer.Option(None, "--agent", help="Agent family: ppo (feed-forward), recurrent (RL²), bc or dagger (imitation of `expert`; see also `mesascope imitate`) — the config key `agent`."),
) -> None:
    """Train a population, evaluate it on train and shifted levels, infer goals, write a report."""
    from mesascope.experiments import config as config_module
    from mesascope.experiments import presets

    try:
        config = presets.get(preset)
        extra = [f"seeds={seeds}"] * (seeds is not None) + [f"ppo.total_steps={steps}"] * (steps is not None) + [f"agent={agent}"] * (agent is not None)
        config = config_module.apply_overrides(config, extra + list(assignments))
    except ValueError as error:
        _fail(str(error))
    run_and_print(config, db, force)


@app.command()
def demo(db: Path = DB_OPTION, force: bool = typer.Option(False, "--force", help="Redo the demo even if it already ran.")) -> None:
    """Goal misgeneralization in minutes: the `coin-demo` preset, end to end, report included."""
    from mesascope.experiments import presets

    console.print("[bold]mesascope demo[/]: agents rewarded for the coin, trained with the coin at the exit (p_random_coin = 0) or moved on 30% of levels (0.3); tested with the coin anywhere.")
    run_and_print(presets.get("coin-demo"), db, force)


@app.command()
def report(
    run_id: str = RUN_ARGUMENT,
    db: Path = DB_OPTION,
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the HTML (default: the run's artifact folder)."),
) -> None:
    """Print the summary of a finished run and (re)write its HTML report."""
    from mesascope.experiments.runner import write_report
    from mesascope.report.terminal import print_summary
    from mesascope.store.db import StoreError

    out = out and output_file(out, "report.html")
    with open_store(db, readonly=True) as store:
        try:
            resolved = store.resolve(run_id)
            result = store.load_result(resolved)
        except (StoreError, LookupError) as error:
            _fail(str(error))
        try:
            path = write_report(result, out or store.run_dir(resolved) / "report.html")
        except OSError as error:
            _fail(f"cannot write the report: {error}")
    print_summary(result, console)
    console.print(f"report: [bold]{text(path.resolve())}[/]")


@app.command()
def identify(
    world: str = typer.Argument(..., help="A registered world name."),
    levels: int = typer.Option(64, "--levels", min=1, max=65_536, help="Levels drawn per distribution (at most 65,536, as eval.identify_levels)."),
    picture: Optional[Path] = typer.Option(None, "--png", help="Save the identifiability matrices to this PNG."),
) -> None:
    """Which objectives can the training distribution tell apart, by behaviour or by reward
    timing, and which small changes to a training level would separate them."""
    from mesascope.diagnose import identify as analysis
    from mesascope.worlds import registry

    try:
        instance = registry.make(world)
        instance.check_declarations()
    except (TypeError, ValueError) as error:
        _fail(f"world {world!r}: {error}")
    picture = picture and output_file(picture)
    config = analysis.IdentifyConfig(levels=levels)
    results = [analysis.analyse(instance, name, config) for name in instance.distributions]
    for result in results:
        table = Table(title=f"{world} on {result.distribution} ({instance.shift_name} = {result.shift:g}), {levels} levels")
        for column in ("objective pair", "states whose optimal actions differ", f"expected LLR per step (nats, β = {config.beta:g}), each way", "states with disjoint optimal actions", "levels whose reward timing differs"):
            table.add_column(column)
        names = instance.objectives
        for j in range(len(names)):
            for k in range(j + 1, len(names)):
                timing = max(result.timing[j, k], result.timing[k, j])
                table.add_row(f"{names[j]} / {names[k]}", f"{result.differ[j, k]:.3f}", f"{result.llr[j, k]:.3f} / {result.llr[k, j]:.3f}", f"{result.disjoint[j, k]:.3f}", f"{timing:.2f}")
        console.print(table)
    test_shift = instance.distributions["test"].shift
    for k in range(1, len(instance.objectives)):
        best = analysis.probe(instance, 0, k, test_shift, config, top=3)
        described = "; ".join(f"training level {p.index} with {p.changed_cells} observation cell{'s' * (p.changed_cells != 1)} changed gives {p.llr:.3f} nats/step ({p.differ:.2f} of states differ)" for p in best)
        console.print(f"[bold]probe[/] {instance.intended} vs {instance.objectives[k]} at {instance.shift_name} = {test_shift:g}: {described}")
    if picture is not None:
        from mesascope.report.identify_plot import identifiability_matrices

        picture.write_bytes(identifiability_matrices(results))
        console.print(f"matrices saved to {text(picture)}")


@app.command()
def runs(db: Path = DB_OPTION) -> None:
    """List the runs in the store, newest first."""
    table = Table(title=text(db))
    for column in ("run id", "name", "world", "status", "created", "finished"):
        table.add_column(column)
    with open_store(db, readonly=True) as store:
        for row in store.list_runs():
            cells = (row["run_id"], row["name"], row["world"], row["status"], row["created_at"], row["finished_at"] or "")
            table.add_row(*(text(c) for c in cells))
    console.print(table)


app.command("diagnose")(diagnose)
app.command("dose")(dose)
app.command("scatter")(scatter)
app.command("sweep")(sweep)
app.command("influence")(influence)
app.command("trajectory")(trajectory)
app.command("meta")(meta)
app.command("export")(export)
app.command("goodhart")(goodhart)
app.command("compare")(compare)
app.command("imitate")(imitate)


def _reflowed(doc: str) -> str:
    """`doc` dedented, with each paragraph's hard line breaks joined, so that the terminal wraps
    it; a list item (`- `, `* `, `1. `) or a code line (indented four spaces) keeps its own line."""
    paragraphs = []
    for paragraph in inspect.cleandoc(doc).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.splitlines():
            if lines and not re.match(r"\s*([-*]|\d+[.)])\s", line) and not line.startswith("    "):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _help_reflowed(typer_app: typer.Typer) -> None:
    """Give each command its docstring reflowed as help (`--help` would otherwise keep the
    docstring's line breaks and print ragged lines), and a `short_help` made of its first
    paragraph, for `mesascope --help`."""
    for info in typer_app.registered_commands:
        doc = info.help or (info.callback.__doc__ if info.callback else None) or ""
        if doc.strip():
            info.help = _reflowed(doc)
            if info.short_help is None:
                info.short_help = info.help.split("\n\n")[0].replace("\n", " ")


_help_reflowed(app)


def main() -> None:
    """The console entry point: `app`, ending without Python's teardown after an interrupt.

    Ctrl-C or SIGTERM during training stops the main thread while JAX's threads may still be
    computing; tearing the interpreter down around them can then crash (a segfault, exit 139)
    after the run was marked failed and every store and file was closed. So an interrupted
    command (exit 130) shuts down a Ray instance it started and leaves with `os._exit`."""
    try:
        app()
    except SystemExit as done:
        if done.code == 130:
            _leave_after_interrupt()
        raise


def _leave_after_interrupt() -> None:
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


if __name__ == "__main__":
    main()
