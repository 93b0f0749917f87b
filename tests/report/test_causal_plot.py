"""The causal graph picture: drawn for every world, from the CLI and in the report."""

import io

import pytest
from PIL import Image
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.report import plots
from mesascope.report.causal_plot import causal_graph_plot
from mesascope.worlds import registry


@pytest.mark.parametrize("name", registry.names())
def test_every_world_has_a_causal_graph_picture(name):
    image = Image.open(io.BytesIO(causal_graph_plot(registry.make(name))))
    assert image.format == "PNG" and image.width > 300 and image.height > 200


def test_show_saves_the_graph(tmp_path):
    result = CliRunner().invoke(app, ["show", "tamper", "--graph", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_draws_the_run_world_and_survives_an_unknown_one(monkeypatch):
    class Result:
        world, config = "coin", {"world_options": {"size": 7}}

    assert plots.causal_graph(Result())[:8] == b"\x89PNG\r\n\x1a\n"
    Result.world = "atlantis"
    assert plots.causal_graph(Result())[:8] == b"\x89PNG\r\n\x1a\n"  # a placeholder saying why
    assert "causal_graph" in plots.PLOTS
