"""gunicorn target for the X-Accel-Redirect information run of benchmark 6, with one repair.

``_file_response`` in app/blueprints/media/routes.py sets ``response.content_length = None`` on
an X-Accel-Redirect (or X-Sendfile) answer. Werkzeug 3.1 writes that as the header
``Content-Length: None``; gunicorn refuses it (``int('None')``) and answers 500, so through
gunicorn that mode never works. This wrapper drops that one header and changes nothing else,
so the benchmark can still show what the hand-off to nginx would give once the app is fixed.
The benchmark tries the unwrapped app first and reports its failure.
"""
from wsgi import app as portal


def app(environ, start_response):
    def start(status, headers, exc_info=None):
        headers = [(k, v) for k, v in headers if not (k.lower() == "content-length" and v == "None")]
        return start_response(status, headers, exc_info)

    return portal(environ, start)
