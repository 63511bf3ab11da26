"""The multimedia portal: ``create_app`` builds and configures the Flask application."""

from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from .config import configure


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides every other source; its ``INSTANCE_PATH`` (tests)
    replaces the default ``instance/`` folder beside the package."""
    from .i18n import LanguagePrefix, Portal

    config = dict(config or {})
    app = Portal(__name__, instance_path=config.pop("INSTANCE_PATH", None), instance_relative_config=True)
    configure(app, config)
    _configure_logging(app)
    # /fr/... is the French site (app/i18n.py); ProxyFix, outside it, sees the request first
    app.wsgi_app = LanguagePrefix(app.wsgi_app)  # type: ignore[method-assign]
    _trust_proxies(app)

    from . import cli, database, errors, i18n, jobs, limits, outbox, requests, search, security, templating

    app.url_map.converters["id"] = IdConverter
    database.init_app(app)
    search.init_app(app)
    requests.init_app(app)
    security.init_app(app)  # sessions and CSRF first: the CSRF check runs before the limits count
    limits.init_app(app)
    i18n.init_app(app)
    outbox.init_outbox(app)
    jobs.init_jobs(app)
    errors.init_app(app)
    templating.init_app(app)
    cli.init_app(app)
    _register_blueprints(app)
    return app


MAX_ID = 2**31 - 1  # the id columns are INTEGER: 32 bits on PostgreSQL


class IdConverter(IntegerConverter):
    """A database id in a URL: a number the id columns can hold. A longer or larger one is
    simply no page (404), not an out-of-range error from PostgreSQL (500)."""

    regex = r"\d{1,10}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _trust_proxies(app: Flask) -> None:
    """Behind nginx the client's address and scheme arrive in X-Forwarded-For / -Proto; they are
    believed only from the TRUSTED_PROXIES nearest hops (none by default), so a client cannot
    choose its own address for the rate limits or pretend to be on HTTPS."""
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Flask's documented way to add WSGI middleware; its stubs type wsgi_app as a method
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


def _register_blueprints(app: Flask) -> None:
    # Importing a feature's routes attaches its views to its ``bp``; the package __init__
    # files hold only ``bp``.
    from .account import routes as account
    from .extensions import limiter
    from .health import bp as health_bp
    from .media import routes as media
    from .newsletter import routes as newsletter
    from .staff import routes as staff
    from .uploads import routes as uploads

    for routes in (account, newsletter, media):
        app.register_blueprint(routes.bp)
    # Reading pages and files changes nothing and has no limit (the app sets no default limits and
    # none on these views): the limiter's hooks would only spend time there on every request
    # (issue #16). A limit wanted on one of these views one day means taking it out of here.
    reading = {media.bp.name, health_bp.name}
    limiter.request_filter(lambda: request.blueprint in reading)
    app.register_blueprint(staff.bp)  # importing staff.routes attached every staff page
    app.register_blueprint(uploads.bp)
    app.register_blueprint(health_bp)


def _configure_logging(app: Flask) -> None:
    # gunicorn and `flask run` leave the root logger bare; without this our INFO lines
    # (the mails printed to the log in development) would not show.
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("app").setLevel(app.config["LOG_LEVEL"])
