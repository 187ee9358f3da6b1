"""Digests in multi-workspace mode: two workspaces install the app through the OAuth flow on
the loopback fake Slack, each subscribes a channel to the same topic in a daily digest, and each
digest goes out with its own workspace's token, in the zone of the person who subscribed there.
A workspace whose token is refused stops only its own digests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alerts_helpers import arrive, brief
from conftest import START
from fake_slack import FakeSlack
from fake_slack_state import Call
from sqlalchemy import select
from test_workspaces import (
    ASK_SLACK_AGAIN_EACH_RUN,
    CHANNELS,
    TEAMS,
    install,
    oauth_mode_settings,
    serving,
    typed,
)

from bot.app import Services, build_services
from bot.deliver.clock import ManualClock
from bot.deliver.digests import gather_due_digests
from bot.deliver.slack_poster import DIGEST_EVENT_TYPE
from bot.store.alert_models import Digest
from bot.store.db import transaction
from bot.store.models import Subscription

# Who subscribes in each workspace, and the zone Slack knows them in.
PEOPLE = {"TALPHA": ("U0PARIS", "Europe/Paris"), "TBETA": ("U0TOKYO", "Asia/Tokyo")}
# 08:00 in Paris on Tuesday 8 January 2030; Tokyo's 08:00 that day has passed already.
BOTH_DUE = datetime(2030, 1, 8, 7, 0, 5, tzinfo=START.tzinfo)


@pytest.fixture
def installs(
    database_url: str, slack: FakeSlack, sources_file: Path, clock: ManualClock
) -> Iterator[Services]:
    settings = oauth_mode_settings(database_url, slack, sources_file)
    services = build_services(settings, delivery_limits=ASK_SLACK_AGAIN_EACH_RUN, clock=clock)
    yield services
    services.engine.dispose()


@pytest.fixture
def daily_digests(installs: Services, slack: FakeSlack) -> Iterator[str]:
    """Both workspaces installed; in each, a person subscribes its channel to a daily digest
    of the same topic without saying a zone (so their own is looked up)."""
    with serving(installs) as app_url:
        for team, channel in CHANNELS.items():
            user, zone = PEOPLE[team]
            slack.add_user(user, tz=zone, team=team)
            slack.add_channel(channel, channel.lower())
            assert install(app_url, slack, team).status_code == 200
            answer = typed(app_url, slack, team, user, "subscribe ai-advances digest=daily@08:00")
            assert f"daily digest at 08:00 ({zone})" in answer, answer
        yield app_url


def digests_in(slack: FakeSlack, channel: str) -> list[str]:
    """The heading of each digest the channel holds."""
    return [
        message["blocks"][0]["text"]["text"]
        for message in slack.messages(channel)
        if (message.get("metadata") or {}).get("event_type") == DIGEST_EVENT_TYPE
    ]


def digest_tokens(slack: FakeSlack, channel: str) -> list[str]:
    """The token of each attempt to post a digest in the channel, in order."""
    return [
        call.headers.get("Authorization", "").removeprefix("Bearer ")
        for call in slack.calls("chat.postMessage")
        if call.params.get("channel") == channel
        and (call.params.get("metadata") or {}).get("event_type") == DIGEST_EVENT_TYPE
    ]


def run_digests(services: Services, clock: ManualClock, moment: datetime) -> int:
    """At `moment`: close the due periods, then a delivery run; how many digests were queued."""
    clock.advance((moment - clock.now()).total_seconds())
    queued = gather_due_digests(services.sessions, clock.now())
    services.deliverer.deliver_pending()
    return queued


def digest_rows(services: Services) -> dict[str, tuple[str, str]]:
    """Each digest row's channel -> (its team, its state)."""
    with transaction(services.sessions) as session:
        rows = session.execute(select(Digest.channel_id, Digest.team_id, Digest.state)).all()
    return {channel: (team, state) for channel, team, state in rows}


def test_each_workspace_gets_its_digest_with_its_own_token_in_its_persons_zone(
    daily_digests: str, installs: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    for team, (user, _zone) in PEOPLE.items():
        asked = [c for c in slack.calls("users.info") if c.params.get("user") == user]
        assert [bearer(call) for call in asked] == [TEAMS[team]], "zone asked of its workspace"
    with transaction(installs.sessions) as session:
        zones = dict(session.execute(select(Subscription.channel_id, Subscription.tz)).all())
    assert zones == {"CALPHA": "Europe/Paris", "CBETA": "Asia/Tokyo"}

    arrive(installs, clock, brief("Muse Spark"))
    assert run_digests(installs, clock, BOTH_DUE) == 2

    assert digests_in(slack, "CALPHA") == ["Digest · Tue 08 Jan, 08:00 Europe/Paris"]
    assert digests_in(slack, "CBETA") == ["Digest · Tue 08 Jan, 08:00 Asia/Tokyo"]
    assert digest_tokens(slack, "CALPHA") == [TEAMS["TALPHA"]]
    assert digest_tokens(slack, "CBETA") == [TEAMS["TBETA"]]
    assert digest_rows(installs) == {"CALPHA": ("TALPHA", "sent"), "CBETA": ("TBETA", "sent")}


def test_a_refused_token_stops_only_that_workspaces_digests_until_it_installs_again(
    daily_digests: str, installs: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    slack.revoke_token(TEAMS["TALPHA"])
    arrive(installs, clock, brief("Muse Spark"))
    assert run_digests(installs, clock, BOTH_DUE) == 2

    assert digests_in(slack, "CBETA") == ["Digest · Tue 08 Jan, 08:00 Asia/Tokyo"]
    assert digests_in(slack, "CALPHA") == []
    assert digest_rows(installs) == {"CALPHA": ("TALPHA", "pending"), "CBETA": ("TBETA", "sent")}
    stopped = installs.deliverer.stopped_reason() or ""
    assert "TALPHA" in stopped
    assert "TBETA" not in stopped
    refused = len(digest_tokens(slack, "CALPHA"))
    installs.deliverer.deliver_pending()
    assert len(digest_tokens(slack, "CALPHA")) == refused, "a stopped workspace is not tried"

    # Installed again with a new token: the digest that waited goes out with it, once.
    assert install(daily_digests, slack, "TALPHA", "xoxb-alpha-new").status_code == 200
    installs.deliverer.deliver_pending()
    assert digests_in(slack, "CALPHA") == ["Digest · Tue 08 Jan, 08:00 Europe/Paris"]
    assert digest_tokens(slack, "CALPHA")[refused:] == ["xoxb-alpha-new"]
    assert installs.deliverer.stopped_reason() is None


def bearer(call: Call) -> str:
    return call.headers.get("Authorization", "").removeprefix("Bearer ")
