"""Links the portal makes: absolute ones for mails, built from SERVER_NAME and
PREFERRED_URL_SCHEME, never from the Host header of the request that happens to cause the mail;
and a page's links to itself, built from its route, never copied from the request's path."""

from urllib.parse import quote, urlencode

from flask import current_app, has_request_context, request, url_for

from .flows.redirects import safe_next


def external_url(endpoint: str, **values) -> str:
    config = current_app.config
    if config.get("SERVER_NAME"):
        adapter = current_app.url_map.bind(
            config["SERVER_NAME"],
            url_scheme=config["PREFERRED_URL_SCHEME"],
            script_name=config.get("APPLICATION_ROOT") or "/",
        )
        return adapter.build(endpoint, values, force_external=True)
    # Development and tests only: production refuses to start without SERVER_NAME (config.py).
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    server = config["DEVELOPMENT_SERVER"]
    return f"http://{server}" + current_app.url_map.bind(server).build(endpoint, values)


def this_page(**replace: str) -> str:
    """This page's path and query string, with the query arguments in ``replace`` set anew: what
    the EN | FR switch and "the page to come back to" link to.

    The path is built from the route that answered. A request no route matched (a 404) has only
    the path it sent, which may be ``/\\evil.example`` (a browser reads it as //evil.example):
    it is kept only if it is a plain local path, else the link goes to the home page.
    """
    if request.url_rule is not None and request.endpoint:
        path = url_for(request.endpoint, **(request.view_args or {}))
    else:
        path = safe_next(request.script_root + quote(request.path), default=url_for("media.index"))
    args = [(key, value) for key, value in request.args.items(multi=True) if key not in replace]
    args += list(replace.items())
    return path + "?" + urlencode(args) if args else path
