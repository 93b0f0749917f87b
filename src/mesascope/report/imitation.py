"""The report's imitation section: what each clone plans for, beside its expert.

One row per clone (and a last row for the expert, whose own fit checks the inference): the
verdict and the numbers it rests on (held-out training agreement against the capability
threshold, the inferred horizon and cap with bootstrap intervals and the plausible range, the
share of resamples beyond the expert's bound), with the clone's capacity and data size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.table import Table

from mesascope.records.results import ExperimentResult


def _number(value: float) -> str:
    if math.isinf(value):
        return "none"
    return f"{value:g}"


def _interval(mean: float, low: float, high: float, share: bool = False) -> str:
    """`mean [low, high]`; a share (an agreement) as a fraction with two decimals, as the
    capability threshold and the docs write it."""
    if share:
        return f"{mean:.2f} [{low:.2f}, {high:.2f}]"
    return f"{_number(mean)} [{_number(low)}, {_number(high)}]"


def imitation_summary(result: ExperimentResult) -> dict[str, Any] | None:
    """The section's headline and rows as plain strings (None for runs without clones)."""
    record = result.imitation
    if record is None:
        return None
    expert = record.expert
    config = result.config
    ppo, imitation = config.get("ppo", {}), config.get("imitation", {})
    capacity = f"width {ppo.get('width')}, depth {ppo.get('depth')}, thinking {ppo.get('thinking_steps')}"
    data = f"{imitation.get('dataset_episodes')} expert episodes" + (f" + DAgger {imitation.get('dagger_episodes')}/update" if record.learner == "dagger" else "")
    rows = []
    count = len(record.verdicts)
    for i in range(count + 1):
        rows.append({
            "who": f"clone {i}" if i < count else "expert",
            "verdict": record.verdicts[i] if i < count else "(the expert's own fit)",
            "agreement_train": _interval(record.agreement_train[i], record.agreement_train_low[i], record.agreement_train_high[i], True),
            "agreement_test": _interval(record.agreement_test[i], record.agreement_test_low[i], record.agreement_test_high[i], True),
            "horizon": _interval(record.horizon[i], record.horizon_low[i], record.horizon_high[i])
            + ("" if record.horizon_identified[i] else f"; not identifiable: plausible {_number(record.plausible_horizon_min[i])}–{_number(record.plausible_horizon_max[i])}"),
            "cap": _interval(record.cap[i], record.cap_low[i], record.cap_high[i])
            + ("" if record.cap_identified[i] else f"; not identifiable: plausible {_number(record.plausible_cap_min[i])}–{_number(record.plausible_cap_max[i])}"),
            "beyond": f"{100 * record.beyond_support[i]:.0f}%",
            "best": _best_objectives(record, i, result.objectives) if "best_objective" in record.rows else "",
        })
    headline = (
        f"{record.learner} clones of a {expert['objective']} planner with horizon {_number(expert['horizon'])}, utility cap "
        f"{_number(expert['cap'])}, γ {expert['gamma']:g} ({capacity}; {data}; l2 {config.get('l2')}, l1 {config.get('l1')}). "
        f"Capability threshold: held-out training agreement ≥ {expert['min_agreement']:g}; plausible hypotheses lie within "
        f"{expert['evidence']:g} nats of the best. World check: bounded and unbounded planners allow the same actions on "
        f"{100 * expert['planners_agree_train']:.0f}% of the expert's training states and {100 * expert['planners_agree_test']:.0f}% of its test states."
    )
    return {"headline": headline, "rows": rows}


def _best_objectives(record: Any, row: int, objectives: tuple[str, ...]) -> str:
    """The objective of the best hypothesis of any objective, or every objective whose best
    hypothesis lies within the evidence margin of it, best first ("deliver ≈ points (within 3
    nats)"): an objective that wins a tie by its place in the grid is not a finding."""
    loglik, owner = np.asarray(record.loglik[row], float), np.asarray(record.hypotheses[:, 0], int)
    best = {k: float(np.nanmax(np.where(owner == k, loglik, -np.inf))) for k in np.unique(owner)}
    top, margin = max(best.values()), float(record.expert["evidence"])
    if not np.isfinite(top):
        return objectives[int(record.best_objective[row])]
    first = int(record.best_objective[row])
    close = [first] + [k for k in sorted(best, key=lambda k: -best[k]) if k != first and top - best[k] <= margin]
    if len(close) == 1:
        return objectives[first]
    return " ≈ ".join(objectives[k] for k in close) + f" (within {margin:g} nats)"


COLUMNS = (("who", "who"), ("verdict", "verdict"), ("agreement_train", "agreement, held-out train"), ("agreement_test", "agreement, test"),
           ("best", "best-fitting objective"), ("horizon", "inferred horizon [95%]"), ("cap", "inferred cap [95%]"),
           ("beyond", "resamples beyond the bound"))


def imitation_table(result: ExperimentResult) -> Table | None:
    """The section as a Rich table for the terminal (None for runs without clones)."""
    summary = imitation_summary(result)
    if summary is None:
        return None
    table = Table(title="what each clone plans for", caption=summary["headline"])
    for _, title in COLUMNS:
        table.add_column(title)
    for row in summary["rows"]:
        table.add_row(*(row[key] for key, _ in COLUMNS))
    return table
