"""The modal and Home views as pure functions: escaping, Slack's limits, reading state back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.errors import FilterError
from bot.filters import parse_filter
from bot.slack.views import ViewError, checked_view
from bot.slack.views.home import HomeData, ShownBrief, ShownSubscription, home_view
from bot.slack.views.modal import subscribe_modal
from bot.slack.views.modal_state import (
    Choices,
    ModalTarget,
    Picker,
    choices_from_state,
    choices_of_filter,
    filter_text,
)
from bot.store.facets import Facet

HOSTILE = "<!channel> & <https://evil.example|click>"


def test_the_modal_escapes_labels_and_fits_slacks_option_limits() -> None:
    facets = [Facet("entity", f"e-{n}", f"{HOSTILE} {'x' * 100}", n) for n in range(150)]
    facets.append(Facet("entity", "s" * 151, "too long a value", 1))
    view = subscribe_modal(
        ModalTarget("C1", "ai-news"),
        [Picker("entity", facets)],
        Choices(),
        {},
        None,
        days=30,
    )
    options = view["blocks"][1]["element"]["options"]
    assert len(options) == 100
    assert all(len(option["text"]["text"]) <= 75 for option in options)
    assert options[0]["text"]["text"].startswith("&lt;!channel&gt; &amp; &lt;https")
    assert "s" * 151 not in json.dumps(view)


def test_the_modal_keeps_choices_and_what_it_cannot_show() -> None:
    choices, kept = choices_of_filter(
        parse_filter('topic:ai entity:Meta keyword:"muse spark" -entity:x source:optyx')
    )
    assert choices.picked == {"topic": ("ai",), "entity": ("meta",), "category": ()}
    assert choices.keyword == "muse spark"
    assert kept == "source:optyx -entity:x"
    assert (
        filter_text(choices, kept)
        == 'topic:ai entity:meta keyword:"muse spark" source:optyx -entity:x'
    )
    assert parse_filter(filter_text(choices, kept)) == parse_filter(
        'topic:ai entity:Meta keyword:"muse spark" -entity:x source:optyx'
    )


def test_state_reads_back_and_junk_reads_as_nothing() -> None:
    values = {
        "topic": {"modal_pick_topic": {"selected_options": [{"value": "ai"}, {"value": ""}]}},
        "keyword": {"modal_keyword": {"value": "  muse  "}},
        "channel": {"modal_channel": {"selected_conversation": "C9"}},
        "entity": "junk",
    }
    choices = choices_from_state(values)
    assert choices.picked["topic"] == ("ai",)
    assert choices.picked["entity"] == ()
    assert (choices.keyword, choices.channel_id) == ("muse", "C9")
    assert choices_from_state({}).empty


def test_a_keyword_with_double_quotes_is_refused() -> None:
    with pytest.raises(FilterError, match="double quotes"):
        filter_text(Choices(keyword='say "hi"'))


def test_metadata_round_trips_and_garbage_is_a_blank_target() -> None:
    target = ModalTarget("C1", "ai-news", 7, "-entity:x")
    assert ModalTarget.from_metadata(target.metadata()) == target
    assert ModalTarget.from_metadata("{not json") == ModalTarget()
    assert ModalTarget.from_metadata('{"s": "seven"}') == ModalTarget()


def test_the_home_view_escapes_untrusted_text_and_pages() -> None:
    subscription = ShownSubscription(1, "C1", "keyword:x", f"briefs mentioning {HOSTILE}", HOSTILE)
    brief = ShownBrief("abc", HOSTILE, HOSTILE, "", datetime(2026, 11, 1, tzinfo=UTC))
    data = HomeData(
        user_id="U1",
        is_manager=True,
        who_may="everyone",
        channel_subscriptions=[subscription] * 20,
        total_channel_subscriptions=500,
        page=3,
        latest=[brief] * 5,
    )
    view = home_view(data)
    text = json.dumps(view)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "page 4 of 25" in text
    buttons = [
        e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons[-2:] == ["home_page_previous", "home_page_next"]


def test_checked_view_refuses_what_slack_would() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    with pytest.raises(ViewError, match="101 blocks"):
        checked_view({"type": "home", "blocks": [section] * 101})
    long_text = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(ViewError, match="3001"):
        checked_view({"type": "home", "blocks": [long_text]})
    with pytest.raises(ViewError):
        checked_view(
            {
                "type": "modal",
                "title": {"type": "plain_text", "text": "x" * 30},
                "blocks": [section],
            }
        )


def test_topics_and_history_escape_what_briefs_and_people_wrote() -> None:
    from types import SimpleNamespace

    from bot.render import Renderer
    from bot.store.history import ChangeRecord

    renderer = Renderer()
    facet = Facet("topic", "evil", HOSTILE, 3)
    fields = [SimpleNamespace(title="Topics", filter_field="topic", facets=[facet], more=2)]
    rendered = renderer.render("topics.json.j2", days=30, fields=fields)
    topics = json.dumps(rendered.blocks, ensure_ascii=False)
    assert "<!channel>" not in topics
    assert "&lt;!channel&gt;" in topics
    assert "…and 2 more" in topics

    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    changes = [
        ChangeRecord(2, at, "C1", "U0ANA", "edited", "subscription", 4, HOSTILE, "keyword:x"),
        ChangeRecord(1, at, "C1", "<!here>", "subscribed", "subscription", 4, None, "all"),
    ]
    history = renderer.render("history.json.j2", channel_name="ai-news", changes=changes)
    text = json.dumps(history.blocks)
    assert "<@U0ANA> edited subscription #4: `&lt;!channel&gt;" in text
    assert "<!here>" not in text
    assert "_&lt;!here&gt;_ subscribed subscription #4: `all`" in text
