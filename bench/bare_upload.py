"""The baseline of the upload benchmark (bench/uploads.py): a bare WSGI app that streams each
PATCH body to one file, as the portal's tus endpoint does, and nothing else.

    gunicorn -c gunicorn.conf.py -w 1 bench.bare_upload:app    # BENCH_UPLOAD_FILE=<path>

It reads the body in the portal's read size (app/flows/tus.py CHUNK_BYTES) and syncs the file at
the end of each request as the portal does, so the ratio is what the portal adds (routing,
session and CSRF, the database row, the tus rules), not the disk.
"""

from __future__ import annotations

import os

from app.flows.tus import CHUNK_BYTES

TARGET = os.environ.get("BENCH_UPLOAD_FILE", "bare-upload.part")


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    if environ.get("REQUEST_METHOD") != "PATCH":
        start_response("405 Method Not Allowed", [("Content-Length", "0")])
        return [b""]
    room, stream = int(environ.get("CONTENT_LENGTH") or 0), environ["wsgi.input"]
    with open(TARGET, "ab") as file:
        while room > 0:
            chunk = stream.read(min(CHUNK_BYTES, room))
            if not chunk:
                break
            file.write(chunk)
            room -= len(chunk)
        file.flush()
        os.fsync(file.fileno())
        offset = file.tell()
    start_response("204 No Content", [("Upload-Offset", str(offset))])
    return [b""]
