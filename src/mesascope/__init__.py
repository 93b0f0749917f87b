"""mesascope: a laboratory for inner alignment."""

__version__ = "0.1.0"
