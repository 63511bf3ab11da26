"""Importing this module attaches every account view to ``bp`` (app/__init__.py registers it)."""

from . import bp, login, passkey_views, reset, settings, two_step, verify  # noqa: F401

__all__ = ["bp"]
