"""A self-contained HTML report of one experiment.

Plots (PNG) and rollout GIFs are embedded as base64 data URIs and the CSS is inline, so the
page is one file that opens anywhere without a network. The page is rendered from the Jinja2
template `templates/report.html` with autoescaping on, and written atomically.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from PIL import Image

from mesascope.records.results import ExperimentResult
from mesascope.report.imitation import COLUMNS, imitation_summary
from mesascope.report.meta_section import meta_context
from mesascope.report.trajectory_section import trajectory_context
from mesascope.report import figure, plots
from mesascope.report.figure import data_uri
from mesascope.report import summary

TEMPLATES = Path(__file__).parent / "templates"

PLOT_TEXT: dict[str, tuple[str, str]] = {
    "identifiability": (
        "Identifiability",
        "Computed exactly from the world, not the agents: for each pair of objectives, the share of reachable states where "
        "their optimal actions are disjoint (0 = behaviour can never tell them apart) and, as t, the share of levels where their "
        "reward timing differs along an optimal trajectory.",
    ),
    "causal_graph": (
        "Causal graph",
        "The world's declared causal graph: a proxy that causes the intended objective is a side-effect proxy, one caused "
        "by it instrumental, one sharing only a common cause general; a proxy-aligned verdict names the kind read off here.",
    ),
    "dose_response": (
        "Dose response",
        "Left: mean normalised return on the shifted world for each objective against the training shift "
        "(dots are agents, bands 95% bootstrap intervals over agents); right: the share of agents given each verdict.",
    ),
    "dose_fit": (
        "Dose-response fit",
        "Left: the share of agents robustly aligned (filled) and proxy-aligned (hollow) at each training shift with "
        "95% Wilson intervals, the fitted logistic curve with its 95% band and the shift where the share crosses 50% "
        "(ED50, diamond with bootstrap interval), or the reason no logistic curve fits; right: normalised returns per objective.",
    ),
    "robustness_scatter": (
        "Robustness",
        "Each agent appears twice, hollow on train and filled on test, joined by a line; points in the top right "
        "pursue the intended objective competently, points in the bottom right competently pursue something else.",
    ),
    "returns_by_objective": (
        "Returns by objective",
        "Bars are the mean over agents of the normalised return (0 = random policy, 1 = optimal) per objective, "
        "coloured by training shift, with 95% bootstrap intervals over agents and one dot per agent.",
    ),
    "goal_posteriors": (
        "Goal inference",
        "For each agent, how well each candidate goal (or acting at random) explains its actions on the shifted "
        "world, as a posterior under a uniform prior with a 95% bootstrap interval over episodes.",
    ),
    "alignment_scatter": (
        "Alignment scatter",
        "One dot per episode: intended against proxy return (jittered so equal values stay visible); a high rank "
        "correlation on train that falls on test means the proxy stopped tracking the intended objective.",
    ),
    "alignment_correlations": (
        "Alignment correlations",
        "For each agent (and pooled per training shift), the rank correlation of intended and proxy return over "
        "episodes on train (hollow) and test (filled) with 95% bootstrap intervals; a star means the two returns were "
        "identical in every episode, an X that one was constant so no correlation exists, and red rows agreed on "
        "train but not at test, the signature of pseudo-alignment.",
    ),
    "training_curves": (
        "Training curves",
        "Every recorded training metric against environment steps: thin lines are single agents, thick lines the "
        "mean over agents with the same training shift.",
    ),
    "influence_over_training": (
        "Decision influence over training",
        "For each object kind, the share of states (every floor cell of the test levels) whose greedy action changes "
        "when the object is removed or moved, at checkpoints along training: thin lines are agents, thick lines "
        "their mean, bands 95% intervals.",
    ),
    "influence_maps": (
        "Influence maps",
        "On one test level after training, the share of agents whose greedy action changes at each cell when the "
        "object is removed or moved: bright cells are where that object steers the policy.",
    ),
    "policy_vector_field": (
        "Policy vector field",
        "On the same level, each arrow is the agent's expected step from that cell (longer: more certain to move "
        "that way), coloured by the probability of its most likely action.",
    ),
}
"""Title and one-sentence reading guide of each plot in `plots.PLOTS`."""


def gif_bytes(frames: np.ndarray, seconds_per_frame: float = 0.25) -> bytes:
    """Encode (T, h, w, 3) frames (uint8, or floats in [0, 1]) as a looping GIF in memory."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        scale = 255.0 if frames.size and float(np.nanmax(frames)) <= 1.0 else 1.0
        frames = np.clip(np.nan_to_num(frames * scale), 0, 255).astype(np.uint8)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    images = [Image.fromarray(frame[..., :3]) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(seconds_per_frame * 1000), loop=0)
    return buffer.getvalue()


def _plot_sections(result: ExperimentResult) -> list[dict[str, str]]:
    """Every plot rendered to a data URI, with its title and caption."""
    sections = []
    for key, draw in plots.PLOTS.items():
        title, caption = PLOT_TEXT.get(key, (key.replace("_", " "), ""))
        sections.append({"key": key, "title": title, "caption": caption, "src": data_uri("image/png", draw(result))})
    return sections


