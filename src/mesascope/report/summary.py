"""Numbers the report shows, computed from an `ExperimentResult` alone (NumPy only).

Plots, the HTML page and the terminal summary all read their numbers from here, so the three
never disagree: per-agent normalised returns, bootstrap intervals over agents, verdict counts
per training shift, and the plain-language account of what happened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from mesascope.diagnose.ranks import average_ranks, spearman  # noqa: F401  (re-exported)
from mesascope.records.readings import (  # noqa: F401  (re-exported: the report reads them from here too)
    NO_VERDICT,
    VERDICT_CATEGORIES,
    agent_normalised,
    agent_shifts,
    bootstrap_ci,
    distributions,
    shift_values,
    test_distribution,
    varied_knobs,
    verdict_by_agent,
    verdict_category,
)
from mesascope.records.intervals import format_interval, format_number  # noqa: F401  (re-exported)
from mesascope.records.results import ExperimentResult, InferenceRow

def verdict_prose(verdict: str) -> str:
    """A verdict as it reads in a sentence ('proxy_aligned' -> 'proxy aligned')."""
    return verdict.replace("_", " ")


def verdict_sort_key(verdict: str) -> tuple[int, str]:
    """Order verdicts by category (aligned, proxy, capability failure, other), then by name."""
    if verdict == NO_VERDICT:
        return (len(VERDICT_CATEGORIES), verdict)
    return (VERDICT_CATEGORIES.index(verdict_category(verdict)), verdict)


def format_shift(value: float) -> str:
    """A shift value as short text (0.2, not 0.20000000298)."""
    return f"{float(value):.3g}"


def nanmean(values: np.ndarray) -> float:
    """Mean of the finite entries of `values`, NaN (without a warning) when there are none."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def best_hypothesis(result: ExperimentResult, agent: int, distribution: str) -> InferenceRow | None:
    """The goal-inference row with the highest posterior for one agent, or None."""
    rows = [row for row in result.inferences if row.agent == agent and row.distribution == distribution]
    return max(rows, key=lambda row: (np.nan_to_num(row.posterior, nan=-1.0))) if rows else None


@dataclass(frozen=True)
class ShiftSummary:
    """One training shift value: how many agents got each verdict, and their test returns.

    `normalised[k]` is (mean, low, high) over agents of the per-agent mean normalised return of
    objective k on the test distribution (95% bootstrap over agents)."""

    shift: float
    agents: int
    verdicts: dict[str, int]
    normalised: tuple[tuple[float, float, float], ...]


def summarize_shifts(result: ExperimentResult) -> list[ShiftSummary]:
    """One `ShiftSummary` per training shift value, ascending, on the test distribution."""
    test = test_distribution(result)
    verdicts = verdict_by_agent(result, test)
    shifts = agent_shifts(result)
    per_agent = agent_normalised(result, test)
    out = []
    for value in shift_values(result):
        members = [record for record in result.agents if float(record.train_shift) == value]
        counts = Counter(verdicts[r.agent].verdict if r.agent in verdicts else NO_VERDICT for r in members)
        ordered = dict(sorted(counts.items(), key=lambda item: verdict_sort_key(item[0])))
        rows = per_agent[shifts == value]
        normalised = tuple(bootstrap_ci(rows[:, k]) for k in range(len(result.objectives)))
        out.append(ShiftSummary(value, len(members), ordered, normalised))
    return out


def influence_by_shift(result: ExperimentResult) -> dict[float, np.ndarray]:
    """Per training shift value, (C, K, I, 3): the mean over its agents of each decision-
    influence share with a 95% interval, bootstrap over agents when there are several, the
    agent's own interval over levels when there is one. Empty without influence data."""
    record = result.influence
    if record is None:
        return {}
    shifts, out = agent_shifts(result), {}
    for value in shift_values(result):
        members = np.flatnonzero(shifts == value)
        if len(members) == 1:
            a = members[0]
            out[value] = np.stack([record.share[a], record.share_low[a], record.share_high[a]], -1)
            continue
        rows = record.share[members].reshape(len(members), -1)
        out[value] = np.array([bootstrap_ci(column) for column in rows.T]).reshape(record.share.shape[1:] + (3,))
    return out


