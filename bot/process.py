"""How a long-running process serves and stops.

`serving` runs the HTTP app (waitress, on $PORT) and, with SLACK_APP_TOKEN, the Socket Mode
connection beside it: Socket Mode carries Slack's requests, HTTP still serves /healthz, /metrics
and POST /signals. SIGTERM (or Ctrl-C) stops claiming, lets the posts in flight finish (at most
STOP_BUDGET seconds), releases the worker's leases and returns, so that the process exits 0 and
another worker takes over at once, with nothing lost or doubled."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

from apscheduler.schedulers.base import BaseScheduler
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from waitress.server import create_server

from bot import metrics
from bot.app import Services
from bot.errors import ConfigError
from bot.jobs import release_leases

log = logging.getLogger(__name__)

STOP_BUDGET = 10.0  # seconds the posts in flight get to finish
# Waitress's threads, each holding one request while it waits for its answer; the answers
# themselves are computed by the Bolt app's own workers (bot.slack_app), so a waiting
# thread costs no CPU. Enough for a burst of Slack requests to wait in that queue, where
# the 2 s answer budget counts the wait, rather than in waitress's (which does not, and
# logs a warning for each request queued there).
HTTP_THREADS = 32


class StopRequest(threading.Event):
    """Set by SIGTERM or SIGINT. Waiting for it wakes up now and then: Python runs a signal's
    handler in the main thread, at its next bytecode, and when the signal was delivered to
    another thread, a main thread blocked in a plain wait() would never get there."""

    SIGNAL_CHECK_SECONDS = 0.25

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            return super().wait(timeout)
        while not super().wait(self.SIGNAL_CHECK_SECONDS):
            pass
        return True


def stop_requested() -> StopRequest:
    """An event set by the first SIGTERM or SIGINT (a second one of either kills at once)."""
    stop = StopRequest()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise SystemExit(128 + signum)
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    return stop


@contextlib.contextmanager
def serving(
    services: Services,
    scheduler_running: Callable[[], bool] | None,
    *,
    slack_listener: Literal["http", "auto"] = "auto",
    listener: socket.socket | None = None,
) -> Iterator[Any]:
    """The HTTP server on $PORT, or on `listener` (a socket bound by a parent process), and
    Socket Mode if configured and `auto`, until the block ends; yields the HTTP server."""
    from bot.web import create_app, socket_mode_handler

    settings = services.settings
    app = create_app(services, scheduler_running=scheduler_running)
    where: dict[str, Any] = (
        {"sockets": [listener]} if listener else {"host": "0.0.0.0", "port": settings.port}
    )
    server = create_server(app, threads=HTTP_THREADS, **where)
    thread = threading.Thread(target=_serve_until_closed, args=[server], name="http", daemon=True)
    thread.start()
    log.info("serving HTTP on port %s", server.effective_port)
    socket_mode = socket_mode_handler(services) if slack_listener == "auto" else None
    try:
        if socket_mode is not None:
            _connect(socket_mode)
        yield server
    finally:
        if socket_mode is not None:
            socket_mode.close()  # type: ignore[no-untyped-call]
        server.close()
        thread.join(timeout=5)


def spare_the_collector() -> None:
    """For a process that only serves: what start-up built (modules, the app, its templates,
    SQLAlchemy's caches) lives as long as the process, so it leaves the cyclic collector's
    generations. Full collections under load then walk only what requests left behind, instead
    of pausing every thread for tens of milliseconds. Reference counting still frees it."""
    gc.collect()
    gc.freeze()


def _connect(socket_mode: SocketModeHandler) -> None:
    try:
        socket_mode.connect()  # type: ignore[no-untyped-call]  # slack-bolt leaves it bare
    except SlackApiError as error:
        code = error.response.get("error")
        raise ConfigError(f"Slack refused SLACK_APP_TOKEN for Socket Mode ({code})") from error
    log.info("connected to Slack in Socket Mode")


def _serve_until_closed(server: Any) -> None:
    # server.close() pulls the socket from under waitress's loop: that OSError is the stop.
    with contextlib.suppress(OSError):
        server.run()


def stop_gracefully(services: Services, scheduler: BaseScheduler | None) -> None:
    """Stop claiming, wait (within the budget) for the posts in flight, release the leases.
    Past the budget, the process ends at once: threads still waiting on Slack would otherwise
    hold up the interpreter's exit."""
    services.deliverer.close()
    log.info("stopped claiming: finishing the posts in flight")
    stuck = False
    if scheduler is not None and scheduler.running:
        finishing = threading.Thread(
            target=scheduler.shutdown, kwargs={"wait": True}, name="stop", daemon=True
        )
        finishing.start()
        finishing.join(STOP_BUDGET)
        if stuck := finishing.is_alive():
            log.warning(
                "posts still in flight after %.0f s: leaving them to be reconciled "
                "(the channel's history is read before any is sent again)",
                STOP_BUDGET,
            )
    try:
        release_leases(services)
    except Exception:  # the database may be gone; the leases then simply run out
        log.exception("releasing the worker's leases failed")
    metrics.process_exited()
    log.info("stopped")
    if stuck:
        logging.shutdown()
        os._exit(0)  # the rows still claimed are reconciled by the next worker
