"""`signal-bot run` in Socket Mode, as a real process: Slack's end of the WebSocket is a
loopback server (the `websockets` package) reached through apps.connections.open on the fake
Slack. Slash commands arrive as envelopes and are acked (same envelope_id) with the reply; the
app reconnects when the socket drops; /healthz, /metrics and POST /signals still answer on
$PORT."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BOT_TOKEN, run_cli
from fake_slack import FakeSlack
from served_port import ANY_PORT, served_port
from test_workers import wait_until
from websockets.sync.server import Server, ServerConnection, serve

from bot.app import Services

# Slack wants an envelope acked within 3 s; how fast the app acks is a figure for a benchmark,
# not a limit a test on a loaded machine can assert. The test waits for the ack itself.
ACK_DEADLINE = 60.0


class SlackSocketEnd:
    """Slack's side of Socket Mode on 127.0.0.1: says hello to each connection, sends the
    envelopes it is given, and queues what the app sends back."""

    def __init__(self) -> None:
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connections = 0
        self._current: ServerConnection | None = None
        self._server: Server | None = None

    def __enter__(self) -> SlackSocketEnd:
        self._server = serve(self._session, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/?ticket=loopback"

    def _session(self, connection: ServerConnection) -> None:
        self._current = connection
        self.connections += 1
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        for message in connection:
            self.acks.put(json.loads(message))

    def send(self, envelope: dict[str, Any]) -> None:
        assert self._current is not None
        self._current.send(json.dumps(envelope))

    def drop(self) -> None:
        assert self._current is not None
        self._current.close()

    def ack_of(self, envelope_id: str) -> dict[str, Any]:
        """The app's ack of an envelope (fails when none came within ACK_DEADLINE)."""
        deadline = time.monotonic() + ACK_DEADLINE
        while True:
            try:
                message = self.acks.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"{envelope_id} not acked within {ACK_DEADLINE}s") from None
            if message.get("envelope_id") == envelope_id:
                return message


def slash_envelope(envelope_id: str, command: str, text: str, slack: FakeSlack) -> dict[str, Any]:
    payload = {
        "token": "legacy",
        "team_id": "T0FAKE",
        "team_domain": "fake",
        "channel_id": "C0SOCK",
        "channel_name": "socket",
        "user_id": "U123",
        "user_name": "someone",
        "command": command,
        "text": text,
        "api_app_id": "A0FAKE",
        "response_url": slack.response_url("socket"),
        "trigger_id": "1.2.3",
    }
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": payload,
    }


@pytest.fixture
def socket_end(slack: FakeSlack) -> Iterator[SlackSocketEnd]:
    with SlackSocketEnd() as end:
        slack.socket_mode_url = end.url
        yield end


@pytest.fixture
def running_bot(
    services: Services, slack: FakeSlack, socket_end: SlackSocketEnd, tmp_path: Path
) -> Iterator[str]:
    """`signal-bot run` with SLACK_APP_TOKEN; yields its HTTP base URL."""
    environment = {
        **os.environ,
        "DATABASE_URL": services.settings.database_url.get_secret_value(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": "xapp-1-loopback",
        "SLACK_API_URL": slack.base_url,
        "SIGNAL_BOT_CONFIG": str(services.settings.signal_bot_config),
        "SIGNAL_INGEST_TOKEN": "push-secret",
        "PORT": ANY_PORT,
    }
    environment.pop("SLACK_SIGNING_SECRET", None)
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=environment,
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        # A generous deadline: a cold start under a loaded machine has taken 30 s; a child
        # that died stops the wait at once.
        wait_until(
            lambda: socket_end.connections == 1 or process.poll() is not None,
            120,
            "the Socket Mode connection",
        )
        assert process.poll() is None, "signal-bot run exited before connecting"
        yield f"http://127.0.0.1:{served_port(log, process)}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        print(log.read_text(errors="replace")[-4000:])


@pytest.mark.slow
def test_socket_mode_acks_commands_serves_http_and_reconnects(
    running_bot: str, socket_end: SlackSocketEnd, slack: FakeSlack
) -> None:
    socket_end.send(slash_envelope("env-1", "/signals", "help", slack))
    ack = socket_end.ack_of("env-1")
    assert "subscribe" in json.dumps(ack["payload"])
    assert ack["payload"]["response_type"] == "ephemeral"
    assert [c.headers.get("Authorization") for c in slack.calls("apps.connections.open")] == [
        "Bearer xapp-1-loopback"
    ]

    health = httpx.get(f"{running_bot}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["slack"]["mode"] == "socket"
    assert "signal_bot_deliveries_total" in httpx.get(f"{running_bot}/metrics", timeout=10).text
    brief = {"title": "Socket brief", "published": "2026-04-23", "key": "sock-1"}
    pushed = httpx.post(
        f"{running_bot}/signals",
        json=brief,
        headers={"Authorization": "Bearer push-secret"},
        timeout=10,
    )
    assert pushed.status_code in (201, 202)

    socket_end.drop()
    wait_until(lambda: socket_end.connections == 2, 120, "a new connection after the drop")
    assert len(slack.calls("apps.connections.open")) == 2
    socket_end.send(slash_envelope("env-2", "/brief", "socket", slack))
    ack = socket_end.ack_of("env-2")
    assert "Socket brief" in json.dumps(ack["payload"])


def test_a_refused_app_token_is_a_one_line_error(
    services: Services,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The fake answers apps.connections.open with not_allowed_token_type until given a URL.
    environment = {
        "DATABASE_URL": services.settings.database_url.get_secret_value(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": "xapp-1-wrong",
        "SLACK_API_URL": slack.base_url,
        "SIGNAL_BOT_CONFIG": str(services.settings.signal_bot_config),
        "PORT": ANY_PORT,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        code, _out, err = run_cli(capsys, "run")
    finally:  # `run` installed its own stop handlers in this (pytest's) process
        for signum, handler in handlers.items():
            signal.signal(signum, handler)

    assert code == 2
    assert "Slack refused SLACK_APP_TOKEN for Socket Mode (not_allowed_token_type)" in err
