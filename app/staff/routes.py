"""Every staff page: importing this module attaches them all to ``bp`` (app/__init__.py registers it)."""

from . import audit, bp, people, stats, stories

__all__ = ["audit", "bp", "people", "stats", "stories"]
