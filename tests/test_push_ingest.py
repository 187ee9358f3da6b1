"""POST /signals on the real app behind waitress: the token, precise 422s, exactly-once storage,
an answer as soon as the signals are stored, and delivery by the worker like polled signals."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fake_slack import FakeSlack
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.app import Services, build_services
from bot.config import Settings
from bot.jobs import build_scheduler
from bot.store.db import transaction
from bot.store.models import Delivery, SourceState, StoredSignal
from bot.store.subscriptions import ChannelRef, add_subscription

TOKEN = "push-secret"  # conftest's settings
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = {
    "title": "Meta ships Muse Spark",
    "published": "2026-04-23",
    "key": "ms-1",
    "entity": "Meta",
    "topic": "AI Advances",
    "summary": "A closed model.",
    "sections": [{"heading": "The News", "body": "It shipped."}],
}


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Mapping[str, str]
    body: Any

    def json(self) -> Any:
        return self.body


@pytest.fixture
def app_client(services: Services) -> FlaskClient:
    """The same WSGI app without a server, for the many small request/response checks."""
    from bot.web import create_app

    return create_app(services).test_client()


def push(target: str | FlaskClient, body: Any, headers: dict[str, str] | None = None) -> Answer:
    """POST /signals to the real server (a URL) or straight to the app (a test client)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    merged = {"Content-Type": "application/json", **(AUTH if headers is None else headers)}
    if isinstance(target, str):
        response = httpx.post(f"{target}/signals", content=content, headers=merged, timeout=10)
        return Answer(response.status_code, response.headers, response.json())
    answer = target.post("/signals", data=content, headers=merged)
    return Answer(answer.status_code, answer.headers, answer.get_json())


def count(services: Services, model: type[Any]) -> int:
    with transaction(services.sessions) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def subscribe_all(services: Services, channel: str = "C0AI") -> None:
    with transaction(services.sessions) as session:
        add_subscription(session, ChannelRef(channel_id=channel), "all")


UNAUTHORIZED = {
    "none": {},
    "wrong": {"Authorization": "Bearer wrong"},
    "not-bearer": {"Authorization": f"Basic {TOKEN}"},
    "empty": {"Authorization": ""},
    "scheme-only": {"Authorization": "Bearer"},
    "token-only": {"Authorization": TOKEN},
    "10-kb": {"Authorization": "Bearer " + "x" * 10_240},
    "non-ascii": {"Authorization": "Bearer push-sécret"},
    "non-ascii-scheme": {"Authorization": f"Bëarer {TOKEN}"},
    "control-bytes": {"Authorization": "Bearer \x00\x7f"},
}


@pytest.mark.parametrize("headers", UNAUTHORIZED.values(), ids=UNAUTHORIZED.keys())
def test_without_the_token_401_and_nothing_stored(
    services: Services, app_client: FlaskClient, headers: dict[str, str]
) -> None:
    response = push(app_client, GOOD, headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(services, StoredSignal) == 0


@pytest.mark.parametrize(
    "raw_header",
    [b"Bearer push-s\xc3\xa9cret", b"Bearer \xff\xfe", b"Bearer " + b"\xe2\x98\x83" * 3000],
    ids=["utf-8", "invalid-utf-8", "10-kb-non-ascii"],
)
def test_non_ascii_bytes_on_the_wire_get_401_not_500(
    services: Services, web_url: str, raw_header: bytes
) -> None:
    headers = [(b"Authorization", raw_header), (b"Content-Type", b"application/json")]

    response = httpx.post(f"{web_url}/signals", content=json.dumps(GOOD).encode(), headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": "missing or wrong bearer token"}
    assert count(services, StoredSignal) == 0


def test_a_good_signal_is_stored_and_queued_exactly_once(
    services: Services, web_url: str, slack: FakeSlack
) -> None:
    subscribe_all(services)

    first = push(web_url, GOOD)
    again = push(web_url, GOOD)

    assert first.status_code == 202
    assert len(first.json()["new"]) == 1
    assert first.json()["queued"] == 1
    assert again.status_code == 202
    assert again.json() == {"stored": [], "new": [], "revised": [], "unchanged": 1, "queued": 0}
    assert (count(services, StoredSignal), count(services, Delivery)) == (1, 1)
    assert delivery_states(services) == ["pending"], "queued for the worker, not sent"
    assert slack.calls("chat.postMessage") == []


def delivery_states(services: Services) -> list[str]:
    with transaction(services.sessions) as session:
        return list(session.scalars(select(Delivery.state)))


def test_a_changed_signal_is_a_revision_not_a_second_brief(
    services: Services, app_client: FlaskClient
) -> None:
    push(app_client, GOOD)
    revised = push(app_client, {**GOOD, "summary": "A closed model, now priced."})

    assert revised.status_code == 202
    assert len(revised.json()["revised"]) == 1
    assert count(services, StoredSignal) == 1


def test_a_list_is_ingested_in_one_go(services: Services, app_client: FlaskClient) -> None:
    batch = [{**GOOD, "key": f"k{n}", "title": f"Brief {n}"} for n in range(3)]

    response = push(app_client, batch)

    assert response.status_code == 202
    assert len(response.json()["new"]) == 3


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"published": "2026-04-23"}, ["title"]),
        ({**GOOD, "published": "someday"}, ["published"]),
        ({**GOOD, "url": "javascript:alert(1)"}, ["url"]),
        (
            {**GOOD, "sections": [{"heading": "", "body": 3}]},
            ["sections[0].heading", "sections[0].body"],
        ),
        (
            [GOOD, {"title": "x"}, {**GOOD, "published": 20260423}],
            ["[1].published", "[2].published"],
        ),
        ("just a string", ["(body)"]),
    ],
    ids=["no-title", "bad-date", "bad-url", "bad-section", "list", "not-an-object"],
)
def test_bad_bodies_get_422_naming_every_bad_field(
    services: Services, app_client: FlaskClient, body: Any, fields: list[str]
) -> None:
    response = push(app_client, body)

    assert response.status_code == 422
    problems = response.json()["problems"]
    assert [problem["field"] for problem in problems] == fields
    assert all(problem["problem"] for problem in problems)
    assert count(services, StoredSignal) == 0, "one bad item rejects the whole body"


