"""Every staff page: importing this module attaches them all to ``bp`` (app/__init__.py registers it)."""
from . import audit, bp, stats, stories

__all__ = ["audit", "bp", "stats", "stories"]