def _gif_sections(result: ExperimentResult) -> list[dict[str, Any]]:
    """Every rollout GIF as a data URI, with its caption and a display width (pixels scaled up)."""
    sections = []
    for caption, frames in result.gifs.items():
        frames = np.asarray(frames)
        if frames.ndim < 3 or frames.shape[0] == 0:
            continue
        width = frames.shape[2]
        display = width * max(1, 240 // max(1, width))
        sections.append({"caption": caption, "src": data_uri("image/gif", gif_bytes(frames)), "width": display,
                         "frames": int(frames.shape[0])})
    return sections


def _evaluation_lookup(result: ExperimentResult, distribution: str) -> dict[tuple[int, str], Any]:
    """Evaluation rows of one distribution by (agent, objective)."""
    return {(r.agent, r.objective): r for r in result.evaluations if r.distribution == distribution}


def _format_value(value: Any) -> str:
    """Evidence values as short text: floats to 3 significant digits, dicts and lists inline."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_format_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_value(v) for v in value)
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def _evidence(evidence: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """A verdict's stated reason, and its other numbers (thresholds are shown on their own)."""
    items = [(k, _format_value(v)) for k, v in evidence.items() if k not in ("reason", "thresholds")]
    return str(evidence.get("reason", "")), items


def _verdict_rows(result: ExperimentResult) -> list[dict[str, Any]]:
    """One row per agent: verdict on test, best hypothesis and normalised test returns."""
    test = summary.test_distribution(result)
    verdicts, evaluations = summary.verdict_by_agent(result, test), _evaluation_lookup(result, test)
    per_agent = summary.agent_normalised(result, test)
    rows = []
    for i, record in sorted(enumerate(result.agents), key=lambda item: (item[1].train_shift, item[1].agent)):
        verdict = verdicts.get(record.agent)
        best = summary.best_hypothesis(result, record.agent, test)
        returns = []
        for k, objective in enumerate(result.objectives):
            row = evaluations.get((record.agent, objective))
            returns.append(summary.format_interval(row.mean_normalised, row.normalised_low, row.normalised_high) if row
                           else summary.format_number(per_agent[i, k]))
        name = verdict.verdict if verdict else summary.NO_VERDICT
        rows.append({
            "agent": record.agent, "seed": record.seed, "shift": summary.format_shift(record.train_shift),
            "knobs": [f"{record.knobs[k]:g}" if k in record.knobs else "—" for k in summary.varied_knobs(result)],
            "verdict": name, "colour": figure.verdict_colour(name), "kind": verdict.kind if verdict else "",
            "reason": _evidence(verdict.evidence)[0] if verdict else "",
            "evidence": _evidence(verdict.evidence)[1] if verdict else [],
            "hypothesis": best.hypothesis if best else "—",
            "posterior": summary.format_interval(best.posterior, best.posterior_low, best.posterior_high) if best else "—",
            "returns": returns,
        })
    return rows


def _shift_rows(result: ExperimentResult) -> list[dict[str, Any]]:
    """One row per training shift value: verdict counts and mean normalised test returns."""
    return [{
        "shift": summary.format_shift(s.shift), "agents": s.agents,
        "verdicts": [{"name": v, "count": c, "colour": figure.verdict_colour(v)} for v, c in s.verdicts.items()],
        "returns": [summary.format_interval(*stats) for stats in s.normalised],
    } for s in summary.summarize_shifts(result)]


def _evaluation_rows(result: ExperimentResult) -> list[dict[str, Any]]:
    """Every evaluation row, ordered by agent, distribution and objective."""
    order = {d: i for i, d in enumerate(summary.distributions(result))}
    objective = {o: i for i, o in enumerate(result.objectives)}
    rows = sorted(result.evaluations, key=lambda r: (r.agent, order.get(r.distribution, 99), objective.get(r.objective, 99)))
    return [{
        "agent": r.agent, "distribution": r.distribution, "objective": r.objective,
        "intended": r.objective == result.objectives[0],
        "return": summary.format_interval(r.mean_return, r.return_low, r.return_high),
        "normalised": summary.format_interval(r.mean_normalised, r.normalised_low, r.normalised_high),
        "episodes": r.episodes, "undefined": r.undefined,
    } for r in rows]


def _format_threshold(value: Any) -> str:
    """A threshold to 4 significant digits (anything non-numeric as text)."""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def _context(result: ExperimentResult) -> dict[str, Any]:
    """Everything the template shows."""
    return {
        "result": result,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "test": summary.test_distribution(result),
        "shift_values": ", ".join(summary.format_shift(v) for v in summary.shift_values(result)),
        "distributions": summary.distributions(result),
        "what_happened": summary.what_happened(result),
        "conclusion": summary.conclusion(result),
        "shift_rows": _shift_rows(result),
        "verdict_rows": _verdict_rows(result),
        "knobs": summary.varied_knobs(result),
        "imitation": imitation_summary(result),
        "imitation_columns": COLUMNS,
        "evaluation_rows": _evaluation_rows(result),
        "thresholds": [(name, _format_threshold(value)) for name, value in result.thresholds.items()],
        "plots": _plot_sections(result),
        "gifs": _gif_sections(result),
        "timings": [(k, f"{v:.1f}") for k, v in result.timings.items()],
        "total_time": f"{sum(result.timings.values()):.1f}",
        "config_json": json.dumps(result.config, indent=2, default=str, ensure_ascii=False),
        "meta": meta_context(result),
        "trajectory": trajectory_context(result),
    }


def render_report(result: ExperimentResult) -> str:
    """The report page as HTML text."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("report.html").render(**_context(result))


def _write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(result: ExperimentResult, path: Path) -> Path:
    """Render the report of `result` and write it atomically to `path`; return the path."""
    path = Path(path)
    _write_atomic(path, render_report(result))
    return path
