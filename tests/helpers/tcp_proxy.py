"""A small threaded TCP relay the tests put between the app and PostgreSQL, to take the database
"down" without touching the shared server.

``cut()`` closes every relayed connection and stops listening, so new connections are refused,
as while a database server restarts; ``restore()`` listens again on the same port.
``cut_when(marker)`` cuts at the moment the client sends bytes containing ``marker`` (e.g. an SQL
statement), which breaks a connection in the middle of a request, deterministically.
"""

from __future__ import annotations

import socket
import threading

CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._marker: bytes | None = None

    def __enter__(self) -> TcpProxy:
        self.restore()
        return self

    def __exit__(self, *exc) -> None:
        self.cut()

    def restore(self) -> None:
        """Listen (again) on our port; connections are relayed to the target."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            listener.settimeout(0.05)  # the accept loop notices a cut within this
            self.port = listener.getsockname()[1]
            self._listener = listener
            self._accepting = threading.Thread(
                target=self._accept, args=(listener,), name="tcp-proxy-accept", daemon=True
            )
            self._accepting.start()

    def cut(self) -> None:
        """Close every connection and stop listening: new connections are refused."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
            accepting, self._accepting = self._accepting, None
            self._marker = None
        if listener is not None:
            listener.close()
        if accepting is not None:
            accepting.join(5)  # until then its accept() keeps the port listening
        for sock in sockets:
            _close(sock)

    def cut_when(self, marker: bytes) -> None:
        """Cut as soon as a client sends ``marker`` (the bytes are not passed on)."""
        self._marker = marker

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by cut()
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while we connected
                    _close(client)
                    _close(upstream)
                    return
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                marker = self._marker
                if from_client and marker is not None and marker in data:
                    self.cut()
                    return
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._sockets.discard(source)
            self._sockets.discard(sink)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv() on it
    except OSError:
        pass
    sock.close()
