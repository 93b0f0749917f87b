"""`mesascope goodhart WORLD`: fit learned graders, optimise against them (best-of-n, PPO, the
exact grader-optimizer) and print the true and graded score per pressure with the fitted
Goodhart curves; the study is stored (and resumed) under the store's artifact folder."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from mesascope.commands.common import DB_OPTION, console, fail, open_store, output_file, print_phase, sigterm_as_interrupt, text

GRADERS = ("mlp",)
"""Grader kinds: a small MLP over the observation a step led to."""


def parse_pressures(specs: list[str]) -> tuple[tuple[int, ...], bool, bool]:
    """(best-of-n values, rl, plan) from `--pressure` specs (`bon=1,4,16`, `rl`, `plan`);
    ValueError naming the spec and the allowed forms."""
    bon: tuple[int, ...] = ()
    rl = plan = False
    for spec in specs:
        name, _, values = spec.partition("=")
        if name == "bon":
            try:
                bon = tuple(int(v) for v in values.split(",") if v.strip())
            except ValueError:
                raise ValueError(f"pressure bon takes integers n >= 1, e.g. bon=1,4,16; got {spec!r}") from None
            if not bon or min(bon) < 1:
                raise ValueError(f"pressure bon: every n must be an integer >= 1, got {spec!r}")
        elif name in ("rl", "plan") and not values:
            rl, plan = rl or name == "rl", plan or name == "plan"
        else:
            raise ValueError(f"unknown pressure {spec!r}; allowed: bon=N1,N2,... (best-of-n), rl (PPO on the grader), plan (exact grader-optimizer)")
    return bon, rl, plan


def rl_schedule(rl: bool, count: int | None, spacing: str | None, defaults: Any) -> tuple[int, str]:
    """(checkpoints, spacing) of the RL pressure from `--rl-checkpoints` and `--rl-spacing`
    (None: the defaults); ValueError naming the option and its allowed values."""
    from mesascope.experiments.checkpoints import SPACINGS

    if (count is not None or spacing is not None) and not rl:
        raise ValueError("--rl-checkpoints and --rl-spacing set the checkpoints of the rl pressure; add --pressure rl")
    if count is not None and not 1 <= count <= 100:
        raise ValueError(f"--rl-checkpoints must be an integer in [1, 100], got {count}")
    if spacing is not None and spacing not in SPACINGS:
        raise ValueError(f"--rl-spacing must be one of {list(SPACINGS)}, got {spacing!r}")
    return (defaults.checkpoints if count is None else count), (defaults.checkpoint_spacing if spacing is None else spacing)


def _cell(value: tuple[float, float, float]) -> str:
    return f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"


def goodhart(
    world: str = typer.Argument(..., help="A registered world name."),
    grader: str = typer.Option("mlp", "--grader", help="Grader kind: mlp."),
    labels: int = typer.Option(2000, "--labels", help="Labelled steps per grader."),
    label_noise: float = typer.Option(0.0, "--label-noise", help="S.d. of Gaussian noise on the labels."),
    graders: int = typer.Option(8, "--graders", help="Graders (seeds); intervals are over them."),
    pressures: list[str] = typer.Option([], "--pressure", help="bon=1,4,16,64 | rl | plan (repeatable; the grader-optimizer `plan` is always measured)."),
    base: str = typer.Option("random", "--base", help="Base policy of the KL pressures: random or none."),
    distribution: str = typer.Option("train", "--distribution", help="Levels the pressure is measured on."),
    levels: int = typer.Option(32, "--levels", help="Levels the pressure is measured on."),
    rl_steps: int = typer.Option(200_000, "--rl-steps", help="PPO environment steps per grader."),
    rl_checkpoints: Optional[int] = typer.Option(None, "--rl-checkpoints", help="RL checkpoints measured along training, plus the initial policy (1-100; default 6)."),
    rl_spacing: Optional[str] = typer.Option(None, "--rl-spacing", help="How the RL checkpoints are spread: even, or geometric (dense early)."),
    seed: int = typer.Option(0, "--seed", help="Base random seed."),
    db: Path = DB_OPTION,
    png: Optional[Path] = typer.Option(None, "--png", help="Also save the Goodhart plot to this PNG file."),
) -> None:
    """Goodhart curves: true (intended) and graded score under optimisation pressure against a
    learned grader, with R_bon(d) = d(α − βd) and R_RL(d) = d(α − β log d) fitted, d = sqrt(KL)."""
    from mesascope.agents.grader import GraderConfig
    from mesascope.diagnose.goodhart import curves as goodhart_curves
    from mesascope.experiments.config import ConfigError
    from mesascope.experiments.goodhart import GoodhartConfig, run_goodhart, validate_goodhart

    if grader not in GRADERS:
        fail(f"--grader must be one of {list(GRADERS)}, got {grader!r}")
    try:
        bon, rl, _ = parse_pressures(pressures)
        defaults = GoodhartConfig()
        checkpoints, spacing = rl_schedule(rl, rl_checkpoints, rl_spacing, defaults)
        config = GoodhartConfig(
            world=world, grader=dataclasses.replace(GraderConfig(), labels=labels, label_noise=label_noise), graders=graders,
            bon=bon, rl=rl, plan=True, base=base, distribution=distribution, levels=levels, seed=seed,
            checkpoints=checkpoints, checkpoint_spacing=spacing,
            ppo=dataclasses.replace(defaults.ppo, total_steps=rl_steps),
        )
        validate_goodhart(config)
    except (ConfigError, ValueError) as error:
        fail(str(error).replace("ppo.total_steps", "--rl-steps (ppo.total_steps)"))
    png = png and output_file(png)
    with open_store(db) as store, sigterm_as_interrupt():
        try:
            result = run_goodhart(config, store, print_phase)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: finished stages are kept and the study resumes from them next time[/]")
            raise typer.Exit(code=130)
    measured = goodhart_curves(result.arrays, seed)
    table = Table(title=f"Goodhart on {world} ({distribution} levels, {graders} graders, {labels} labels, noise {label_noise:g})",
                  caption="mean over graders [95% bootstrap interval over graders]; d = sqrt(KL from the base policy). "
                          "Best-of-n: every grader picks among the same sampled episodes, so the intervals leave out "
                          "the episodes' own sampling noise (none at n = 1), and the fits measure gains from the exact "
                          "random-policy return (the 'uniform random policy' line), not from the sampled n = 1 point")
    for column in ("pressure", "point", "d", "true score", "graded score"):
        table.add_column(column)
    for kind, points in measured.points.items():
        for point in points:
            table.add_row(kind, point.label, "∞" if math.isinf(point.d) else f"{point.d:.3f}", _cell(point.true), _cell(point.graded))
    console.print(table)
    console.print(f"references: uniform random policy {measured.base_true:.3f}, intended planner {measured.planner_true:.3f} (true score)")
    for kind, fit in measured.fits.items():
        form = "d(α − βd)" if kind == "bon" else "d(α − β log d)"
        peak = "no peak (β ≤ 0)" if math.isinf(fit.peak) else f"peak at d* = {fit.peak:.3f} [{fit.peak_low:.3f}, {fit.peak_high:.3f}]"
        console.print(f"[bold]{kind}[/]: true gain = {form}, α = {fit.alpha:.3f}, β = {fit.beta:.3f}, R² = {fit.r2:.3f}, RMSE = {fit.rmse:.3f}; "
                      f"{peak} ({fit.peak_share:.0%} of resamples peak); highest measured gain at d = {fit.empirical_peak:.3f}")
    console.print(f"study {result.study_id}: {text(result.folder)}")
    if png is not None:
        from mesascope.report.goodhart_plot import goodhart_plot

        png.write_bytes(goodhart_plot(measured, f"Goodhart on {world}"))
        console.print(f"plot saved to {text(png)}")
