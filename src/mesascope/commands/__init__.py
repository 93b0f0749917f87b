"""CLI commands that live in their own modules; `mesascope.cli` registers each on its app."""
