from flask import render_template

from . import bp


@bp.route("/")
def index():
    return render_template("media/index.html")


@bp.route("/conditions")
def conditions():
    return render_template("media/conditions.html")
