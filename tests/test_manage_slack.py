"""Managing subscriptions the Slack way, end to end: signed slash commands, view_submission,
block_actions, block_suggestion and app_home_opened requests into the real Bolt app behind
waitress, against the loopback fake Slack (which checks every view as Slack would)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_slack import FakeSlack
from slack_requests import (
    block_texts,
    chosen_channel,
    event,
    interact,
    picked,
    recent_brief,
    said,
    slash,
    typed_keyword,
    user_of,
    wait_for_home,
    with_state,
)

from bot.app import Services
from bot.slack.subscribe_modal import SubscribeModal
from bot.store.db import transaction
from bot.store.history import recent_changes
from bot.store.signals import upsert_signals
from bot.store.subscriptions import channel_subscriptions

CHANNEL = "C0AI"
USER = "U123"


@pytest.fixture
def archive(services: Services, slack: FakeSlack) -> None:
    """A small archive: AI Advances leads, then Security; one old brief outside 30 days."""
    slack.add_channel(CHANNEL, "ai-news")
    slack.add_user(USER)
    briefs = [
        recent_brief(f"Muse model {n}", n, entity="Meta", category="Platform Release")
        for n in range(5)
    ]
    briefs += [
        recent_brief(f"Patch {n}", n, topic="Security", entity="Microsoft") for n in range(3)
    ]
    briefs += [recent_brief("Lab funding round", 2, topic="AI Advances", entity="Mistral")]
    briefs += [recent_brief("Old quantum note", 90, topic="Quantum", entity="IBM")]
    with transaction(services.sessions) as session:
        upsert_signals(session, briefs)


def open_form(web_url: str, slack: FakeSlack, **kwargs: Any) -> dict[str, Any]:
    """`/signals subscribe` with nothing else: the modal Slack was asked to open."""
    opened = len(slack.calls("views.open"))
    response = slash(web_url, slack, "subscribe", **kwargs)
    assert said(response) == "", said(response)  # an empty ack: the form is the answer
    call = slack.wait_for_calls("views.open", opened + 1)[-1]
    assert call.params["trigger_id"] == kwargs.get("trigger_id", "trigger-1")
    return slack.modal(_last_view_id(slack))


def _last_view_id(slack: FakeSlack) -> str:
    calls = slack.calls("views.open") + slack.calls("views.update")
    return str(max(calls, key=lambda call: call.at).params.get("view_id") or _opened_id(slack))


def _opened_id(slack: FakeSlack) -> str:
    return f"V{len(slack.calls('views.open')):06d}"


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return dict(block["element"])


def submit(web_url: str, view: dict[str, Any], values: dict[str, Any], user: str = USER) -> Any:
    payload = {"type": "view_submission", "user": user_of(user), "trigger_id": "t2"}
    response = interact(web_url, {**payload, "view": with_state(view, values)})
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


def test_bare_subscribe_opens_the_form_with_pickers_most_frequent_first(
    archive: None, web_url: str, slack: FakeSlack
) -> None:
    view = open_form(web_url, slack)

    topics = element(view, "topic")
    assert topics["type"] == "multi_static_select"
    labels = [option["text"]["text"] for option in topics["options"]]
    assert labels[:2] == ["AI Advances · 6", "Security · 3"]
    assert "Quantum" in labels[-1]  # older than 30 days: listed after, without a count
    entities = [option["value"] for option in element(view, "entity")["options"]]
    assert entities[:3] == ["meta", "microsoft", "mistral"]
    assert json.loads(view["private_metadata"])["c"] == CHANNEL
    assert "Pick topics" in block_texts(view)


def test_choosing_refreshes_the_count_with_views_update(
    archive: None, web_url: str, slack: FakeSlack
) -> None:
    view = open_form(web_url, slack)
    values = {**picked("topic", "ai-advances"), **picked("entity", "meta")}
    payload = {
        "type": "block_actions",
        "user": user_of(USER),
        "trigger_id": "t3",
        "container": {"type": "view", "view_id": view["id"]},
        "view": with_state(view, values),
        "actions": [{"action_id": "modal_pick_entity", "block_id": "entity", "type": "x"}],
    }
    assert interact(web_url, payload).status_code == 200

    update = slack.wait_for_calls("views.update", 1)[-1]
    assert update.params["view_id"] == view["id"]
    assert update.params["hash"] == view["hash"]
    updated = slack.modal(view["id"])
    assert "*5 briefs* of the last 30 days would have matched" in block_texts(updated)
    initial = element(updated, "entity")["initial_options"]
    assert [option["value"] for option in initial] == ["meta"]


def test_submitting_subscribes_the_channel_through_the_typed_path(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    view = open_form(web_url, slack)
    values = {**picked("topic", "security"), **typed_keyword("patch")}

    assert submit(web_url, view, values) is None  # an empty ack closes the modal

    ephemeral = slack.wait_for_calls("chat.postEphemeral", 1)[-1]
    assert ephemeral.params["channel"] == CHANNEL
    assert ephemeral.params["user"] == USER
    assert "#ai-news is now subscribed to briefs with topic security" in ephemeral.params["text"]
    with transaction(services.sessions) as session:
        [subscription] = channel_subscriptions(session, CHANNEL)
        assert subscription.filter == "topic:security keyword:patch"
        [change] = recent_changes(session, channel_id=CHANNEL)
    assert (change.actor, change.action, change.after) == (USER, "subscribed", subscription.filter)
    published = slack.wait_for_calls("views.publish", 1)[-1]  # the home tab follows the change
    assert published.params["user_id"] == USER
    assert "topic:security keyword:patch" in block_texts(published.params["view"])


@pytest.mark.parametrize(
    ("values", "block", "error"),
    [
        ({}, "topic", "Pick at least one topic"),
        (typed_keyword('say "hi"'), "keyword", "Leave out double quotes"),
        (typed_keyword("x" * 600), "keyword", "500"),
    ],
)
def test_a_bad_submission_shows_errors_on_the_field(
    archive: None,
    services: Services,
    web_url: str,
    slack: FakeSlack,
    values: dict[str, Any],
    block: str,
    error: str,
) -> None:
    view = open_form(web_url, slack)

    answer = submit(web_url, view, values)

    assert answer["response_action"] == "errors"
    assert error in answer["errors"][block]
    with transaction(services.sessions) as session:
        assert channel_subscriptions(session, CHANNEL) == []


def test_entities_past_100_are_suggested_from_the_database(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    many = [recent_brief(f"Vendor note {n}", 3, entity=f"Vendor {n:03d}") for n in range(120)]
    many += [recent_brief(f"Vendor 7 again {n}", 1, entity="Vendor 007") for n in range(4)]
    with transaction(services.sessions) as session:
        upsert_signals(session, many)
    view = open_form(web_url, slack)
    assert element(view, "entity")["type"] == "multi_external_select"
    assert element(view, "topic")["type"] == "multi_static_select"

    payload = {
        "type": "block_suggestion",
        "user": user_of(USER),
        "action_id": "modal_pick_entity",
        "block_id": "entity",
        "value": "vendor 00",
        "view": view,
        "container": {"type": "view", "view_id": view["id"]},
    }
    response = interact(web_url, payload)

    assert response.status_code == 200, response.text
    options = response.json()["options"]
    assert options[0] == {
        "text": {"type": "plain_text", "text": "Vendor 007 · 5", "emoji": True},
        "value": "vendor-007",
    }
    assert {option["value"] for option in options} == {f"vendor-{n:03d}" for n in range(10)}


def test_the_home_tab_shows_subscriptions_latest_briefs_and_edits_them(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    slash(web_url, slack, "subscribe topic:ai-advances")
    slack.wait_for_calls("views.publish", 1)  # the subscriber's home follows the change
    slack.clear()

    opened = event(web_url, {"type": "app_home_opened", "user": USER, "tab": "home"})
    assert opened.status_code == 200
    slack.wait_for_calls("views.publish", 1)
    home = slack.home(USER)
    assert home is not None
    text = block_texts(home)
    assert "<#C0AI>" in text
    assert "topic:ai-advances" in text
    assert "active" in text
    assert "Muse model 0" in text  # among the five latest briefs
    assert "Source health" in text  # everyone manages by default

    menu = {"action_id": "home_subscription_1", "type": "overflow", "block_id": "b"}
    edit = {**menu, "selected_option": {"value": "edit:1"}}
    payload = {
        "type": "block_actions",
        "user": user_of(USER),
        "trigger_id": "t-edit",
        "container": {"type": "view", "view_id": home["id"]},
        "view": home,
        "actions": [edit],
    }
    assert interact(web_url, payload).status_code == 200
    opened = slack.wait_for_calls("views.open", 1)[-1]
    form = slack.modal(_opened_id(slack))
    assert opened.params["trigger_id"] == "t-edit"
    assert [o["value"] for o in element(form, "topic")["initial_options"]] == ["ai-advances"]

    values = {**picked("topic", "ai-advances"), **picked("entity", "mistral")}
    assert submit(web_url, form, values) is None
    slack.wait_for_calls("chat.postEphemeral", 1)
    with transaction(services.sessions) as session:
        [subscription] = channel_subscriptions(session, CHANNEL)
        assert subscription.filter == "topic:ai-advances entity:mistral"
        change = recent_changes(session, channel_id=CHANNEL)[0]
    assert (change.action, change.before, change.after) == (
        "edited",
        "topic:ai-advances",
        "topic:ai-advances entity:mistral",
    )

    remove = {**menu, "selected_option": {"value": "remove:1"}}
    assert interact(web_url, {**payload, "actions": [remove]}).status_code == 200
    republished = wait_for_home(slack, USER, "Unsubscribed this channel")
    assert "Channel subscriptions* (0)" in block_texts(republished)
    with transaction(services.sessions) as session:
        assert channel_subscriptions(session, CHANNEL) == []


def test_the_home_tab_pages_500_subscriptions_within_100_blocks(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    from bot.store.subscriptions import ChannelRef, add_subscription

    with transaction(services.sessions) as session:
        for n in range(500):
            where = ChannelRef(f"C{n:05d}", f"team-{n:05d}")
            add_subscription(session, where, f"entity:vendor-{n}")

    event(web_url, {"type": "app_home_opened", "user": USER, "tab": "home"})
    first = wait_for_home(slack, USER, "(500) · page 1 of 25")
    assert len(first["blocks"]) <= 100
    next_button = {"action_id": "home_page_next", "type": "button", "value": "1", "block_id": "p"}
    payload = {
        "type": "block_actions",
        "user": user_of(USER),
        "trigger_id": "t",
        "container": {"type": "view", "view_id": first["id"]},
        "view": first,
        "actions": [next_button],
    }
    interact(web_url, payload)
    second = wait_for_home(slack, USER, "page 2 of 25")
    assert "team-00020" not in block_texts(first)
    assert "<#C00020>" in block_texts(second)


def test_topics_and_history_answer_in_the_channel(
    archive: None, web_url: str, slack: FakeSlack
) -> None:
    topics = said(slash(web_url, slack, "topics"))
    assert topics.index("AI Advances — 6") < topics.index("Security — 3")
    assert "Meta — 5" in topics
    assert "`entity:meta`" in topics
    assert "Quantum" not in topics  # only the last 30 days count

    slash(web_url, slack, "subscribe entity:meta")
    slash(web_url, slack, "unsubscribe entity:meta")
    history = said(slash(web_url, slack, "history"))
    assert history.index("unsubscribed") < history.index("subscribed subscription")
    assert "<@U123>" in history
    assert "`entity:meta`" in history


def test_from_a_dm_the_form_subscribes_the_person(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    slack.add_channel("D0USER", "directmessage")
    view = open_form(web_url, slack, channel="D0USER", channel_name="directmessage")
    assert "come to you here, by direct message" in block_texts(view)

    submit(web_url, view, picked("topic", "ai-advances"))

    posted = slack.wait_for_calls("chat.postMessage", 1)[-1]
    assert posted.params["channel"] == "D0USER"
    assert "now subscribed" in posted.params["text"]
    with transaction(services.sessions) as session:
        # Kept under the person's user ID, as `subscribe me` does (issue 9).
        assert [s.filter for s in channel_subscriptions(session, USER)] == ["topic:ai-advances"]


def test_when_slack_will_not_open_the_form_the_person_is_told(
    archive: None, web_url: str, slack: FakeSlack
) -> None:
    answer = said(slash(web_url, slack, "subscribe", trigger_id="expired-trigger"))

    assert "Slack did not open the form (`expired_trigger_id`)" in answer
    assert "/signals subscribe FILTER" in answer


def test_add_on_the_home_tab_asks_a_manager_which_channel(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    add = {"action_id": "home_add", "type": "button", "block_id": "b"}
    payload = {
        "type": "block_actions",
        "user": user_of(USER),
        "trigger_id": "t-add",
        "container": {"type": "view", "view_id": "VH"},
        "actions": [add],
    }
    assert interact(web_url, payload).status_code == 200
    slack.wait_for_calls("views.open", 1)
    form = slack.modal(_opened_id(slack))
    assert element(form, "channel")["type"] == "conversations_select"

    missing = submit(web_url, form, picked("topic", "security"))
    assert missing["errors"] == {"channel": "Choose the channel the briefs go to."}

    assert submit(web_url, form, {**picked("topic", "security"), **chosen_channel(CHANNEL)}) is None
    ephemeral = slack.wait_for_calls("chat.postEphemeral", 1)[-1]
    assert "now subscribed to briefs with topic security" in ephemeral.params["text"]
    with transaction(services.sessions) as session:
        assert [s.filter for s in channel_subscriptions(session, CHANNEL)] == ["topic:security"]


def test_the_home_tab_shows_a_persons_own_subscriptions_apart(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    from bot.store.subscriptions import ChannelRef, add_subscription

    with transaction(services.sessions) as session:
        add_subscription(session, ChannelRef(USER, user_id=USER), "entity:meta")
        add_subscription(session, ChannelRef("U0OTHER", user_id="U0OTHER"), "entity:ibm")
        add_subscription(session, ChannelRef(CHANNEL, "ai-news", user_id=USER), "topic:security")

    event(web_url, {"type": "app_home_opened", "user": USER, "tab": "home"})
    home = wait_for_home(slack, USER, "Your subscriptions")

    text = block_texts(home)
    mine, channels = text.split("Channel subscriptions")
    assert "entity:meta" in mine
    assert "home_subscription_1" in mine  # Edit / Remove on one's own
    assert "entity:ibm" not in text  # someone else's stays theirs
    assert "(1)" in channels[:10]
    assert "topic:security" in channels


def delivery(digest: str, time: str, tz: str, fmt: str) -> dict[str, Any]:
    return {
        "digest": {"modal_digest": {"selected_option": {"value": digest}}},
        "digest_time": {"modal_digest_time": {"selected_time": time}},
        "tz": {"modal_tz": {"value": tz}},
        "format": {"modal_format": {"selected_option": {"value": fmt}}},
    }


def test_the_form_sets_digest_time_zone_and_format_and_edits_them(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    from bot.store.subscriptions import options_of

    view = open_form(web_url, slack)
    assert element(view, "digest")["initial_option"]["value"] == "off"

    bad = submit(
        web_url,
        view,
        {**picked("topic", "security"), **delivery("daily", "08:00", "Mars/Olympus", "full")},
    )
    assert "Mars/Olympus" in bad["errors"]["tz"]

    values = {
        **picked("topic", "security"),
        **delivery("weekly@mon", "09:30", "Europe/London", "compact"),
    }
    assert submit(web_url, view, values) is None
    slack.wait_for_calls("chat.postEphemeral", 1)
    with transaction(services.sessions) as session:
        [row] = channel_subscriptions(session, CHANNEL)
        assert (
            options_of(row).canonical == "digest=weekly@mon@09:30 tz=Europe/London format=compact"
        )
        [change] = recent_changes(session, channel_id=CHANNEL)
    assert change.after == "topic:security digest=weekly@mon@09:30 tz=Europe/London format=compact"

    form = SubscribeModal(services.commands).edit_view(row.id)
    assert form is not None
    assert element(form, "digest")["initial_option"]["value"] == "weekly@mon"
    assert element(form, "digest_time")["initial_time"] == "09:30"
    assert element(form, "format")["initial_option"]["value"] == "compact"


def test_the_home_tab_lists_mutes_and_unmutes_them(
    archive: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    assert "Muted" in said(slash(web_url, slack, "mute entity:meta for 1d"))
    home = wait_for_home(slack, USER, "Mutes in force* (1)")
    assert "briefs from entity meta" in block_texts(home)

    unmute = {"action_id": "home_unmute_1", "type": "button", "value": "1", "block_id": "b"}
    payload = {
        "type": "block_actions",
        "user": user_of(USER),
        "trigger_id": "t",
        "container": {"type": "view", "view_id": home["id"]},
        "view": home,
        "actions": [unmute],
    }
    assert interact(web_url, payload).status_code == 200
    after = wait_for_home(slack, USER, "Unmuted")
    assert "Mutes in force" not in block_texts(after)
    with transaction(services.sessions) as session:
        actions = [(c.action, c.subject) for c in recent_changes(session, channel_id=CHANNEL)]
    assert actions[:2] == [("unmuted", "mute"), ("muted", "mute")]
    assert "unmuted mute #1" in said(slash(web_url, slack, "history"))
