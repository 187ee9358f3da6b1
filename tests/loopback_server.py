"""The HTTP server under the test doubles (fake Slack, feed publisher): 127.0.0.1, a free port,
a thread per connection, and a stop that leaves no thread behind.

A client hanging up (httpx at its size limit, a pooled connection closed) is normal and silent.
Any other error in a handler is kept and raised by `stop()`, instead of being printed from a
background thread into whichever test happens to be running, and instead of a thread still
formatting a traceback after its test is over: on Python 3.11, two threads building tracebacks
at once can corrupt the interpreter's shared AST state ("AST constructor recursion depth
mismatch"), which pytest then reports as an INTERNALERROR.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """`server.start()` ... `server.stop()`; handler threads end before `stop()` returns."""

    daemon_threads = False
    block_on_close = True  # server_close() joins every handler thread
    request_queue_size = 256  # a concurrent fan-out opens many connections at once

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.handler_errors: list[BaseException] = []
        self._open: set[socket.socket] = set()
        self.stopping = threading.Event()  # a handler that waits on purpose waits on this
        self._lock = threading.Lock()
        self._serving = threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True)

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def start(self) -> None:
        self._serving.start()

    def stop(self) -> None:
        """Stop accepting, hang up on open connections, wait for every handler to end."""
        self.shutdown()
        self.stopping.set()
        with self._lock:
            for connection in self._open:
                _hang_up(connection)
        self.server_close()
        self._serving.join()
        if self.handler_errors:
            raise AssertionError(f"the loopback server failed: {self.handler_errors!r}")

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self.stopping.is_set():
                _hang_up(request)
            self._open.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._lock:
                self._open.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError | TimeoutError):
            self.handler_errors.append(error)


def _hang_up(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
