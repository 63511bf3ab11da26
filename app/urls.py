"""Absolute links for mails, built from SERVER_NAME and PREFERRED_URL_SCHEME, never from the
Host header of the request that happens to cause the mail."""
from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    config = current_app.config
    if config.get("SERVER_NAME"):
        adapter = current_app.url_map.bind(config["SERVER_NAME"], url_scheme=config["PREFERRED_URL_SCHEME"],
                                           script_name=config.get("APPLICATION_ROOT") or "/")
        return adapter.build(endpoint, values, force_external=True)
    # Development and tests only: production refuses to start without SERVER_NAME (config.py).
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return "http://localhost" + current_app.url_map.bind("localhost").build(endpoint, values)
