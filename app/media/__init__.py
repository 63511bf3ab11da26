"""Public pages: the catalogue, story pages, previews; downloads for verified accounts.
Its command group is ``flask media`` (demo catalogue, import)."""

from flask import Blueprint

bp = Blueprint("media", __name__, cli_group="media")