@pytest.mark.parametrize(
    ("body", "detail"),
    [(b"", "send a signal"), (b'{"title": ', "line 1, column 11"), (b"\xff\xfe", "not UTF-8")],
    ids=["empty", "truncated", "binary"],
)
def test_unreadable_bodies_get_422_saying_where(
    app_client: FlaskClient, body: bytes, detail: str
) -> None:
    response = push(app_client, body)

    assert response.status_code == 422
    assert detail in response.json()["problems"][0]["problem"]


def test_json_is_read_whatever_the_content_type_says(app_client: FlaskClient) -> None:
    response = push(app_client, GOOD, {**AUTH, "Content-Type": "text/plain"})
    assert response.status_code == 202
    assert len(response.json()["new"]) == 1


def test_an_oversized_body_gets_413(app_client: FlaskClient) -> None:
    response = push(app_client, b"[" + b" " * (6 * 1024 * 1024) + b"]")
    assert response.status_code == 413
    assert "bytes" in response.json()["error"]


def test_concurrent_pushes_of_one_key_store_it_once(services: Services, web_url: str) -> None:
    subscribe_all(services)
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: push(web_url, GOOD), range(8)))

    assert [r.status_code for r in responses] == [202] * 8
    assert sum(len(r.json()["new"]) for r in responses) == 1
    assert (count(services, StoredSignal), count(services, Delivery)) == (1, 1)


def test_pushes_show_in_source_health(services: Services, web_url: str) -> None:
    push(web_url, [GOOD, {**GOOD, "key": "ms-2"}])

    with transaction(services.sessions) as session:
        state = session.get(SourceState, "push")
        assert state is not None
        assert (state.kind, state.items_seen, state.items_new) == ("push", 2, 2)
    health = httpx.get(f"{web_url}/healthz").json()
    assert any(source["name"] == "push" for source in health["sources"])


def test_a_pushed_signal_is_posted_by_the_worker_like_a_polled_one(
    services: Services, web_url: str, slack: FakeSlack
) -> None:
    slack.add_channel("C0AI", "ai-news")
    subscribe_all(services)

    answer = push(web_url, GOOD)
    posted_during_the_request = slack.calls("chat.postMessage")
    scheduler = build_scheduler(services)
    scheduler.start()
    try:
        slack.wait_for_calls("chat.postMessage", 1, timeout=10)
    finally:
        scheduler.shutdown(wait=True)

    assert answer.status_code == 202
    assert posted_during_the_request == []
    assert delivery_states(services) == ["sent"]
    (post,) = slack.calls("chat.postMessage")
    assert post.params["channel"] == "C0AI"
    assert post.params["metadata"]["event_payload"] == {"signal_key": "ms-1"}


def test_push_is_off_without_a_token(settings: Settings) -> None:
    from bot.web import create_app

    services = build_services(settings.model_copy(update={"signal_ingest_token": None}))
    client = create_app(services).test_client()

    response = client.post("/signals", json=GOOD, headers=AUTH)

    assert response.status_code == 404
    assert "SIGNAL_INGEST_TOKEN" in response.get_json()["error"]
    services.engine.dispose()
