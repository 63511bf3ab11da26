"""Public pages. The catalogue and story pages arrive with the portal issue."""
from flask import Blueprint

bp = Blueprint("media", __name__)
