"""Multi-workspace mode end to end: two workspaces install the app through the OAuth flow
(oauth.v2.access on the loopback fake Slack), both subscribe to the same topic, and each brief
goes to each with its own token; one workspace's 429s or dead token never hold up the other."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from conftest import (
    BOT_TOKEN,
    SIGNING_SECRET,
    _serve_until_closed,
    clear_slack_environment,
    run_cli,
    wait_until,
)
from fake_slack import FakeSlack
from pydantic import SecretStr
from slack_signing import sign, slash_command_body
from sqlalchemy import select
from test_deliver import brief, publish
from waitress.server import create_server

from bot.app import Services, build_services
from bot.config import Settings
from bot.deliver.outcome import DeliveryLimits
from bot.store.db import transaction
from bot.store.models import Delivery
from bot.store.subscriptions import ChannelRef, add_subscription

CLIENT_ID, CLIENT_SECRET = "1111.2222", "oauth-client-secret"
TEAMS = {"TALPHA": "xoxb-alpha-token", "TBETA": "xoxb-beta-token"}
CHANNELS = {"TALPHA": "CALPHA", "TBETA": "CBETA"}
AUTH = {"Authorization": "Bearer push-secret"}
ASK_SLACK_AGAIN_EACH_RUN = DeliveryLimits(auth_check_every=timedelta(0))


def oauth_mode_settings(
    database_url: str, slack: FakeSlack, sources_file: Path, **more: object
) -> Settings:
    """Multi-workspace mode: no SLACK_BOT_TOKEN, OAuth credentials instead."""
    slack.allow_oauth(CLIENT_ID, CLIENT_SECRET)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_state_secret="state-signing-secret",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.base_url,
        database_url=database_url,
        signal_bot_config=sources_file,
        signal_ingest_token="push-secret",
        **more,
    )


@pytest.fixture
def installs(database_url: str, slack: FakeSlack, sources_file: Path) -> Iterator[Services]:
    settings = oauth_mode_settings(database_url, slack, sources_file)
    services = build_services(settings, delivery_limits=ASK_SLACK_AGAIN_EACH_RUN)
    yield services
    services.engine.dispose()


@contextmanager
def serving(services: Services) -> Iterator[str]:
    """The real web app behind waitress on loopback; its base URL."""
    from bot.web import create_app

    server = create_server(create_app(services), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=_serve_until_closed, args=[server], daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def app_url(installs: Services) -> Iterator[str]:
    with serving(installs) as url:
        yield url


def install(app_url: str, slack: FakeSlack, team: str, token: str | None = None) -> httpx.Response:
    """What a workspace admin does: open /slack/install, approve on Slack, come back."""
    with httpx.Client(base_url=app_url, timeout=10) as browser:
        page = browser.get("/slack/install")
        assert page.status_code == 200
        authorize = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
        assert authorize, page.text
        link = httpx.URL(authorize[1].replace("&amp;", "&"))
        assert link.params["client_id"] == CLIENT_ID
        assert "chat:write" in link.params["scope"]
        code = f"code-for-{team}" if token is None else f"code-for-{team}-{token}"
        slack.approve_install(code, team, token or TEAMS[team])
        # The state cookie is `Secure`: a browser sends it back to an https:// app (httpx, on
        # this plain-HTTP loopback, would not), so hand it back as the browser would.
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        state = {"code": code, "state": link.params["state"]}
        return browser.get("/slack/oauth_redirect", params=state, headers={"Cookie": cookie})


def slash(app_url: str, slack: FakeSlack, team: str, text: str) -> httpx.Response:
    body = slash_command_body(
        "/signals",
        text,
        channel_id=CHANNELS[team],
        team_id=team,
        response_url=slack.response_url(team),
    )
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{app_url}/slack/events", content=body, headers=headers, timeout=10)


def typed(app_url: str, slack: FakeSlack, team: str, user: str, text: str) -> str:
    """`/signals TEXT` typed by `user` in the team's channel; what the person reads."""
    tag = f"{team}-{user}-{len(slack.calls())}"
    body = slash_command_body(
        "/signals",
        text,
        channel_id=CHANNELS[team],
        team_id=team,
        user_id=user,
        response_url=slack.response_url(tag),
    )
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(f"{app_url}/slack/events", content=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    if response.content:
        return json.dumps(response.json(), ensure_ascii=False)
    return json.dumps(slack.wait_for_responses(1, tag=tag)[-1], ensure_ascii=False)


def event(app_url: str, team: str, event_type: str) -> httpx.Response:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": team,
            "api_app_id": "A0FAKE",
            "event_id": f"Ev{team}{event_type}",
            "event_time": int(time.time()),
            "event": {"type": event_type, "tokens": {"bot": [f"UBOT{team}"]}},
        }
    ).encode()
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/json"}
    return httpx.post(f"{app_url}/slack/events", content=body, headers=headers, timeout=10)


