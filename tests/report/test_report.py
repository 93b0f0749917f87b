"""Tests of the report: plots, the HTML page, the terminal summary and the numbers behind them.

All run on a synthetic `ExperimentResult` (2 shift values x 3 agents, 2 objectives, NaNs in the
normalised returns, an 'ambiguous' verdict, one 10-frame GIF); nothing is trained.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from mesascope.diagnose.verdict import VerdictThresholds
from mesascope.records.results import (
    AgentRecord,
    EvaluationRow,
    ExperimentResult,
    InferenceRow,
    VerdictRow,
)
from mesascope.report import html, plots, summary, terminal

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MALICIOUS = "<script>alert('x')</script>"
VERDICTS = ["proxy-aligned", "proxy-aligned", "ambiguous", "robustly aligned", "robustly aligned", "capability failure"]
OBJECTIVES = ("coin", "exit")
THRESHOLDS = {"min_support": 0.9, "aligned_min_normalised": 0.45, "capable_min_normalised": 0.55, "min_gain_over_random": 0.05}


def _bootstrap(values: np.ndarray) -> tuple[float, float, float]:
    """Mean with a crude interval (the report only displays these)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    return float(finite.mean()), float(finite.mean() - 0.1), float(finite.mean() + 0.1)


def _episodes(rng: np.random.Generator, agents: int, episodes: int, aligned: np.ndarray, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-episode returns (A, N, 2) and normalised returns with some NaNs."""
    exit_ = (rng.random((agents, episodes)) < 0.9).astype(float)
    coin = exit_.copy() if train else (rng.random((agents, episodes)) < np.where(aligned, 0.9, 0.15)[:, None]).astype(float)
    returns = np.stack([coin, exit_], -1)
    normalised = returns * 1.2 - 0.1
    normalised[:, ::7, 0] = np.nan
    return returns, normalised


def _evidence(verdict: str) -> dict:
    """Evidence shaped like the verdict module's: a reason, nested numbers and the thresholds."""
    return {"reason": f"synthetic {verdict}", "best": "exit", "posterior": {"coin": 0.2, "exit": 0.7123456, "random": 0.0876},
            "capability": 0.93, "alignment": 0.061234, "episodes": 20, "thresholds": THRESHOLDS}


def make_result(verdicts: list[str] = VERDICTS, shifts: tuple[float, ...] = (0.0, 0.2), gifs: bool = True, seed: int = 0) -> ExperimentResult:
    """A synthetic experiment: len(verdicts) agents split evenly over `shifts`."""
    rng = np.random.default_rng(seed)
    count = len(verdicts)
    agents = [AgentRecord(i, 100 + i, shifts[i * len(shifts) // count]) for i in range(count)]
    aligned = np.array(["robust" in v for v in verdicts])
    episode_returns, episode_normalised = {}, {}
    for distribution in ("train", "test"):
        episode_returns[distribution], episode_normalised[distribution] = _episodes(rng, count, 20, aligned, distribution == "train")
    evaluations = []
    for distribution, returns in episode_returns.items():
        for i in range(count):
            for k, objective in enumerate(OBJECTIVES):
                r, n = _bootstrap(returns[i, :, k]), _bootstrap(episode_normalised[distribution][i, :, k])
                undefined = int(np.isnan(episode_normalised[distribution][i, :, k]).sum())
                evaluations.append(EvaluationRow(i, distribution, objective, *r, *n, 20, undefined))
    inferences = []
    for i in range(count):
        weights = rng.dirichlet([4.0 if aligned[i] else 1.0, 1.0 if aligned[i] else 4.0, 0.5])
        for hypothesis, p in zip(OBJECTIVES + ("random",), weights):
            inferences.append(InferenceRow(i, "test", hypothesis, 3.0, -0.5, -0.6, -0.4, float(p), max(0.0, p - 0.1), min(1.0, p + 0.1)))
    verdict_rows = [VerdictRow(i, "test", v, "side-effect" if "proxy" in v else "", _evidence(v)) for i, v in enumerate(verdicts)]
    steps = np.arange(1, 11) * 1000.0
    curves = {
        "episode_return": np.clip(np.linspace(0, 1, 10)[None] + rng.normal(0, 0.05, (count, 10)), 0, 1),
        "proxy_return": np.clip(np.linspace(0, 1, 10)[None] + rng.normal(0, 0.05, (count, 10)), 0, 1),
        "entropy": np.linspace(1.4, 0.3, 10)[None] + rng.normal(0, 0.02, (count, 10)),
    }
    frames = {"agent 0 on a test level": rng.integers(0, 255, (10, 9, 9, 3), dtype=np.uint8)} if gifs else {}
    return ExperimentResult(
        run_id="run-3f9a2c", name="coin-dose", world="coin", objectives=OBJECTIVES, shift_name="p_random_coin",
        config={"preset": "coin-dose", "note": MALICIOUS, "seeds": [0, 1, 2]}, agents=agents, curve_steps=steps,
        curves=curves, evaluations=evaluations, inferences=inferences, verdicts=verdict_rows,
        episode_returns=episode_returns, episode_normalised=episode_normalised, thresholds=THRESHOLDS,
        gifs=frames, timings={"train": 12.5, "evaluate": 3.25},
    )


@pytest.fixture(scope="module")
def result() -> ExperimentResult:
    """The synthetic experiment."""
    return make_result()


@pytest.fixture(scope="module")
def page(result: ExperimentResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of the synthetic experiment, written to disk and read back."""
    path = html.write_report(result, tmp_path_factory.mktemp("report") / "report.html")
    assert path.exists()
    return path.read_text(encoding="utf-8")


# ------------------------------------------------------------------ plots


@pytest.mark.parametrize("name", list(plots.PLOTS))
def test_plot_is_png_and_leaves_no_open_figure(result: ExperimentResult, name: str) -> None:
    before = plt.get_fignums()
    data = plots.PLOTS[name](result)
    assert data[:8] == PNG_MAGIC
    image = Image.open(io.BytesIO(data))
    assert image.width > 300 and image.height > 150
    assert plt.get_fignums() == before


@pytest.mark.parametrize("name", list(plots.PLOTS))
def test_plot_copes_with_missing_data(name: str) -> None:
    bare = dataclasses.replace(make_result(), curves={}, inferences=[], verdicts=[], gifs={})
    assert plots.PLOTS[name](bare)[:8] == PNG_MAGIC


def test_shift_colours_are_fixed_per_value(result: ExperimentResult) -> None:
    colours = plots.shift_colours(result)
    assert list(colours) == [0.0, 0.2] and len(set(colours.values())) == 2
    assert plots.shift_colours(make_result(seed=5)) == colours


def test_verdict_colours_follow_categories() -> None:
    assert plots.verdict_colour("robustly_aligned") == plots.VERDICT_COLOURS["robustly aligned"]
    assert plots.verdict_colour("Proxy-aligned") == plots.VERDICT_COLOURS["proxy-aligned"]
    assert plots.verdict_colour("capability failure") == plots.VERDICT_COLOURS["capability failure"]
    assert plots.verdict_colour("ambiguous") == plots.VERDICT_COLOURS["ambiguous"]


# ------------------------------------------------------------------ numbers


def test_spearman_handles_ties_and_constants() -> None:
    assert summary.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / np.sqrt(22.5))
    assert summary.spearman([1, 2, 3, 4], [10, 100, 1000, 10000]) == pytest.approx(1.0)
    assert summary.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(summary.spearman([1, 1, 1], [1, 2, 3]))
    assert summary.spearman([1, 2, np.nan, 3], [1, 2, 5, 3]) == pytest.approx(1.0)


def test_agent_normalised_prefers_evaluation_rows(result: ExperimentResult) -> None:
    table = summary.agent_normalised(result, "test")
    row = next(r for r in result.evaluations if r.agent == 4 and r.distribution == "test" and r.objective == "exit")
    assert table.shape == (6, 2) and table[4, 1] == row.mean_normalised
    assert np.isfinite(table).all()


def test_shift_summary_counts_verdicts(result: ExperimentResult) -> None:
    low, high = summary.summarize_shifts(result)
    assert (low.shift, low.agents, low.verdicts) == (0.0, 3, {"proxy-aligned": 2, "ambiguous": 1})
    assert high.verdicts == {"robustly aligned": 2, "capability failure": 1}
    assert high.normalised[0][0] > low.normalised[0][0]


def test_what_happened_reflects_the_counts(result: ExperimentResult) -> None:
    text = summary.what_happened(result)
    assert "At p_random_coin = 0, 2 of 3 agents were proxy-aligned and 1 was ambiguous on test" in text
    assert "At p_random_coin = 0.2, 2 of 3 agents were robustly aligned and 1 was a capability failure" in text
    assert "rose from 0 of 3 to 2 of 3" in text
    changed = make_result(verdicts=["robustly aligned"] * 3 + ["proxy-aligned"] * 3)
    other = summary.what_happened(changed)
    assert "At p_random_coin = 0, 3 of 3 agents were robustly aligned on test" in other
    assert "At p_random_coin = 0.2, 3 of 3 agents were proxy-aligned on test" in other
    assert "fell from 3 of 3 to 0 of 3" in other


# ------------------------------------------------------------------ HTML


def test_report_is_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?!data:|#)[a-z]*:?//""", page, re.I)
    assert "<link" not in page and "<script" not in page


def test_report_embeds_every_plot_and_gif(page: str, result: ExperimentResult) -> None:
    images = re.findall(r'<img src="data:image/(png|gif);base64,([A-Za-z0-9+/=]+)"', page)
    assert len(re.findall(r"<img\b", page)) == len(plots.PLOTS) + len(result.gifs)
    assert [kind for kind, _ in images].count("png") == len(plots.PLOTS)
    assert [kind for kind, _ in images].count("gif") == len(result.gifs)
    for kind, payload in images:
        data = base64.b64decode(payload)
        if kind == "png":
            assert data[:8] == PNG_MAGIC
        else:
            assert Image.open(io.BytesIO(data)).n_frames == 10


def test_report_shows_verdicts_thresholds_and_run(page: str, result: ExperimentResult) -> None:
    for verdict in set(VERDICTS):
        assert verdict in page
    badges = re.findall(r'<td><span class="badge"[^>]*>([^<]+)</span></td>', page)
    assert sorted(badges) == sorted(VERDICTS)
    for name, value in THRESHOLDS.items():
        assert name in page and f"{value:.4g}" in page
    assert result.run_id in page and "coin (intended)" in page and "p_random_coin" in page
    assert summary.what_happened(result).split(" (")[0] in page
    assert "synthetic ambiguous" in page and "exit 0.712" in page  # evidence: reason and nested numbers


def test_report_escapes_config(page: str) -> None:
    assert MALICIOUS not in page
    assert "&lt;script&gt;" in page


def test_report_lists_evaluations_with_undefined_counts(page: str, result: ExperimentResult) -> None:
    body = page.split('id="evaluations"')[1].split("</section>")[0]
    assert body.count("<tr><td") == len(result.evaluations)
    assert f'<td class="num">{result.evaluations[0].undefined}</td></tr>' in body


def test_write_report_is_atomic_and_overwrites(tmp_path: Path) -> None:
    bare = make_result(gifs=False)
    target = tmp_path / "sub" / "report.html"
    target.parent.mkdir()
    target.write_text("old")
    assert html.write_report(bare, target) == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_gif_bytes_round_trip() -> None:
    frames = np.zeros((4, 6, 5, 3), np.uint8)
    frames[np.arange(4), np.arange(4), 0] = 255
    image = Image.open(io.BytesIO(html.gif_bytes(frames)))
    assert (image.n_frames, image.size) == (4, (5, 6))


# ------------------------------------------------------------------ terminal


def _render(result: ExperimentResult) -> str:
    """The terminal summary as plain text."""
    console = Console(record=True, width=200, color_system=None)
    terminal.print_summary(result, console)
    return console.export_text()


def test_terminal_summary_counts_verdicts(result: ExperimentResult) -> None:
    text = _render(result)
    header = " ".join(text.split("Agents")[0].split())
    assert re.search(r"robustly.*proxy-.*capability.*ambiguous", header)
    # columns: shift, agents, robustly aligned, proxy-aligned, capability failure, ambiguous, returns
    assert re.search(r"^\s*0\s+3\s+0\s+2\s+0\s+1\s+0\.\d\d\s", text, re.M)
    assert re.search(r"^\s*0\.2\s+3\s+2\s+0\s+1\s+0\s+0\.\d\d\s", text, re.M)
    assert "p_random_coin = 0: 2/3 proxy-aligned" in text and "p_random_coin = 0.2: 2/3 robustly aligned" in text
    assert "Agents" in text and text.count("capability failure") == 1  # the agent row (headers are folded)
    for verdict in set(VERDICTS):
        assert verdict in text.split("Agents")[1]


def test_terminal_summary_fits_a_narrow_terminal(result: ExperimentResult) -> None:
    console = Console(record=True, width=80, color_system=None)
    terminal.print_summary(result, console)
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 80 and not any("…" in line for line in lines)


def test_terminal_summary_skips_agent_table_for_large_populations() -> None:
    text = _render(make_result(verdicts=["ambiguous"] * 33, shifts=(0.0, 0.5, 1.0), gifs=False))
    assert "Agents" not in text and "11/11 ambiguous" in text


def test_terminal_summary_names_the_thresholds_and_the_ones_changed(result: ExperimentResult) -> None:
    defaults = dataclasses.asdict(VerdictThresholds())
    plain = dataclasses.replace(result, thresholds=defaults)
    assert "verdict thresholds (defaults): min_support 0.9, min_log_bayes_factor 3" in " ".join(_render(plain).split())
    changed = dataclasses.replace(result, thresholds={**defaults, "min_support": 0.99})
    text = " ".join(_render(changed).split())
    assert "verdict thresholds, not the defaults: min_support 0.99 (default 0.9); the rest: min_log_bayes_factor 3" in text


def test_agent_tables_show_the_knobs_that_differ_between_agents(result: ExperimentResult) -> None:
    """In a grid of traced knobs two agents can share seed and shift; their knob tells them apart."""
    agents = [dataclasses.replace(a, knobs={"l2": 0.01 * (i % 2), "l1": 0.0}) for i, a in enumerate(result.agents)]
    gridded = dataclasses.replace(result, agents=agents)
    text = _render(gridded)
    header = " ".join(text.split("Agents")[1].split("───")[0].split())
    assert " l2 " in header and " l1 " not in header, header  # only the knob that varies
    assert re.search(r"^\s*1\s+\d+\s+\S+\s+0\.01\s", text.split("Agents")[1], re.M)
    assert "<th>l2</th>" in html.render_report(gridded) and "<th>l2</th>" not in html.render_report(result)
