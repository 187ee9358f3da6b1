"""End-to-end `/brief` load: the real `signal-bot web` process, signed requests, N clients.

The server runs in its own process(es), started as a user starts it (`signal-bot web`, with the
environment a user sets). The clients are asyncio tasks of this process, each on its own
keep-alive connection, writing raw HTTP/1.1: the load generator spends a few hundred microseconds
of CPU a request, so on a 2-core machine nearly all of the CPU is the server's. Every request is
signed exactly as Slack signs it (v0 HMAC-SHA256 of `v0:timestamp:body`, fresh timestamp).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

SIGNING_SECRET = "bench-signing-secret"
WORKING_ON_IT = "Working on it"


@dataclass(frozen=True)
class LoadResult:
    label: str
    requests: int
    concurrency: int
    latencies_ms: list[float]
    answered: int
    deferred: int
    errors: int
    per_second: float
    server_cpu_ms_per_request: float
    client_cpu_ms_per_request: float
    load_average: tuple[float, float, float]


def slash_load(
    database: Path,
    queries: list[str],
    *,
    requests: int,
    concurrency: int,
    environment: Mapping[str, str] | None = None,
    label: str = "shipped defaults",
) -> LoadResult:
    """Send `requests` signed `/brief` commands from `concurrency` clients; time each one.

    `environment` adds settings for the server (e.g. SIGNAL_BOT_WEB_WORKERS), as a user sets them.
    """
    port = _free_port()
    slack = _FakeSlackApi()
    server = _start_server(database, port, slack.base_url, environment or {})
    try:
        _wait_until_serving(port, server)
        response_url = slack.base_url.replace("/api/", "/response")
        warm_up = max(requests // 5, concurrency * 2)
        asyncio.run(_run_clients(port, queries, concurrency, warm_up, response_url))
        server_cpu = _process_tree_cpu_seconds(server.pid)
        client_cpu = time.process_time()
        started = time.perf_counter()
        outcomes = asyncio.run(_run_clients(port, queries, concurrency, requests, response_url))
        elapsed = time.perf_counter() - started
        server_cpu = _process_tree_cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        load_average = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=20)
        slack.stop()
    kinds = [kind for _, kind in outcomes]
    return LoadResult(
        label=label,
        requests=len(outcomes),
        concurrency=concurrency,
        latencies_ms=[latency for latency, _ in outcomes],
        answered=kinds.count("answered"),
        deferred=kinds.count("deferred"),
        errors=kinds.count("error"),
        per_second=len(outcomes) / elapsed,
        server_cpu_ms_per_request=server_cpu * 1000 / len(outcomes),
        client_cpu_ms_per_request=client_cpu * 1000 / len(outcomes),
        load_average=load_average,
    )


def _start_server(
    database: Path, port: int, slack_api_url: str, settings: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "PORT": str(port),
        **settings,
    }
    environment.pop("SLACK_APP_TOKEN", None)
    command = [sys.executable, "-m", "bot", "web"]
    return subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)


def _wait_until_serving(port: int, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"signal-bot web exited with status {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"signal-bot web did not start on port {port}")


def _process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of the process and its live children (the workers), from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for each in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_children(child)]
    return found


async def _run_clients(
    port: int, queries: list[str], concurrency: int, requests: int, response_url: str
) -> list[tuple[float, str]]:
    outcomes: list[tuple[float, str]] = []
    shares = [
        requests // concurrency + (1 if n < requests % concurrency else 0)
        for n in range(concurrency)
    ]

    async def client(number: int, count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for sent in range(count):
                query = queries[(number * 7 + sent) % len(queries)]
                outcomes.append(await _send(reader, writer, port, query, response_url))
        finally:
            writer.close()

    await asyncio.gather(*(client(n, shares[n]) for n in range(concurrency)))
    return outcomes


def slash_command_request(port: int, query: str, response_url: str) -> bytes:
    """One `/brief QUERY` as Slack sends it: form body, signed with a fresh timestamp."""
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
    base = b"v0:" + timestamp.encode() + b":" + body
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


async def _send(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    port: int,
    query: str,
    response_url: str,
) -> tuple[float, str]:
    started = time.perf_counter()
    writer.write(slash_command_request(port, query, response_url))
    head = await reader.readuntil(b"\r\n\r\n")
    status, length = _status_and_length(head)
    payload = await reader.readexactly(length)
    latency = (time.perf_counter() - started) * 1000
    if status != 200:
        return latency, "error"
    text = str(json.loads(payload).get("text", ""))
    return latency, "deferred" if WORKING_ON_IT in text else "answered"


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return status, int(value)
    raise RuntimeError(f"no Content-Length in the answer: {lines[0]}")


class _FakeSlackApi:
    """Answers Bolt's `auth.test` (each worker's first requests ask at once), and any
    response_url post, with `{"ok": true}`."""

    def __init__(self) -> None:
        self.server = _ManyAtOnce(("127.0.0.1", 0), _OkHandler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _ManyAtOnce(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 resets the rest of a burst


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


if __name__ == "__main__":  # quick runs: python slash_load.py DB REQUESTS [KEY=VALUE…]
    from bench_search import QUERY_MIX, report_load

    settings = dict(pair.split("=", 1) for pair in sys.argv[3:])
    report_load(
        slash_load(
            Path(sys.argv[1]),
            list(QUERY_MIX),
            requests=int(sys.argv[2]),
            concurrency=20,
            environment=settings,
            label=" ".join(sys.argv[3:]) or "shipped defaults",
        )
    )
