"""`mesascope dose` and `mesascope scatter`: the dose-response fit and the alignment
correlations of a finished run, as terminal tables and optionally as PNG plots.

Both are plain functions in typer style, registered in cli.py; heavy modules (the store, the
diagnostics, matplotlib) are imported inside them so `mesascope --help` stays fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table
from rich.text import Text

from mesascope.commands.common import DB_OPTION, RUN_ARGUMENT, console, fail, load_finished, output_file, text
from mesascope.commands.settings import settings_help, statistic_settings
from mesascope.diagnose.alignment import AlignmentConfig
from mesascope.diagnose.dose import DoseConfig

if TYPE_CHECKING:
    from mesascope.diagnose.alignment import AlignmentRow, AlignmentStatistics
    from mesascope.diagnose.dose import DoseResponse, DoseShare, LogisticFit
    from mesascope.records.results import ExperimentResult

def _share_cell(share: DoseShare) -> str:
    """'2/6 0.33' over '0.10–0.70' (the Wilson interval); '—' without agents."""
    if not share.agents:
        return "—"
    return f"{share.successes}/{share.agents} {share.share:.2f}\n{share.low:.2f}–{share.high:.2f}"


def dose_table(response: DoseResponse) -> Table:
    """Per value of the dial (the training shift, or the knob given to `--dial`): verdict shares
    with Wilson intervals and normalised returns."""
    from mesascope.report import plots, summary, terminal

    percent = f"{response.config.confidence:.0%}"
    table = Table(title=f"Dose response on {response.distribution} by {response.dial} in training",
                  caption=f"shares with {percent} Wilson intervals; returns: mean normalised return (0 random, 1 optimal) "
                          f"with {percent} bootstrap intervals over agents; * marks the intended objective",
                  **terminal.TABLE_STYLE)
    table.add_column(f"train\n{response.dial}", justify="right")
    for category in summary.VERDICT_CATEGORIES:
        table.add_column(Text(category.replace(" ", "\n"), style=f"bold {plots.verdict_colour(category)}"), justify="right")
    for k, name in enumerate(response.objectives):
        table.add_column(name + ("*" if k == 0 else ""), justify="right")
    for i, dose in enumerate(response.doses):
        shares = [_share_cell(response.shares[c][i]) for c in summary.VERDICT_CATEGORIES]
        means = [response.returns[name][i] for name in response.objectives]
        table.add_row(summary.format_shift(dose), *shares, *[terminal._interval_cell(m.mean, m.low, m.high) for m in means])
    return table


def fit_text(category: str, dial: str, fit: LogisticFit) -> Text:
    """A category's logistic fit in words and numbers."""
    from mesascope.report import plots

    text = Text(f"{category} vs {dial}: ", style=f"bold {plots.verdict_colour(category)}")
    text.append(fit.reason, style="green" if fit.fits else "yellow")
    numbers = []
    if math.isfinite(fit.a) and math.isfinite(fit.b):
        numbers.append(f"P = σ(a + b·{dial}), a = {fit.a:.3g} ± {fit.a_se:.2g}, b = {fit.b:.3g} ± {fit.b_se:.2g} (± 1 s.e.)")
        numbers.append(f"ED50 = {fit.ed50:.4g} [{fit.ed50_low:.4g}, {fit.ed50_high:.4g}] over {fit.ed50_resamples} resamples")
    if math.isfinite(fit.lr_statistic):
        p = f", p = {fit.lr_p:.3g}" if math.isfinite(fit.lr_p) else ""
        numbers.append(f"likelihood ratio vs a constant share {fit.lr_statistic:.3g} on 1 df{p}")
    if fit.gof_df:
        p = f", p = {fit.gof_p:.3g}" if math.isfinite(fit.gof_p) else ""
        numbers.append(f"deviance vs per-shift shares {fit.deviance:.3g} on {fit.gof_df} df{p}")
    if numbers:
        text.append("\n  " + "; ".join(numbers), style="dim")
    return text


