"""Share from search results: once per (brief, channel), also when clicks race; both databases."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from conftest import START, wait_until
from search_corpus import CORPUS, stored
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.render import Message, Renderer
from bot.sharing import PostFailed, Shared, ShareOutcome, share_brief, share_notice
from bot.store.db import transaction
from bot.store.shares import CLAIM_TIMEOUT, SharedBrief

BRIEF = CORPUS[0].keyed(CORPUS[0].source)
DEADLINE = 60  # seconds: how long a test waits for a condition before it fails


class Channel:
    """A fake channel that records posts; held back or failing on demand."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []
        self.failure: str | None = None
        self.open = threading.Event()  # a post waits until the channel is open
        self.open.set()

    def publish(self, channel_id: str, parts: list[Message], signal_key: str) -> str:
        if not self.open.wait(timeout=DEADLINE):
            raise PostFailed("the test never let the post through")
        if self.failure:
            raise PostFailed(self.failure)
        self.posts.append((channel_id, signal_key))
        return f"1700000000.{len(self.posts):06d}"


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    engine, factory = stored(database_url, [BRIEF])
    yield factory
    engine.dispose()


def share(
    sessions: sessionmaker[Session],
    channel: Channel,
    *,
    user: str = "U1",
    where: str = "C1",
    now: datetime = START,
) -> ShareOutcome:
    return share_brief(
        sessions,
        Renderer(),
        signal_id=BRIEF.id,
        channel_id=where,
        user_id=user,
        publish=channel.publish,
        channel_problem=lambda: None,
        now=now,
    )


def test_one_post_per_brief_and_channel(sessions: sessionmaker[Session]) -> None:
    channel = Channel()
    outcomes = [share(sessions, channel), share(sessions, channel, user="U2")]
    other_channel = share(sessions, channel, where="C2")

    assert [outcome.result for outcome in outcomes] == [Shared.POSTED, Shared.ALREADY]
    assert outcomes[1].shared_by == "U1"
    assert other_channel.result is Shared.POSTED
    assert channel.posts == [("C1", BRIEF.key), ("C2", BRIEF.key)]


def test_racing_clicks_post_once(sessions: sessionmaker[Session]) -> None:
    channel = Channel()
    channel.open.clear()  # the first post hangs until every other click is answered
    results: list[Shared] = []
    clicks = [
        threading.Thread(
            target=lambda user=user: results.append(share(sessions, channel, user=user).result)
        )
        for user in ("U1", "U2", "U3", "U4")
    ]
    for click in clicks:
        click.start()
    wait_until(lambda: len(results) == 3, DEADLINE, "three clicks answered while one posts")
    channel.open.set()
    for click in clicks:
        click.join(timeout=DEADLINE)
    assert not any(click.is_alive() for click in clicks)

    assert sorted(results) == sorted([Shared.POSTED, *[Shared.IN_PROGRESS] * 3])
    assert len(channel.posts) == 1


def test_a_refused_post_can_be_tried_again(sessions: sessionmaker[Session]) -> None:
    channel = Channel()
    channel.failure = "Slack answered `not_in_channel`."
    refused = share(sessions, channel)
    channel.failure = None
    retried = share(sessions, channel)

    assert refused.result is Shared.FAILED
    assert "not_in_channel" in share_notice(refused)[1]
    assert retried.result is Shared.POSTED


def test_a_claim_that_never_posted_is_taken_over_later(sessions: sessionmaker[Session]) -> None:
    channel = Channel()
    with transaction(sessions) as session:
        session.add(
            SharedBrief(signal_id=BRIEF.id, channel_id="C1", shared_by="U0", claimed_at=START)
        )
    second = timedelta(seconds=1)

    assert share(sessions, channel, now=START + CLAIM_TIMEOUT - second).result is Shared.IN_PROGRESS
    assert share(sessions, channel, now=START + CLAIM_TIMEOUT).result is Shared.POSTED
    with transaction(sessions) as session:
        session.execute(update(SharedBrief).values(message_ts=None, claimed_at=START))
    assert share(sessions, channel, now=START + second).result is Shared.IN_PROGRESS
    assert channel.posts == [("C1", BRIEF.key)]


def test_unknown_briefs_and_channels_that_refuse(sessions: sessionmaker[Session]) -> None:
    channel = Channel()
    missing = share_brief(
        sessions, Renderer(), signal_id="nope", channel_id="C1", user_id="U1",
        publish=channel.publish, channel_problem=lambda: None, now=START,
    )  # fmt: skip
    archived = share_brief(
        sessions, Renderer(), signal_id=BRIEF.id, channel_id="C1", user_id="U1",
        publish=channel.publish, channel_problem=lambda: "This channel is archived.", now=START,
    )  # fmt: skip
    assert missing.result is Shared.NO_SUCH_BRIEF
    assert (archived.result, archived.reason) == (Shared.FAILED, "This channel is archived.")
    assert channel.posts == []
