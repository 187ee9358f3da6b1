"""End-to-end `/brief` load: the real `signal-bot web` process, signed requests, N clients.

The server runs in its own process (as in production, behind waitress); the clients are threads
of this one, each with a keep-alive connection, sending slash commands signed as Slack signs them.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "bench-signing-secret"
WORKING_ON_IT = "Working on it"


@dataclass(frozen=True)
class LoadResult:
    requests: int
    concurrency: int
    latencies_ms: list[float]
    answered: int
    deferred: int
    errors: int
    per_second: float


def slash_load(
    database: Path, queries: list[str], *, requests: int, concurrency: int
) -> LoadResult:
    """Send `requests` signed `/brief` commands from `concurrency` clients; time each one."""
    port = _free_port()
    slack = _FakeSlackApi()
    server = _start_server(database, port, slack.base_url)
    try:
        _wait_until_serving(port)
        response_url = slack.base_url.replace("/api/", "/response")
        _run_clients(port, queries, concurrency, max(requests // 10, 1), response_url)  # warm-up
        started = time.perf_counter()
        outcomes = _run_clients(port, queries, concurrency, requests, response_url)
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
        slack.stop()
    latencies = [latency for latency, _ in outcomes]
    kinds = [kind for _, kind in outcomes]
    return LoadResult(
        requests=len(outcomes),
        concurrency=concurrency,
        latencies_ms=latencies,
        answered=kinds.count("answered"),
        deferred=kinds.count("deferred"),
        errors=kinds.count("error"),
        per_second=len(outcomes) / elapsed,
    )


def _start_server(database: Path, port: int, slack_api_url: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "PORT": str(port),
    }
    environment.pop("SLACK_APP_TOKEN", None)
    command = [sys.executable, "-m", "bot", "web"]
    return subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)


def _wait_until_serving(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"signal-bot web did not start on port {port}")


def _run_clients(
    port: int, queries: list[str], concurrency: int, requests: int, response_url: str
) -> list[tuple[float, str]]:
    outcomes: list[tuple[float, str]] = []
    lock = threading.Lock()
    shares = [
        requests // concurrency + (1 if n < requests % concurrency else 0)
        for n in range(concurrency)
    ]

    def client(number: int, count: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for sent in range(count):
            query = queries[(number * 7 + sent) % len(queries)]
            outcome = _send(connection, query, response_url)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n, shares[n])) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _send(
    connection: http.client.HTTPConnection, query: str, response_url: str
) -> tuple[float, str]:
    body = urlencode(
        {
            "command": "/brief",
            "text": query,
            "team_id": "T0BENCH",
            "channel_id": "C0BENCH",
            "channel_name": "bench",
            "user_id": "U0BENCH",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    ).encode()
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": str(signature),
    }
    started = time.perf_counter()
    connection.request("POST", "/slack/events", body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    latency = (time.perf_counter() - started) * 1000
    if response.status != 200:
        return latency, "error"
    text = str(json.loads(payload).get("text", ""))
    return latency, "deferred" if WORKING_ON_IT in text else "answered"


class _FakeSlackApi:
    """Answers Bolt's one `auth.test`, and any response_url post, with `{"ok": true}`."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _OkHandler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _OkHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"ok": True, "user_id": "UBOT", "team_id": "T0BENCH", "bot_id": "B0"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
