"""`mesascope --help` lists every command with a one-line summary: the first paragraph of the
command's docstring with its line breaks folded, so no summary prints in ragged pieces."""

from typer.testing import CliRunner

from mesascope.cli import app


def test_every_command_summary_prints_on_one_line() -> None:
    output = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400"}).output
    rows = {line.strip("│ ").split(" ", 1)[0]: line for line in output.splitlines() if line.startswith("│ ")}
    for info in app.registered_commands:
        name = info.name or info.callback.__name__
        summary = " ".join(info.callback.__doc__.split("\n\n")[0].split())
        assert summary in rows[name], (name, rows.get(name))
    assert "grid of knobs" in rows["sweep"]
