"""Multi-workspace mode, people and tokens: SIGNAL_BOT_MANAGERS' admin checks ask users.info
of the workspace a command or a click came from (cached per workspace and person), the App Home
is published with that workspace's token, and a reinstall's new token is used at once, in this
process or (after one refusal) in another."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import SIGNING_SECRET, wait_until
from fake_slack import FakeSlack
from fake_slack_state import Call
from slack_sdk.oauth.installation_store import Installation
from slack_signing import sign
from sqlalchemy import select
from test_workspaces import (
    ASK_SLACK_AGAIN_EACH_RUN,
    CHANNELS,
    CLIENT_ID,
    TEAMS,
    install,
    keys_in,
    oauth_mode_settings,
    push,
    serving,
    typed,
)

from bot.app import Services, build_services
from bot.installs import BOT_SCOPES, WorkspaceInstallations
from bot.store.db import transaction
from bot.store.models import Subscription
from bot.store.subscriptions import ChannelRef, add_subscription

ROOT = Path(__file__).resolve().parents[1]
ADMIN_OF_BETA, MEMBER_OF_ALPHA = "U0BETABOSS", "U0ALPHAMEMBER"


@pytest.fixture
def installs(database_url: str, slack: FakeSlack, sources_file: Path) -> Iterator[Services]:
    """Only workspace admins and owners may change channel subscriptions."""
    settings = oauth_mode_settings(database_url, slack, sources_file, signal_bot_managers="admins")
    services = build_services(settings, delivery_limits=ASK_SLACK_AGAIN_EACH_RUN)
    yield services
    services.engine.dispose()


@pytest.fixture
def two_workspaces(installs: Services, slack: FakeSlack) -> Iterator[str]:
    """Both installed, each with its channel; a person in each (beta's is an admin there)."""
    slack.add_user(ADMIN_OF_BETA, admin=True, team="TBETA")
    slack.add_user(MEMBER_OF_ALPHA, team="TALPHA")
    with serving(installs) as app_url:
        for team, channel in CHANNELS.items():
            slack.add_channel(channel, channel.lower())
            assert install(app_url, slack, team).status_code == 200
        yield app_url


def bearer(call: Call) -> str:
    return call.headers.get("Authorization", "").removeprefix("Bearer ")


def role_checks(slack: FakeSlack, user: str) -> list[str]:
    """The token of each users.info call about `user`, in order."""
    return [bearer(call) for call in slack.calls("users.info") if call.params["user"] == user]


def subscribed_channels(services: Services) -> list[str]:
    with transaction(services.sessions) as session:
        return sorted(session.scalars(select(Subscription.channel_id)))


def test_an_admin_check_asks_the_workspace_the_command_came_from(
    two_workspaces: str, installs: Services, slack: FakeSlack
) -> None:
    allowed = typed(two_workspaces, slack, "TBETA", ADMIN_OF_BETA, "subscribe ai-advances")
    assert "is now subscribed" in allowed, allowed
    assert role_checks(slack, ADMIN_OF_BETA) == [TEAMS["TBETA"]]

    refused = typed(two_workspaces, slack, "TALPHA", MEMBER_OF_ALPHA, "subscribe ai-advances")
    assert "Only workspace admins and owners can change" in refused, refused
    assert role_checks(slack, MEMBER_OF_ALPHA) == [TEAMS["TALPHA"]]
    assert subscribed_channels(installs) == ["CBETA"]

    # Cached per workspace and person: beta's admin is not taken for an admin of alpha.
    again = typed(two_workspaces, slack, "TBETA", ADMIN_OF_BETA, "unsubscribe ai-advances")
    assert "Unsubscribed" in again, again
    elsewhere = typed(two_workspaces, slack, "TALPHA", ADMIN_OF_BETA, "subscribe ai-advances")
    assert "is now subscribed" not in elsewhere, elsewhere
    assert role_checks(slack, ADMIN_OF_BETA) == [TEAMS["TBETA"], TEAMS["TALPHA"]]
    assert subscribed_channels(installs) == []


def test_the_home_tab_is_published_with_its_workspaces_token(
    two_workspaces: str, slack: FakeSlack
) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "TBETA",
            "api_app_id": "A0FAKE",
            "event_id": "EvHomeBeta",
            "event_time": 1,
            "event": {"type": "app_home_opened", "user": ADMIN_OF_BETA, "tab": "home"},
        }
    ).encode()
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/json"}
    response = httpx.post(f"{two_workspaces}/slack/events", content=body, headers=headers)
    assert response.status_code == 200

    (published,) = slack.wait_for_calls("views.publish", 1)
    assert bearer(published) == TEAMS["TBETA"]
    assert published.params["user_id"] == ADMIN_OF_BETA
    assert role_checks(slack, ADMIN_OF_BETA) == [TEAMS["TBETA"]]
    home = slack.home(ADMIN_OF_BETA)
    assert home is not None
    assert "Source health" in json.dumps(home), "beta's admin sees the managers' part"


