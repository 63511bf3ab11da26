"""gunicorn's settings for the portal: ``gunicorn -c gunicorn.conf.py -w 4 -b 127.0.0.1:8000 wsgi:app``
(gunicorn also reads this file by itself when started from this folder). The number of workers
and the address stay on the command line; ``GUNICORN_CMD_ARGS="--threads 8"`` changes a setting
here without editing the file.

gunicorn must never be reachable from outside. It reads a request while it holds a thread for it,
so a client that sends its headers a line every few seconds ties up one thread for as long as it
likes; nginx in front reads every request whole first (``client_header_timeout``,
``client_body_timeout``) and hands gunicorn only complete ones (README, "Security").
tests/test_slow_clients.py shows both.
"""

import os

# Unless told otherwise on the command line, only this machine can connect.
bind = ["127.0.0.1:8000"]

# Threads: a slow client (sending its request, or reading a file the app sends with send_file)
# holds one of a worker's threads, not the whole process; it takes workers x threads of them to
# hold up the site instead of one per worker. The worker's main loop keeps telling the master it
# is alive, so a long download is not cut off as a "silent" worker after ``timeout`` (a sync
# worker sending a large file to a slow reader was killed at 30 s).
# SQLite lets one writer in at a time: more threads than workers only queue on its lock, and
# under load (tests/test_load.py: 200 browsers) they waited past its busy timeout ("database is
# locked"). So SQLite gets one thread per worker, PostgreSQL four. The database is read from the
# same FLASK_SQLALCHEMY_DATABASE_URI the app reads; set elsewhere (instance/config.py), say
# GUNICORN_CMD_ARGS="--threads 4" to match.
worker_class = "gthread"
_database = os.environ.get("FLASK_SQLALCHEMY_DATABASE_URI", "sqlite:")
threads = 4 if _database.startswith("postgres") else 1

# A worker that stops answering the master for this long is killed and replaced.
timeout = 30
# On a restart or stop, requests under way get this long to finish.
graceful_timeout = 20
# An idle kept-alive connection is closed after this many seconds.
keepalive = 2

# Whether a request came over HTTPS, and from whom, is werkzeug's ProxyFix's decision alone, for
# as many hops as TRUSTED_PROXIES says (app/__init__.py). By default gunicorn itself believes
# X-Forwarded-Proto, X-Forwarded-Protocol and X-Forwarded-Ssl from 127.0.0.1 and from any unix
# socket, whatever TRUSTED_PROXIES is, and nginx passes a client's X-Forwarded-Ssl on unchanged.
forwarded_allow_ips = ""
secure_scheme_headers = {}
forwarder_headers = ""

# gunicorn 25.1+ opens a control socket (~/.gunicorn/gunicorn.ctl) through which gunicornc can
# change the number of workers or reload; nothing here uses it, and every gunicorn started by the
# same user on one machine (the tests start several) would share that one path.
control_socket_disable = True