def push(app_url: str, key: str, services: Services) -> None:
    """POST /signals, then a delivery run, as the worker would make."""
    brief = {"title": f"Brief {key}", "published": "2026-04-23", "key": key, "topic": "AI Advances"}
    response = httpx.post(f"{app_url}/signals", json=brief, headers=AUTH, timeout=10)
    assert response.status_code in (201, 202), response.text
    services.deliverer.deliver_pending()


def tokens_used(slack: FakeSlack, channel: str, method: str = "chat.postMessage") -> set[str]:
    return {
        call.headers.get("Authorization", "").removeprefix("Bearer ")
        for call in slack.calls(method)
        if call.params.get("channel") == channel
    }


def keys_in(slack: FakeSlack, channel: str) -> list[str]:
    return [
        m["metadata"]["event_payload"]["signal_key"]
        for m in slack.messages(channel)
        if m.get("metadata") and "thread_ts" not in m
    ]


@pytest.fixture
def two_workspaces(installs: Services, app_url: str, slack: FakeSlack) -> str:
    """Both workspaces installed, each with one channel subscribed to the same topic."""
    for team, channel in CHANNELS.items():
        slack.add_channel(channel, channel.lower())
        done = install(app_url, slack, team)
        assert done.status_code == 200, done.text
        reply = slash(app_url, slack, team, "subscribe ai-advances")
        assert reply.status_code == 200
        assert "Subscribed" in reply.text or "subscribed" in reply.text, reply.text
    return app_url


def test_each_workspace_gets_the_brief_with_its_own_token(
    two_workspaces: str, slack: FakeSlack, installs: Services
) -> None:
    push(two_workspaces, "both-1", installs)
    wait_until(lambda: all(keys_in(slack, c) == ["both-1"] for c in CHANNELS.values()), 10, "posts")

    for team, channel in CHANNELS.items():
        assert tokens_used(slack, channel) == {TEAMS[team]}
        assert tokens_used(slack, channel, "conversations.info") == {TEAMS[team]}
    with transaction(installs.sessions) as session:
        teams = dict(session.execute(select(Delivery.channel_id, Delivery.team_id)).all())
    assert teams == {channel: team for team, channel in CHANNELS.items()}
    assert [c.params.get("code") for c in slack.calls("oauth.v2.access")] == [
        "code-for-TALPHA",
        "code-for-TBETA",
    ]


def test_a_forged_or_reused_state_installs_nothing(
    installs: Services, app_url: str, slack: FakeSlack
) -> None:
    slack.approve_install("code-x", "TALPHA", TEAMS["TALPHA"])
    forged = httpx.get(
        f"{app_url}/slack/oauth_redirect", params={"code": "code-x", "state": "made.up"}
    )
    assert forged.status_code >= 400
    assert slack.calls("oauth.v2.access") == []
    assert installs.installations is not None
    assert installs.installations.find_bot(enterprise_id=None, team_id="TALPHA") is None


def test_uninstalling_stops_that_workspace_only(
    two_workspaces: str, slack: FakeSlack, installs: Services
) -> None:
    assert event(two_workspaces, "TALPHA", "app_uninstalled").status_code == 200
    push(two_workspaces, "after-1", installs)
    wait_until(lambda: keys_in(slack, "CBETA") == ["after-1"], 10, "the other workspace's post")

    assert keys_in(slack, "CALPHA") == []
    health = httpx.get(f"{two_workspaces}/healthz", timeout=10).json()
    assert health["status"] == "degraded"
    assert health["slack"]["installed_workspaces"] == 1
    assert any("TALPHA" in reason for reason in health["reasons"])
    assert installs.installations is not None
    assert installs.installations.find_bot(enterprise_id=None, team_id="TALPHA") is None

    # Installing again resumes it: what waited is sent.
    assert install(two_workspaces, slack, "TALPHA").status_code == 200
    installs.deliverer.deliver_pending()  # (the fixture's limits: each run asks Slack again)
    wait_until(lambda: keys_in(slack, "CALPHA") == ["after-1"], 10, "the waiting post")


