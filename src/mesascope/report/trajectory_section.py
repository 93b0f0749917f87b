"""Verdicts along training for the run report, the grid report and `mesascope trajectory`: the
share of agents per verdict category at each checkpoint (95% Wilson intervals), the plot, and
whether agents read as proxy-aligned before any aligned or mixed reading (subprocess
interdependence)."""

from __future__ import annotations

from typing import Any

from mesascope.records import readings
from mesascope.records.intervals import format_interval
from mesascope.records.results import ExperimentResult
from mesascope.records.trajectory import ALIGNED_READINGS, TrajectoryRecord
from mesascope.report.figure import data_uri, verdict_colour
from mesascope.report.trajectory_plot import trajectory_plot, verdict_shares


def step_labels(found: TrajectoryRecord) -> list[str]:
    """One column heading per checkpoint: its environment steps per agent."""
    return [f"{int(step):,}" for step in found.steps]


def share_rows(found: TrajectoryRecord, categories: tuple[str, ...] = readings.VERDICT_CATEGORIES) -> list[tuple[str, list[str]]]:
    """(category, formatted share [95% Wilson] at each checkpoint) for each category."""
    return [(category, [format_interval(*share) for share in verdict_shares(found, category)]) for category in categories]


def proxy_first_line(found: TrajectoryRecord) -> str:
    """One sentence: agents ever proxy-aligned, and how many of them were before any aligned or
    mixed reading."""
    ever, first, never = found.proxy_first()
    readings = " or ".join(ALIGNED_READINGS)
    return (f"{ever} of {len(found.agents)} agents read as proxy-aligned at some checkpoint; {first} of them did so before a "
            f"{readings} reading that came later, and {never} never read {readings} at any checkpoint.")


def trajectory_context(result: ExperimentResult) -> dict[str, Any] | None:
    """The run report's section, or None when the run stored no trajectory."""
    found = result.trajectory
    if found is None:
        return None
    return {"distribution": found.distribution, "steps": step_labels(found), "line": proxy_first_line(found),
            "rows": [{"category": c, "colour": verdict_colour(c), "shares": s} for c, s in share_rows(found)],
            "src": data_uri("image/png", trajectory_plot(found))}


def grid_trajectories(results: list[ExperimentResult], labels: list[str]) -> list[dict[str, Any]]:
    """For each run of a grid that stored a trajectory: P(proxy-aligned) at each checkpoint."""
    return [{"label": label or "(one program)", "run_id": r.run_id, "distribution": r.trajectory.distribution,
             "steps": step_labels(r.trajectory), "shares": share_rows(r.trajectory, ("proxy-aligned",))[0][1],
             "line": proxy_first_line(r.trajectory)}
            for r, label in zip(results, labels) if r.trajectory is not None]
