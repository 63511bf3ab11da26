"""Processes the benchmarks need: a migrated SQLite database, gunicorn, nginx, local SMTP servers."""

from __future__ import annotations

import os
import pwd
import re
import runpy
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: gunicorn and flask live next to its python
GUNICORN_CONF = ROOT / "gunicorn.conf.py"  # the production settings: every gunicorn here starts with them
_GUNICORN_SETTINGS = runpy.run_path(str(GUNICORN_CONF))
WORKER_KIND = f"{_GUNICORN_SETTINGS['worker_class']} workers, {_GUNICORN_SETTINGS['threads']} threads each"
SECRET_KEY = "bench-" + secrets.token_hex(24)  # the prefix keeps Flask from parsing it as JSON
CODE_RE = re.compile(r"^\s*(\d{6})\s*$", re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(db_path: Path, **settings) -> dict[str, str]:
    """The process environment for the app: our FLASK_* settings and none inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    values = {
        "SECRET_KEY": SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "RATELIMIT_ENABLED": "false",
        "BCRYPT_ROUNDS": "12",
        "MAIL_DISPATCH": "worker",
        "LOG_LEVEL": "WARNING",
        # Production config requires it (links in mails); Gunicorn replaces it with its own address.
        "SERVER_NAME": "localhost",
        **{k: str(v) for k, v in settings.items()},
    }
    env.update({"FLASK_" + k: v for k, v in values.items()})
    return env


def app_config(database_uri: str, **overrides) -> dict:
    """create_app() settings for a process (a benchmark, a harness helper) that works on a database directly."""
    return {
        "SECRET_KEY": SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "MAIL_DISPATCH": "worker",
        "RATELIMIT_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "SERVER_NAME": "localhost",
        **overrides,
    }


def flask(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """``flask --app wsgi ARGS``, the operator's way, in its own process; returns its output."""
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def migrate(db_path: Path) -> None:
    """Create the schema the way an operator does: ``flask --app wsgi db upgrade``."""
    flask(app_env(db_path), "db", "upgrade", timeout=120)


def fresh_database(template: Path, path: Path) -> Path:
    """A copy of the migrated template database (one per benchmark, so none sees another's rows)."""
    shutil.copyfile(template, path)
    return path


def latest_code(db_path: Path, address: str) -> str:
    """The 6-digit code in the newest mail to ``address`` in the outbox table."""
    with sqlite3.connect(db_path, timeout=10) as connection:
        rows = connection.execute(
            "SELECT body_text FROM outbox WHERE recipient = ? ORDER BY id DESC", (address,)
        ).fetchall()
    for (body,) in rows:
        match = CODE_RE.search(body)
        if match:
            return match.group(1)
    raise RuntimeError(f"no code mailed to {address}")


def outbox_counts(db_path: Path, like: str) -> dict[str, int]:
    with sqlite3.connect(db_path, timeout=10) as connection:
        total, sent = connection.execute(
            "SELECT COUNT(*), COUNT(sent_at) FROM outbox WHERE recipient LIKE ?", (like,)
        ).fetchone()
    return {"queued": total, "sent": sent}


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py -w N -b 127.0.0.1:<free port> wsgi:app`` (as in production);
    stopped (and killed if need be) on exit.

    ``target`` names another WSGI app (the bare Flask baseline); ``ready_path`` is the URL that
    must answer 200 before the server counts as up.
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        workers: int = 2,
        target: str = "wsgi:app",
        ready_path: str = "/healthz",
    ):
        self.log_path, self.workers, self.target, self.ready_path = log_path, workers, target, ready_path
        self.port = free_port()
        self.env = {**env, "FLASK_SERVER_NAME": f"127.0.0.1:{self.port}"}  # the host links in mails carry
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "-c",
                    str(GUNICORN_CONF),
                    "-w",
                    str(self.workers),
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "--graceful-timeout",
                    "5",
                    self.target,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            self._wait_ready(timeout=30)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        from .client import Browser

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if Browser(self.url, timeout=5).get(self.ready_path).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer {self.ready_path} within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # the master stops its workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group we started (start_new_session)
            process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        """The master's children (the workers), found through /proc."""
        return child_pids(self.process.pid)

    def workers_cpu_seconds(self) -> float:
        """User + system CPU time the workers (and the master) have used so far (Linux /proc; 0.0 elsewhere)."""
        total = 0
        for pid in [self.process.pid, *self.worker_pids()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                pids.append(int(entry.name))
    return pids


def rss_kib(pid: int | str = "self", field: str = "VmRSS") -> int | None:
    """A memory figure of /proc/<pid>/status in KiB (VmRSS now, VmHWM the peak); None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


NGINX = "/usr/sbin/nginx"


class Nginx:
    """nginx (Debian's /usr/sbin/nginx) in the foreground with our own config in ``directory``.

    ``locations`` is the text of the server block (location directives), ``http`` more directives
    for the http block (e.g. a ``limit_conn_zone``). Everything it writes (pid, logs, temp files)
    stays in ``directory``; stopped with SIGQUIT, killed if need be.
    """

    def __init__(
        self, directory: Path, locations: str, port: int | None = None, http: str = "", worker_connections: int = 64
    ):
        self.directory, self.locations, self.http = directory, locations, http
        self.worker_connections = worker_connections
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        d = self.directory
        # As root, nginx would run its workers as "nobody", who may not read our 0700 temp dir.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        return f"""{user}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {2 * self.worker_connections + 64};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections {self.worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
{self.http}
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
{self.locations}
    }}
}}
"""

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "nginx.conf"
        conf.write_text(self.config())
        log = open(self.directory / "stderr.log", "ab")
        try:
            self.process = subprocess.Popen(
                [NGINX, "-c", str(conf), "-p", f"{self.directory}/", "-e", str(self.directory / "error.log")],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            wait_for_port(self.port, 15, self.process)
        except BaseException as exc:
            self.stop()
            raise RuntimeError(f"nginx did not start: {exc}\n{self.log_tail()}") from None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)  # graceful: the master stops its worker
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid) if self.process else []

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for name in ("stderr.log", "error.log"):
            try:
                out += (self.directory / name).read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                pass
        return "\n".join(out) or "(no log)"


class _TimedList(list):
    """A list that notes when each item was appended (the mailbox's arrival times)."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def append(self, item) -> None:
        self.times.append(time.monotonic())
        super().append(item)


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 whose DATA handler can sleep ``delay`` seconds (the tests' helper)."""

    def __init__(self, delay: float = 0.0):
        from .mailbox import SmtpServer as _Server

        self._server = _Server(delay=delay)
        self.port = self._server.port
        self.mailbox = self._server.mailbox
        self.mailbox.messages = _TimedList()  # the handler appends each mail once its DATA is accepted
        self._started = False

    def __enter__(self) -> SmtpServer:
        self._server.__enter__()
        self._started = True
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            self._started = False
            self._server.__exit__(*exc)

    def arrivals(self) -> dict[str, float]:
        """Recipient address -> monotonic time its first mail arrived."""
        messages, times = list(self.mailbox.messages), list(self.mailbox.messages.times)
        found: dict[str, float] = {}
        for message, at in zip(messages, times, strict=False):
            found.setdefault(str(message["To"]).strip().lower(), at)
        return found


class OutboxWorker:
    """``flask --app wsgi outbox send --loop`` running as its own process (the mail worker of a
    deployment), stopped on exit; used by the scale-out bench and the fault tests."""

    def __init__(self, env: dict[str, str], log_path: Path, interval: float = 0.1):
        self.env, self.log_path, self.interval = env, log_path, interval
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> OutboxWorker:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "outbox", "send", "--loop", "--interval", str(self.interval)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def __exit__(self, *exc) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # in case a test held it (SIGSTOP) and then failed
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sent_total(self) -> int:
        """The sum of the "outbox: N sent, M failed" lines the worker printed."""
        return sum(int(line.split()[1]) for line in self.output().splitlines() if line.startswith("outbox: "))
