"""The dose-fit and alignment-correlation plots: registration in the report, no import cycle,
what their text says, and which rows they draw. Synthetic results only; nothing is trained."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

import mesascope
from mesascope.diagnose.alignment import AlignmentConfig, alignment_statistics
from mesascope.diagnose.dose import DoseConfig, fit_logistic
from mesascope.report import diagnostic_plots, html, plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_both_plots_are_registered_with_text() -> None:
    assert list(plots.PLOTS).index("dose_fit") == list(plots.PLOTS).index("dose_response") + 1
    assert list(plots.PLOTS).index("alignment_correlations") == list(plots.PLOTS).index("alignment_scatter") + 1
    for key in plots.PLOTS:
        title, caption = html.PLOT_TEXT[key]
        assert title and caption.endswith(".")


def test_every_report_module_imports_on_its_own_without_a_cycle() -> None:
    """Each plot module imports `report.figure`, not `report.plots`, so any of them can be imported
    first in a fresh interpreter; `plots.PLOTS` holds the diagnostic plots themselves."""
    modules = ["figure", "diagnostic_plots", "causal_plot", "influence_plots", "identify_plot", "sweep_plots", "plots", "html"]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module('mesascope.report.' + name)\n"
            "import mesascope.report.plots as p, mesascope.report.diagnostic_plots as d\n"
            "assert p.PLOTS['dose_fit'] is d.dose_fit_plot and p.PLOTS['alignment_correlations'] is d.alignment_correlations_plot\n")
    source = str(Path(mesascope.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    for first in ("diagnostic_plots", "influence_plots", "identify_plot", "plots"):  # the former cycle's members
        ordered = [first] + [m for m in modules if m != first]
        done = subprocess.run([sys.executable, "-c", code.replace(repr(modules), repr(ordered))], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, f"importing report.{first} first: {done.stderr}"


def test_plots_draw_pngs_through_the_registry(dose_experiment) -> None:
    before = plt.get_fignums()
    result = dose_experiment()
    for key in ("dose_fit", "alignment_correlations"):
        image = Image.open(io.BytesIO(plots.PLOTS[key](result)))
        assert image.format == "PNG" and image.width > 600 and image.height > 300
    assert plt.get_fignums() == before


def test_plots_say_why_there_is_nothing_to_draw(dose_experiment) -> None:
    bare = dose_experiment()
    bare.agents, bare.verdicts, bare.episode_returns = [], [], {}
    assert diagnostic_plots.dose_fit_plot(bare)[:8] == PNG_MAGIC
    assert diagnostic_plots.alignment_correlations_plot(bare)[:8] == PNG_MAGIC


def test_fit_line_reports_ed50_bracket_or_reason() -> None:
    config = DoseConfig(resamples=100)
    dose = np.repeat(np.linspace(0, 1, 5), 200)
    fitted = fit_logistic(dose, np.random.default_rng(1).random(dose.size) < 1 / (1 + np.exp(-(8 * dose - 4))), config)
    assert diagnostic_plots._fit_line("robustly aligned", fitted).startswith(f"robustly aligned: ED50 = {fitted.ed50:.3g} [")
    separated = fit_logistic(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0, 0, 1, 1]), config)
    assert "share crosses 50% between 0 and 1" in " ".join(diagnostic_plots._fit_line("x", separated).split())
    flat = fit_logistic(np.repeat([0.0, 1.0], 10), np.tile([0, 1], 10), config)
    assert "slope is not significant" in " ".join(diagnostic_plots._fit_line("x", flat).split())


def test_correlation_rows_group_agents_under_their_pooled_row(dose_experiment) -> None:
    result = dose_experiment(agents_per_shift=2, shifts=(0.0, 0.5))
    statistics = alignment_statistics(result, AlignmentConfig(resamples=50))
    rows = diagnostic_plots._rows_to_draw(statistics, "exit", len(result.agents))
    assert [(row.agents, row.pooled) for row in rows] == [((0,), False), ((1,), False), ((0, 1), True),
                                                          ((2,), False), ((3,), False), ((2, 3), True)]
    pooled_only = diagnostic_plots._rows_to_draw(statistics, "exit", diagnostic_plots.MAX_AGENT_ROWS + 1)
    assert [row.pooled for row in pooled_only] == [True, True]
