"""Several `signal-bot web` processes on one port (`--workers N`, SIGNAL_BOT_WEB_WORKERS).

One process answers with one core at most (Python's GIL), so a host with more cores serves more
`/brief` requests at once with more processes. The parent applies pending migrations once, binds
the port, and starts each worker as a fresh `python -m bot web` that inherits the listening
socket (its descriptor in LISTEN_FD_VARIABLE). All of them accept from that one socket, so an
idle worker picks up the next connection while a busy one is still computing. The parent starts
a worker again if one dies. On SIGTERM it closes each worker's stdin, which tells the worker
to stop as on SIGTERM (a parent that dies unexpectedly closes it too, so workers never outlive
it, holding the port), and waits for each to finish.

Fresh interpreters rather than forks: no thread or database connection of the parent leaks into
a worker, and prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is imported, so each
worker must start with it set. Without one set, the parent makes a folder for the run, so that
any worker's /metrics adds up every worker's counters, and removes it at the end.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import multiprocess

from bot.config import Settings
from bot.errors import ConfigError
from bot.metrics import MULTIPROCESS_VARIABLE
from bot.process import STOP_BUDGET, StopRequest, stop_requested
from bot.store.db import make_engine, upgrade

log = logging.getLogger(__name__)

LISTEN_FD_VARIABLE = "SIGNAL_BOT_LISTEN_FD"  # set by the parent for its workers only
LISTEN_BACKLOG = 1024
MAX_WEB_WORKERS = 64  # as SIGNAL_BOT_WEB_WORKERS allows
# What `signal-bot` exits with when its configuration is wrong: starting again cannot help.
CONFIGURATION_STATUS = 2
# Workers that die this many times, each within EARLY_EXIT_SECONDS of starting, stop the parent.
EARLY_EXIT_SECONDS = 30.0
MAX_EARLY_EXITS = 5


def inherited_listener() -> socket.socket | None:
    """The listening socket a parent handed this worker, or None when started by a user."""
    descriptor = os.environ.get(LISTEN_FD_VARIABLE)
    if not descriptor:
        return None
    return socket.socket(fileno=int(descriptor))


def stop_with_parent(stop: threading.Event) -> None:
    """A worker stops when its parent closes the worker's stdin (or dies)."""

    def wait_for_end_of_input() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        stop.set()

    threading.Thread(target=wait_for_end_of_input, name="parent", daemon=True).start()


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class WorkerPool:
    """The parent's side: the socket, the workers, restarts and the stop."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.count = count
        self.listener = socket.create_server(("0.0.0.0", settings.port), backlog=LISTEN_BACKLOG)
        self.listener.set_inheritable(True)
        own_folder = not os.environ.get(MULTIPROCESS_VARIABLE)
        self.metrics_dir = (
            tempfile.mkdtemp(prefix="signal-bot-metrics-")
            if own_folder
            else os.environ[MULTIPROCESS_VARIABLE]
        )
        self._remove_metrics_dir = own_folder
        self.workers: list[_Worker] = []
        self.early_exits = 0

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def start(self) -> None:
        self.workers = [self._spawn() for _ in range(self.count)]
        log.info("serving HTTP on port %s with %d worker processes", self.port, self.count)

    def supervise(self, stop: StopRequest) -> None:
        """Until the stop: start a worker again whenever one has died."""
        while not stop.wait(StopRequest.SIGNAL_CHECK_SECONDS):
            for index, worker in enumerate(self.workers):
                if worker.process.poll() is not None:
                    self.workers[index] = self._replace(worker)

    def close(self) -> None:
        """Tell every worker to stop; each gets the stop budget, then is killed."""
        for worker in self.workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        deadline = time.monotonic() + STOP_BUDGET + 5
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("web worker %d did not stop in time: killed", worker.process.pid)
                worker.process.kill()
                worker.process.wait()
            self._forget(worker.process.pid)
        self.listener.close()
        if self._remove_metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _spawn(self) -> _Worker:
        environment = {
            **os.environ,
            LISTEN_FD_VARIABLE: str(self.listener.fileno()),
            MULTIPROCESS_VARIABLE: self.metrics_dir,
        }
        command = [sys.executable, "-m", "bot", "web"]
        fd = self.listener.fileno()
        process = subprocess.Popen(command, env=environment, pass_fds=(fd,), stdin=subprocess.PIPE)
        return _Worker(process)

    def _replace(self, dead: _Worker) -> _Worker:
        code = dead.process.returncode
        self._forget(dead.process.pid)
        if code == CONFIGURATION_STATUS:
            raise ConfigError("a web worker could not start: its reason is in the log above")
        if time.monotonic() - dead.started < EARLY_EXIT_SECONDS:
            self.early_exits += 1
            if self.early_exits >= MAX_EARLY_EXITS:
                raise ConfigError(
                    f"web workers keep exiting at start (last status {code}): see the log above"
                )
        log.error("web worker %d exited with status %s: starting another", dead.process.pid, code)
        return self._spawn()

    def _forget(self, pid: int) -> None:
        """A dead worker's live gauges leave the multi-process files."""
        multiprocess.mark_process_dead(pid, self.metrics_dir)  # type: ignore[no-untyped-call]


def serve_with_workers(settings: Settings, count: int) -> int:
    """The parent process of `signal-bot web --workers N` (N > 1)."""
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        upgrade(engine)  # once, here: workers start with migrate=False
    finally:
        engine.dispose()
    pool = WorkerPool(settings, count)
    stop = stop_requested()
    try:
        pool.start()
        pool.supervise(stop)
    finally:
        pool.close()
    log.info("stopped")
    return 0