def subscribe_both(services: Services) -> None:
    """Each workspace's channel takes the topic (as its admins would have typed)."""
    with transaction(services.sessions) as session:
        for team, channel in CHANNELS.items():
            where = ChannelRef(channel_id=channel, team_id=team)
            add_subscription(session, where, "topic:ai-advances")


def post_tokens(slack: FakeSlack, channel: str) -> list[str]:
    return [
        bearer(call)
        for call in slack.calls("chat.postMessage")
        if call.params.get("channel") == channel
    ]


def test_a_reinstall_here_is_used_at_once(
    two_workspaces: str, installs: Services, slack: FakeSlack
) -> None:
    subscribe_both(installs)
    push(two_workspaces, "before", installs)
    wait_until(lambda: keys_in(slack, "CALPHA") == ["before"], 10, "the first post")

    slack.revoke_token(TEAMS["TALPHA"])
    assert install(two_workspaces, slack, "TALPHA", "xoxb-alpha-again").status_code == 200
    push(two_workspaces, "after", installs)
    wait_until(lambda: keys_in(slack, "CALPHA") == ["before", "after"], 10, "the second post")

    assert post_tokens(slack, "CALPHA") == [TEAMS["TALPHA"], "xoxb-alpha-again"]
    assert installs.deliverer.stopped_reason() is None


def test_a_reinstall_by_another_process_is_found_after_one_refusal(
    two_workspaces: str, installs: Services, slack: FakeSlack
) -> None:
    subscribe_both(installs)
    push(two_workspaces, "before", installs)
    wait_until(lambda: keys_in(slack, "CALPHA") == ["before"], 10, "the first post")

    # The web process stores the new install; this worker still holds the old token.
    other_process = WorkspaceInstallations(CLIENT_ID, installs.engine, installs.sessions)
    slack.add_team("TALPHA", "xoxb-alpha-elsewhere")
    other_process.save(
        Installation(
            app_id="A0FAKE",
            team_id="TALPHA",
            bot_token="xoxb-alpha-elsewhere",
            bot_user_id="UBOTTALPHA",
            user_id="U0INSTALLER",
        )
    )
    slack.revoke_token(TEAMS["TALPHA"])
    push(two_workspaces, "after", installs)
    wait_until(lambda: keys_in(slack, "CALPHA") == ["before", "after"], 10, "the second post")

    old, new = TEAMS["TALPHA"], "xoxb-alpha-elsewhere"
    assert post_tokens(slack, "CALPHA") == [old, old, new], "refused once, then the new token"
    assert installs.deliverer.stopped_reason() is None
    assert keys_in(slack, "CBETA") == ["before", "after"]
    # People look-ups (and the Home tab) take the newest install each time.
    refused = typed(two_workspaces, slack, "TALPHA", MEMBER_OF_ALPHA, "unsubscribe ai-advances")
    assert "Only workspace admins and owners can change" in refused, refused
    assert role_checks(slack, MEMBER_OF_ALPHA) == [new]


def test_an_install_asks_for_the_scopes_of_the_manifest() -> None:
    """users.info needs users:read, personal alerts im:write and im:history: an install through
    the OAuth flow asks for exactly what the manifest's single-workspace app has."""
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text(encoding="utf-8"))
    assert sorted(BOT_SCOPES) == sorted(manifest["oauth_config"]["scopes"]["bot"])
