"""Help that reads well in any terminal: `mesascope --help` lists every command with a one-line
summary; each command's `--help` and `mesascope show WORLD` reflow the docstrings' hard-wrapped
paragraphs to the terminal's width instead of printing them in ragged pieces."""

from typer.testing import CliRunner

from mesascope.cli import _reflowed, app
from mesascope.worlds import registry


def test_every_command_summary_prints_on_one_line() -> None:
    output = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400"}).output
    rows = {line.strip("│ ").split(" ", 1)[0]: line for line in output.splitlines() if line.startswith("│ ")}
    for info in app.registered_commands:
        name = info.name or info.callback.__name__
        summary = " ".join(info.callback.__doc__.split("\n\n")[0].split())
        assert summary in rows[name], (name, rows.get(name))
    assert "grid of knobs" in rows["sweep"]


def test_reflow_joins_hard_wraps_but_keeps_list_items_and_code_lines() -> None:
    doc = """First line
        goes on here.

        - an item
          that goes on
        - another item
        1. a numbered one

            code stays
            as it is
        """
    assert _reflowed(doc) == ("First line goes on here.\n\n- an item that goes on\n- another item\n1. a numbered one\n\n"
                              "    code stays\n    as it is")


def prose_lines(output: str) -> list[list[str]]:
    """The paragraphs of a help text's prose (before its first box), as lists of lines."""
    paragraphs: list[list[str]] = [[]]
    for line in output.split("╭")[0].split("Usage:", 1)[1].splitlines()[1:]:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def test_command_help_and_world_descriptions_fill_the_terminal_width() -> None:
    for name in ("sweep", "diagnose", "goodhart", "run"):
        output = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "80"}).output
        for paragraph in prose_lines(output):
            assert all(len(line) >= 55 for line in paragraph[:-1]), (name, paragraph)  # only a paragraph's last line is short
    for world in registry.builtin_names():
        assert "\n    ## " not in registry.make(world).describe(), world  # dedented: Markdown, not a code block
    shown = CliRunner().invoke(app, ["show", "corner"], env={"COLUMNS": "80"}).output
    lines = [line.rstrip() for line in shown.splitlines()]
    assert "Layout" in lines and "## Layout" not in shown  # the docstring's headings render as headings
    body = lines[lines.index("Layout") + 2 : lines.index("Observation") - 1]
    assert body and all(len(line) >= 55 for line in body[:-1]), body
