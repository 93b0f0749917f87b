"""CLI commands beyond the core ones in `mesascope.cli`, one module per command family."""