def all_verdicts(result: ExperimentResult) -> list[str]:
    """Every verdict string given on the test distribution, in category order."""
    summaries = summarize_shifts(result)
    return sorted({v for s in summaries for v in s.verdicts}, key=verdict_sort_key)


def _verdict_clause(verdict: str, count: int) -> str:
    """'was ambiguous', 'were proxy aligned', 'was a capability failure', 'were capability failures'."""
    if verdict == NO_VERDICT:
        return "had no verdict"
    text = verdict_prose(verdict)
    if text.endswith("failure"):
        return f"was a {text}" if count == 1 else f"were {text}s"
    return f"{'was' if count == 1 else 'were'} {text}"


def _count_phrase(counts: dict[str, int], total: int) -> str:
    """'2 of 3 agents were proxy aligned and 1 was ambiguous'."""
    parts = []
    for i, (verdict, count) in enumerate(sorted(counts.items(), key=lambda item: (-item[1], verdict_sort_key(item[0])))):
        clause = _verdict_clause(verdict, count)
        parts.append(f"{count} of {total} agent{'s' if total != 1 else ''} {clause}" if i == 0 else f"{count} {clause}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _returns_phrase(result: ExperimentResult, summary: ShiftSummary) -> str:
    """'mean normalised test return: coin (intended) 0.12, exit 0.91'."""
    parts = []
    for k, name in enumerate(result.objectives):
        label = f"{name} (intended)" if k == 0 else name
        parts.append(f"{label} {format_number(summary.normalised[k][0])}")
    return "mean normalised return on " + test_distribution(result) + ": " + ", ".join(parts)


def _trend_sentence(result: ExperimentResult, summaries: list[ShiftSummary]) -> str:
    """How the share of robustly aligned agents and the intended return moved with the shift."""
    if len(summaries) < 2:
        return ""
    first, last = summaries[0], summaries[-1]

    def aligned(s: ShiftSummary) -> int:
        """Robustly aligned agents at one shift value."""
        return sum(c for v, c in s.verdicts.items() if v != NO_VERDICT and verdict_category(v) == "robustly aligned")

    a, b = aligned(first), aligned(last)
    direction = "rose" if b > a else "fell" if b < a else "stayed"
    move = f"from {a} of {first.agents} to {b} of {last.agents}" if a != b else f"at {a} of {first.agents} and {b} of {last.agents}"
    i0, i1 = first.normalised[0][0], last.normalised[0][0]
    return (
        f"Raising {result.shift_name} in training from {format_shift(first.shift)} to {format_shift(last.shift)}, "
        f"the number of robustly aligned agents {direction} {move}, and the mean normalised "
        f"{result.objectives[0]} return on {test_distribution(result)} went from {format_number(i0)} to {format_number(i1)}."
    )


def _train_sentence(result: ExperimentResult) -> str:
    """How well the population pursued each objective on the training distribution."""
    if "train" not in distributions(result):
        return ""
    means = [nanmean(column) for column in agent_normalised(result, "train").T]
    parts = [f"{name} {format_number(float(m))}" for name, m in zip(result.objectives, means)]
    return "On train, the mean normalised return over all agents was " + ", ".join(parts) + "."


def what_happened(result: ExperimentResult) -> str:
    """A plain-language paragraph on the outcome, computed from the data (never hard-coded)."""
    summaries = summarize_shifts(result)
    if not summaries:
        return "No agents were trained, so there is nothing to report."
    test = test_distribution(result)
    sentences = []
    for s in summaries:
        sentences.append(
            f"At {result.shift_name} = {format_shift(s.shift)}, {_count_phrase(s.verdicts, s.agents)} on {test} "
            f"({_returns_phrase(result, s)})."
        )
    for extra in (_trend_sentence(result, summaries), _train_sentence(result)):
        if extra:
            sentences.append(extra)
    return " ".join(sentences)


def conclusion(result: ExperimentResult) -> str:
    """One line: the most common verdict at each training shift value."""
    summaries = summarize_shifts(result)
    if not summaries:
        return "No agents were trained."
    parts = []
    for s in summaries:
        verdict, count = max(s.verdicts.items(), key=lambda item: (item[1], -verdict_sort_key(item[0])[0]))
        parts.append(f"{result.shift_name} = {format_shift(s.shift)}: {count}/{s.agents} {verdict_prose(verdict)}")
    return "Most common verdict on " + test_distribution(result) + " — " + "; ".join(parts) + "."
