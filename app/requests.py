"""The request class: htmx-flask's (``request.htmx``), with a form parser that survives nameless parts."""

from __future__ import annotations

from htmx_flask.requests import HtmxAwareRequest
from werkzeug.formparser import FormDataParser

from .extensions import htmx


def init_app(app) -> None:
    htmx.init_app(app)
    app.request_class = PortalRequest


class NamedPartsParser(FormDataParser):
    """Drops multipart parts without a name (``Content-Disposition: form-data`` alone): Werkzeug
    files them under the key None, on which Flask-WTF's CSRF check fails with a 500."""

    def parse(self, *args, **kwargs):
        stream, form, files = super().parse(*args, **kwargs)
        return stream, _named(form), _named(files)


def _named(data):
    if None not in data:
        return data
    return type(data)([(key, value) for key, value in data.items(multi=True) if key is not None])


class PortalRequest(HtmxAwareRequest):
    """htmx-flask's request (``request.htmx``), with the parser above."""

    form_data_parser_class = NamedPartsParser
