"""CLI commands that live outside cli.py, each a plain typer-style function registered there."""
