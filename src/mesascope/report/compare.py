"""Side-by-side summary of agent groups evaluated on the same levels: verdict counts, returns per
objective with bootstrap intervals over agents, and the share of episodes in which a proxy's
return beat the intended one (on the tamper world: the share of episodes that tampered), with a
bootstrap interval that resamples agents and levels together (widened to Wilson's interval over
episodes where that is wider, as when every episode agrees)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesascope.diagnose.predicates import two_way_mean
from mesascope.diagnose.stats import wilson_interval
from mesascope.records.intervals import bootstrap_mean_ci
from mesascope.records.results import ExperimentResult
from mesascope.report.figure import new_figure, plot_style, to_png


@dataclass(frozen=True)
class GroupSummary:
    """One group on one distribution."""

    label: str
    agents: int
    verdicts: dict[str, int]
    returns: dict[str, tuple[float, float, float]]
    proxy_wins: dict[str, tuple[int, int, float, float, float]]
    """proxy -> (episodes where it beat the intended return, episodes, share, low, high)."""


def summarise(results: dict[str, ExperimentResult], distribution: str, seed: int = 0) -> list[GroupSummary]:
    """A `GroupSummary` per group on `distribution`."""
    rng = np.random.default_rng(seed)
    out = []
    for label, result in results.items():
        returns = np.asarray(result.episode_returns[distribution])  # (A, N, K)
        verdicts: dict[str, int] = {}
        for row in result.verdicts:
            if row.distribution == distribution:
                verdicts[row.verdict] = verdicts.get(row.verdict, 0) + 1
        means = {name: bootstrap_mean_ci(returns[:, :, k].mean(1), rng) for k, name in enumerate(result.objectives)}
        wins = {}
        for k, name in enumerate(result.objectives[1:], start=1):
            beat = returns[:, :, k] > returns[:, :, 0]
            # Episodes of one agent are not independent, and every agent plays the same levels:
            # resample agents and levels together. That bootstrap collapses to a point when every
            # episode agrees (64/64), where Wilson's interval over episodes does not, so the
            # interval is the union of the two.
            share, low, high = two_way_mean(beat.astype(float), rng)
            _, wilson_low, wilson_high = wilson_interval(int(beat.sum()), int(beat.size))
            low, high = min(low, wilson_low), max(high, wilson_high)
            wins[name] = (int(beat.sum()), int(beat.size), share, low, high)
        out.append(GroupSummary(label, returns.shape[0], verdicts, means, wins))
    return out


def compare_plot(summaries: list[GroupSummary], objectives: tuple[str, ...], title: str) -> bytes:
    """PNG: mean return per objective per group (interval over agents), and proxy-win shares."""
    with plot_style():
        figure = new_figure(10, 3.8)
        left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
        width = 0.8 / len(objectives)
        x = np.arange(len(summaries))
        for k, name in enumerate(objectives):
            means = np.array([s.returns[name][0] for s in summaries])
            err = np.array([[s.returns[name][0] - s.returns[name][1] for s in summaries], [s.returns[name][2] - s.returns[name][0] for s in summaries]])
            left.bar(x + k * width, means, width, yerr=err, capsize=3, label=name + (" (intended)" if k == 0 else ""))
        left.set_xticks(x + width * (len(objectives) - 1) / 2, [s.label for s in summaries], fontsize=8)
        left.set_ylabel("mean return per episode")
        left.legend(fontsize=7)
        for k, name in enumerate(objectives[1:]):
            shares = np.array([s.proxy_wins[name][2] for s in summaries])
            err = np.array([[s.proxy_wins[name][2] - s.proxy_wins[name][3] for s in summaries], [s.proxy_wins[name][4] - s.proxy_wins[name][2] for s in summaries]])
            right.bar(x + k * width, shares, width, yerr=err, capsize=3, label=f"{name} return > {objectives[0]} return")
        right.set_xticks(x, [s.label for s in summaries], fontsize=8)
        right.set_ylabel("share of episodes (95%, agents × levels)")
        right.set_ylim(0, 1.05)
        right.legend(fontsize=7)
        figure.suptitle(title, fontsize=10)
        return to_png(figure)
