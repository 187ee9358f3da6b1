"""A fake Slack Web API on 127.0.0.1 that the real slack-sdk WebClient talks to over HTTP.

Setup and assertion helpers (channels, faults, recorded calls) are in fake_slack_state.SlackState.
"""

import json
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qsl

from fake_slack_state import Call, JsonDict, Reply, SlackState
from loopback_server import LoopbackServer

__all__ = ["Call", "FakeSlack", "read_by_slack"]

# In a form post these are JSON strings; slack-sdk posts chat.postMessage, chat.update and
# chat.postEphemeral as JSON bodies, where they are real lists and dicts. Accept both.
JSON_ENCODED_FIELDS = ("blocks", "attachments", "metadata", "view")


def parse_api_params(query: str, body: bytes, content_type: str) -> JsonDict | None:
    """Query string plus form or JSON body; None when a JSON body is not a JSON object."""
    params: JsonDict = dict(parse_qsl(query))
    if content_type.startswith("application/json"):
        decoded = decode_json(body or b"{}")
        if not isinstance(decoded, dict):
            return None
        params.update(decoded)
    else:
        params.update(parse_qsl(body.decode()))
    for key in JSON_ENCODED_FIELDS:
        if isinstance(params.get(key), str):
            params[key] = decode_json(params[key], default=params[key])
    return params


def decode_json(raw: str | bytes, default: object = None) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return default  # an undecodable field stays a string, for validation to refuse


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fake = self.server.fake
        if path.startswith("/api/"):
            params = parse_api_params(query, body, self.headers.get("Content-Type", ""))
            reply = fake.answer(path.removeprefix("/api/"), params, dict(self.headers.items()))
        elif path.startswith("/response/") and isinstance(payload := decode_json(body), dict):
            reply = fake.record_response(path.removeprefix("/response/"), payload)
        else:
            reply = Reply({"ok": False, "error": "invalid_request"}, status=400)
        fake.wait_to_answer(path.removeprefix("/api/"))
        time.sleep(fake.latency)
        self._send(reply)

    do_GET = do_POST  # slack-sdk POSTs everything, but a GET with a query string is fine too

    def _send(self, reply: Reply) -> None:
        encoded = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(encoded)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


class _Server(LoopbackServer):
    def __init__(self, fake: "FakeSlack") -> None:
        super().__init__(_Handler)
        self.fake = fake


def read_by_slack(app: Callable[..., Iterable[bytes]], fake: "FakeSlack") -> Callable[..., Any]:
    """The app's WSGI answers to Slack's requests (/slack/events: a slash command's or a
    button's HTTP response body) checked as Slack checks them; a refusal is recorded in `fake`."""

    def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/slack/events":
            return app(environ, start_response)
        answer = app(environ, start_response)
        try:
            body = b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        if isinstance(payload := decode_json(body or b"null"), dict):
            fake.check_app_answer(payload)
        return [body]

    return checked


class FakeSlack(SlackState):
    """`with FakeSlack() as slack:` serves a fake workspace at `slack.base_url`."""

    _server: "_Server | None" = None

    def __init__(self) -> None:
        super().__init__()
        self._held: dict[str, threading.Event] = {}

    def start(self) -> Self:
        self._server = _Server(self)
        self._server.start()
        return self

    def stop(self) -> None:
        for method in list(self._held):
            self.release_answers(method)
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()

    def hold_answers(self, method: str) -> None:
        """Take each `method` call at once (recorded, acted on) but answer it only after
        `release_answers`: a Slack slower than any budget, without betting on a duration."""
        self._held[method] = threading.Event()

    def release_answers(self, method: str) -> None:
        if held := self._held.pop(method, None):
            held.set()

    def wait_to_answer(self, method: str) -> None:
        if held := self._held.get(method):
            held.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/"

    def response_url(self, tag: str = "x") -> str:
        return f"{self.root_url}/response/{tag}"