def test_a_dead_token_in_one_workspace_leaves_the_other_sending(
    two_workspaces: str, slack: FakeSlack, installs: Services
) -> None:
    slack.revoke_team("TALPHA")
    push(two_workspaces, "dead-1", installs)
    push(two_workspaces, "dead-2", installs)
    wait_until(lambda: keys_in(slack, "CBETA") == ["dead-1", "dead-2"], 10, "the other's posts")

    stopped = installs.deliverer.stopped_reason
    wait_until(lambda: "TALPHA" in (stopped() or ""), 10, "alpha's stop to be recorded")
    assert "TBETA" not in (stopped() or "")
    assert keys_in(slack, "CALPHA") == []
    # Nothing lost: alpha's rows wait for its token to work again.
    wait_until(lambda: states_of(installs, "TALPHA") == ["pending", "pending"], 10, "alpha's rows")


def states_of(services: Services, team: str) -> list[str]:
    with transaction(services.sessions) as session:
        query = select(Delivery.state).where(Delivery.team_id == team)
        return sorted(session.scalars(query))


def test_one_workspace_rate_limited_does_not_slow_the_other(
    two_workspaces: str, slack: FakeSlack, installs: Services
) -> None:
    alpha = [f"CA{n}" for n in range(8)]
    beta = [f"CB{n}" for n in range(8)]
    for team, channels in (("TALPHA", alpha), ("TBETA", beta)):
        for channel in channels:
            slack.add_channel(channel, channel.lower())
            reply = slash_in(two_workspaces, slack, team, channel, "subscribe ai-advances")
            assert reply.status_code == 200
    # Workspace alpha's hidden budget: one post a minute.
    slack.limit_rate(per_channel_per_second=100, burst=1, global_per_minute=1, team="TALPHA")
    push(two_workspaces, "busy-1", installs)

    wait_until(lambda: all(keys_in(slack, c) == ["busy-1"] for c in [*beta, "CBETA"]), 10, "beta")
    assert slack.rate_limited_by_team.get("TBETA", 0) == 0
    throttle = installs.deliverer.throttle
    cap = 1200 * 0.97
    wait_until(lambda: throttle.per_minute("TALPHA") < cap, 10, "alpha's rate to come down")
    assert slack.rate_limited_by_team.get("TALPHA", 0) >= 1
    assert throttle.per_minute("TBETA") == pytest.approx(cap), "beta keeps the cap"
    sent_alpha = sum(1 for c in [*alpha, "CALPHA"] if keys_in(slack, c))
    assert sent_alpha < len(alpha) + 1, "alpha is still held back by its own budget"


def slash_in(app_url: str, slack: FakeSlack, team: str, channel: str, text: str) -> httpx.Response:
    body = slash_command_body(
        "/signals", text, channel_id=channel, team_id=team, response_url=slack.response_url(team)
    )
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{app_url}/slack/events", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("environment", "complaint"),
    [
        ({"SLACK_CLIENT_ID": CLIENT_ID}, "needs all of SLACK_CLIENT_ID"),
        (
            {
                "SLACK_CLIENT_ID": CLIENT_ID,
                "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                "SLACK_STATE_SECRET": "s",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_APP_TOKEN": "xapp-1",
            },
            "unset SLACK_APP_TOKEN",
        ),
        (
            {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "x", "SLACK_STATE_SECRET": "s"},
            "SLACK_SIGNING_SECRET is required",
        ),
    ],
)
def test_the_install_flow_refuses_half_a_configuration(
    environment: dict[str, str],
    complaint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    clear_slack_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, _out, err = run_cli(capsys, "web")
    assert code == 2
    assert complaint in err


def test_the_bot_token_serves_subscriptions_without_a_workspace_and_stops_alone(
    two_workspaces: str, slack: FakeSlack, installs: Services
) -> None:
    with_token = installs.settings.model_copy(update={"slack_bot_token": SecretStr(BOT_TOKEN)})
    services = build_services(with_token, delivery_limits=ASK_SLACK_AGAIN_EACH_RUN)
    slack.add_channel("CCLI", "from-the-cli")
    with transaction(services.sessions) as session:  # `signal-bot subscribe CCLI …`: no team
        add_subscription(session, ChannelRef(channel_id="CCLI"), "all")
    try:
        publish(services, brief("cli-1"))
        services.deliverer.deliver_pending()
        assert tokens_used(slack, "CCLI") == {BOT_TOKEN}
        assert tokens_used(slack, "CALPHA") == {TEAMS["TALPHA"]}

        slack.revoke_team("T0FAKE")  # the fake's team for any token it does not know
        publish(services, brief("cli-2", minutes=1))
        services.deliverer.deliver_pending()
        assert keys_in(slack, "CBETA") == ["cli-1", "cli-2"]
        assert keys_in(slack, "CCLI") == ["cli-1"]
        assert not services.deliverer.stopped(), "installed workspaces keep sending"
        assert "SLACK_BOT_TOKEN" in (services.deliverer.stopped_reason() or "")
    finally:
        services.engine.dispose()
