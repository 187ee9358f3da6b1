"""The answer to a signed `/brief` over HTTP is exactly the message the command computes, and
remembering IDs (bot.signal.short_id) changes nothing in it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fake_slack import FakeSlack
from search_corpus import CORPUS
from test_search_slack import CHANNEL, brief_command

from bot.app import Services
from bot.signal import short_id
from bot.store.db import transaction
from bot.store.signals import upsert_signals
from bot.store.subscriptions import ChannelRef

QUERIES = ("model", "muse spark", "entity:meta", "xyzzyq")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def stored(services: Services) -> list[str]:
    signals = [signal.keyed("optyx") for signal in CORPUS[:40]]
    with transaction(services.sessions) as session:
        upsert_signals(session, signals)
    return [short_id.__wrapped__(signal.source, signal.effective_key) for signal in signals]


def computed(services: Services, text: str) -> dict[str, Any]:
    where = ChannelRef(channel_id=CHANNEL, channel_name="ai-news", team_id="T0FAKE", user_id="U1")
    return services.commands.brief(text, where).as_response()


def shown_ids(answer: dict[str, Any]) -> list[str]:
    return re.findall(r"ID `([a-z2-7]{10})`", str(answer["blocks"]))


def test_a_signed_brief_answers_the_computed_message_with_ids_cached_or_not(
    services: Services, web_url: str, slack: FakeSlack, stored: list[str]
) -> None:
    for text in QUERIES:
        short_id.cache_clear()
        fresh = brief_command(web_url, slack, text)
        remembered = brief_command(web_url, slack, text)
        assert fresh == remembered == computed(services, text), text
        if shown_ids(fresh):  # the second answer took each ID from the cache
            assert short_id.cache_info().hits >= len(shown_ids(fresh)), text
    answer = brief_command(web_url, slack, "model")
    assert len(shown_ids(answer)) == 5, "a full page of results, each with its ID"
    assert set(shown_ids(answer)) <= set(stored), "each ID is the hash of its source and key"
