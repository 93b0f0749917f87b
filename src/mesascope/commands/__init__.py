"""CLI commands beyond the core ones in `mesascope.cli`: one module per command family, each a
plain typer-style function registered in cli.py, sharing `commands.common`."""
