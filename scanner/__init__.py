"""cityscan: a compliance scanner for municipal networks."""

__version__ = "0.1.0"