def dose(
    run_id: str = RUN_ARGUMENT,
    db: Path = DB_OPTION,
    png: Optional[Path] = typer.Option(None, "--png", help="Also save the dose-response fit plot to this PNG file."),
    dial: str = typer.Option("train_shift", "--dial", help="The dose: train_shift, or a traced knob the run varied (e.g. l2 of a knob_grid)."),
    settings: list[str] = typer.Option([], "--set", help=settings_help(DoseConfig, "dose statistics")),
) -> None:
    """Dose response of a finished run: how the training shift (or another knob) moves the verdicts.

    Prints the share of each verdict and the normalised returns per training shift value, then
    the logistic fit of the share robustly aligned (and proxy-aligned) against the shift, or
    why none fits."""
    from mesascope.diagnose.dose import dose_response

    config = statistic_settings(DoseConfig, settings, "--set")
    png = png and output_file(png)
    result = load_finished(run_id, db)
    try:
        response = dose_response(result, config, dial_name=dial)
    except KeyError as error:
        fail(str(error.args[0]))
    console.print(Text(f"{result.name}  ·  world {result.world}  ·  run {result.run_id}", style="bold"))
    console.print(dose_table(response))
    if response.without_verdict:
        console.print(f"{response.without_verdict} agent(s) have no verdict on {response.distribution}: "
                      "they are left out of the shares")
    for category, fit in response.fits.items():
        console.print(fit_text(category, response.dial, fit))
    config = response.config
    console.print(f"[dim]alpha = {config.alpha:g} (slope), alpha_gof = {config.alpha_gof:g} (goodness of fit), "
                  f"confidence {config.confidence:g}, {config.resamples} bootstrap resamples, seed {config.seed}[/]")
    if png is not None:
        from mesascope.report.diagnostic_plots import dose_fit_plot

        png.write_bytes(dose_fit_plot(result, dial))
        console.print(f"plot saved to {text(png)}")


def _signature_text(row: AlignmentRow) -> Text:
    """'yes' in the proxy-aligned colour, or 'no'."""
    from mesascope.report import plots

    return Text("yes", style=f"bold {plots.VERDICT_COLOURS['proxy-aligned']}") if row.signature else Text("no")


def scatter_table(result: ExperimentResult, statistics: AlignmentStatistics, proxy: str) -> Table:
    """Per agent (for populations of at most `terminal.MAX_AGENT_ROWS`) and pooled per shift:
    ρ of intended vs `proxy` return on train and test, and the signature flag."""
    from mesascope.report import summary, terminal

    config = statistics.config
    table = Table(title=f"{result.objectives[0]} (intended) vs {proxy} (proxy): Spearman ρ over episodes",
                  caption=f"{config.confidence:.0%} bootstrap intervals over episodes; signature: ρ on train ≥ "
                          f"{config.train_min_rho:g} (or identical returns) and upper bound of ρ on "
                          f"{statistics.test} < {config.test_max_rho:g}", **terminal.TABLE_STYLE)
    for name, justify in (("agent", "right"), ("train\nshift", "right"), ("ρ on train", "right"),
                          (f"ρ on {statistics.test}", "right"), ("signa-\nture", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    pooled = {row.shift: row for row in statistics.pooled if row.proxy == proxy}
    agents = [r for r in statistics.rows if r.proxy == proxy] if len(result.agents) <= terminal.MAX_AGENT_ROWS else []
    for shift, group in pooled.items():
        for row in (r for r in agents if r.shift == shift):
            cells = [row.correlations[d].describe() if d in row.correlations else "—" for d in ("train", statistics.test)]
            table.add_row(str(row.agents[0]), summary.format_shift(shift), *cells, _signature_text(row))
        cells = [group.correlations[d].describe() if d in group.correlations else "—" for d in ("train", statistics.test)]
        table.add_row(Text(f"all {len(group.agents)}", style="bold"), summary.format_shift(shift), *cells,
                      _signature_text(group), end_section=True)
    return table


def scatter(
    run_id: str = RUN_ARGUMENT,
    db: Path = DB_OPTION,
    png: Optional[Path] = typer.Option(None, "--png", help="Also save the alignment-correlation plot to this PNG file."),
    settings: list[str] = typer.Option([], "--set", help=settings_help(AlignmentConfig, "alignment statistics")),
) -> None:
    """Alignment scatter statistics of a finished run: does the proxy track the intended objective?

    Prints, per agent and pooled per training shift value, the rank correlation of intended and
    proxy return over episodes on train and test, and whether it shows the signature of
    pseudo-alignment (agreeing on train, not at test)."""
    from mesascope.diagnose.alignment import alignment_statistics
    from mesascope.report import terminal

    config = statistic_settings(AlignmentConfig, settings, "--set")
    png = png and output_file(png)
    result = load_finished(run_id, db)
    if len(result.objectives) < 2:
        fail(f"run {result.run_id} has no proxy objective: nothing to correlate with {result.objectives[0]}")
    statistics = alignment_statistics(result, config)
    console.print(Text(f"{result.name}  ·  world {result.world}  ·  run {result.run_id}", style="bold"))
    if len(result.agents) > terminal.MAX_AGENT_ROWS:
        console.print(f"{len(result.agents)} agents: per-agent rows are shown only for {terminal.MAX_AGENT_ROWS} or fewer")
    for proxy in result.objectives[1:]:
        console.print(scatter_table(result, statistics, proxy))
        for row in (r for r in statistics.pooled if r.proxy == proxy):
            console.print(f"{proxy}, {result.shift_name} = {row.shift:g} (pooled): {row.reason}")
    if png is not None:
        from mesascope.report.diagnostic_plots import alignment_correlations_plot

        png.write_bytes(alignment_correlations_plot(result))
        console.print(f"plot saved to {text(png)}")
