"""A self-contained HTML report of a sweep: sweep verdicts, one row per run, and the sweep plots.

Rendered from `templates/sweep.html` with the same style, escaping and atomic write as a run's
report (`report/html.py`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from mesascope.diagnose.dose import dose_response
from mesascope.diagnose.sweep_verdicts import SweepVerdict
from mesascope.records.results import ExperimentResult
from mesascope.report import summary
from mesascope.report.html import TEMPLATES, _format_threshold, _format_value, _write_atomic, data_uri
from mesascope.report.trajectory_section import grid_trajectories
from mesascope.report.figure import verdict_colour
from mesascope.report.sweep_plots import SWEEP_PLOTS

HOLDS_COLOURS = {True: "#e4572e", False: "#8c8c8c"}
"""Badge colours: a sweep verdict that holds is a finding of pseudo-alignment (orange-red)."""


def half_aligned_dose(result: ExperimentResult) -> str:
    """The training shift at which half the agents are robustly aligned, from the logistic fit
    of the run's dose response: ED50 with its interval, the bracket under separation, or why
    there is none. Empty when the run trains at a single shift value."""
    if len(summary.shift_values(result)) < 2:
        return ""
    response = dose_response(result)
    fit = response.fits["robustly aligned"]
    if fit.fits:
        return f"ED50 {fit.ed50:.3g} [{fit.ed50_low:.3g}, {fit.ed50_high:.3g}]"
    if fit.bracket is not None:
        return f"between {fit.bracket[0]:.3g} and {fit.bracket[1]:.3g} (separated: no interval)"
    shares = [share for share in response.shares["robustly aligned"] if share.agents]
    if shares and max(s.share for s in shares) < 0.5:
        best = max(shares, key=lambda s: s.share)
        if best.successes == 0:
            return "not reached: no agent robustly aligned at any dose tried"
        return f"not reached: at most {best.successes}/{best.agents} (at {best.dose:.3g})"
    return f"none: {fit.reason}"


def _run_rows(results: list[ExperimentResult], labels: list[str]) -> list[dict[str, Any]]:
    """One row per run: verdict counts, mean normalised test returns over all its agents, and
    the dose that makes half of them robustly aligned."""
    rows = []
    for result, label in zip(results, labels):
        test = summary.test_distribution(result)
        counts: dict[str, int] = {}
        for verdict in summary.verdict_by_agent(result, test).values():
            counts[verdict.verdict] = counts.get(verdict.verdict, 0) + 1
        per_agent = summary.agent_normalised(result, test)
        rows.append({
            "label": label, "run_id": result.run_id, "agents": len(result.agents),
            "verdicts": [{"name": v, "count": c, "colour": verdict_colour(v)} for v, c in sorted(counts.items(), key=lambda i: summary.verdict_sort_key(i[0]))],
            "returns": [summary.format_interval(*summary.bootstrap_ci(per_agent[:, k])) for k in range(len(result.objectives))],
            "half_aligned": half_aligned_dose(result),
        })
    return rows


def _verdict_rows(verdicts: dict[float, list[SweepVerdict]]) -> list[dict[str, Any]]:
    """One row per training shift value and sweep verdict."""
    rows = []
    for shift, decided in verdicts.items():
        for verdict in decided:
            evidence = [(k, _format_value(v)) for k, v in verdict.evidence.items() if k not in ("thresholds", "tau", "p")]
            rows.append({
                "shift": summary.format_shift(shift), "name": verdict.name, "holds": verdict.holds,
                "colour": HOLDS_COLOURS[verdict.holds], "reason": verdict.reason, "evidence": evidence,
                "tau": summary.format_number(verdict.evidence.get("tau", float("nan"))),
                "p": summary.format_number(verdict.evidence.get("p", float("nan")), 3),
            })
    return rows


def render_sweep_report(
    title: str,
    key: str,
    labels: list[str],
    results: list[ExperimentResult],
    verdicts: dict[float, list[SweepVerdict]] | None,
    direction_note: str = "",
    no_verdict_note: str = "",
) -> str:
    """The sweep report page as HTML text."""
    first_verdicts = next(iter(verdicts.values()))[0] if verdicts else None
    thresholds = first_verdicts.evidence.get("thresholds", {}) if first_verdicts else {}
    context = {
        "title": title, "key": key, "labels": labels, "world": results[0].world if results else "",
        "objectives": results[0].objectives if results else (), "shift_name": results[0].shift_name if results else "shift",
        "agents": sum(len(r.agents) for r in results), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "sweep_verdicts": _verdict_rows(verdicts or {}), "direction_note": direction_note, "no_verdict_note": no_verdict_note,
        "thresholds": [(name, _format_threshold(value)) for name, value in thresholds.items()],
        "run_rows": _run_rows(results, labels),
        "trajectories": grid_trajectories(results, labels),
        "dose_column": any(len(summary.shift_values(r)) > 1 for r in results),
        "plots": [{"key": name, "title": plot_title, "caption": caption, "src": data_uri("image/png", draw(results, labels, key))}
                  for name, (plot_title, draw, caption) in SWEEP_PLOTS.items()],
    }
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("sweep.html").render(**context)


def write_sweep_report(path: Path, *args: Any, **kwargs: Any) -> Path:
    """Render the sweep report (arguments as `render_sweep_report`) and write it atomically."""
    path = Path(path)
    _write_atomic(path, render_sweep_report(*args, **kwargs))
    return path
