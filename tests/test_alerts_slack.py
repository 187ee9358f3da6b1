"""Mutes, the mute menu, personal alerts and bad input, end to end: signed requests into the
real Bolt app behind waitress, the real slack-sdk client, the fake Slack on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alerts_helpers import (
    CHANNEL,
    USER,
    arrive,
    brief,
    choose,
    deliver,
    posted_titles,
    slash,
    states,
    subscriptions,
)
from conftest import run_cli
from fake_slack import FakeSlack
from sqlalchemy import func, select

from bot.app import Services
from bot.deliver.clock import ManualClock
from bot.store.alert_models import Mute
from bot.store.db import transaction

pytestmark = pytest.mark.manual_clock

DM = "D" + USER[1:]  # the app's direct message with USER, as the fake Slack names it


@pytest.fixture
def channel(slack: FakeSlack) -> str:
    slack.add_channel(CHANNEL, "alerts")
    slack.add_user(USER, tz="Europe/London")
    return CHANNEL


def mute_count(services: Services) -> int:
    with transaction(services.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(Mute)) or 0)


# --- mutes --------------------------------------------------------------------------------------


def test_a_mute_holds_matching_briefs_back_until_it_ends(
    services: Services,
    slack: FakeSlack,
    web_url: str,
    clock: ManualClock,
    channel: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slash(web_url, slack, "subscribe all")
    answer = slash(web_url, slack, "mute entity:Meta for 6h")
    assert "Muted" in answer
    assert "from entity Meta in #alerts" in answer
    assert "2030-01-07 13:00 UTC" in answer  # the fallback of Slack's <!date> in the reader's zone

    arrive(services, clock, brief("Muse Spark"), brief("Patch Tuesday", entity="Microsoft"))
    deliver(services)
    assert posted_titles(slack, channel) == ["Patch Tuesday"]
    assert states(services)[f"Muse Spark@{channel}"] == "muted"
    listed = slash(web_url, slack, "list")
    assert "Muted" in listed
    assert "from entity meta" in listed
    assert "unmute" in listed

    monkeypatch.setenv("DATABASE_URL", services.settings.database_url.get_secret_value())
    code, out, _ = run_cli(capsys, "deliveries")
    assert code == 0
    assert "1 muted" in out
    assert "muted:" in out

    clock.advance(timedelta(hours=6, seconds=1).total_seconds())  # it ends by itself
    arrive(services, clock, brief("Llama 5"))
    deliver(services)
    assert posted_titles(slack, channel) == ["Patch Tuesday", "Llama 5"]
    assert "Muted" not in slash(web_url, slack, "list")


def test_unmute_one_or_all(
    services: Services, slack: FakeSlack, web_url: str, channel: str
) -> None:
    slash(web_url, slack, "mute entity:Meta for 1d")
    slash(web_url, slack, "mute ai-advances until 2030-02-01")
    assert "until" in slash(web_url, slack, "list")

    assert "Unmuted: briefs from entity meta (#1); briefs with topic ai-advances (#2)." in slash(
        web_url, slack, "unmute all"
    )
    assert mute_count(services) == 0
    assert "No mute in force" in slash(web_url, slack, "unmute 1")


def test_the_mute_menu_on_a_post_mutes_and_undo_works(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, channel: str
) -> None:
    slash(web_url, slack, "subscribe all")
    arrive(services, clock, brief("Muse Spark"))
    deliver(services)
    (post,) = slack.messages(channel)
    menu = post["blocks"][-1]["elements"][0]
    assert menu["action_id"].startswith("mute")
    week = next(option for option in menu["options"] if option["text"]["text"].endswith("1 week"))

    answer = choose(web_url, slack, {**menu, "selected_option": week})

    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] is False
    text = str(answer["blocks"])
    assert "from entity Meta in #alerts" in text
    assert "2030-01-14 07:00 UTC" in text
    (undo,) = [element for element in answer["blocks"][-1]["elements"]]
    assert undo["text"]["text"] == "Undo"

    arrive(services, clock, brief("Llama 5"))
    deliver(services)
    assert posted_titles(slack, channel) == ["Muse Spark"]

    undone = choose(web_url, slack, undo, tag="undo")
    assert "Undone" in str(undone["blocks"])
    assert undone["replace_original"] is True
    arrive(services, clock, brief("Code World Model"))
    deliver(services)
    assert posted_titles(slack, channel) == ["Muse Spark", "Code World Model"]
    assert "already ended" in str(choose(web_url, slack, undo, tag="again")["blocks"])


def test_a_forged_mute_choice_gets_an_answer_and_changes_nothing(
    services: Services, slack: FakeSlack, web_url: str, channel: str
) -> None:
    forged = {"type": "overflow", "action_id": "mute_menu", "selected_option": {"value": "x:9y:z"}}

    answer = choose(web_url, slack, forged)

    assert "not one I offer" in str(answer)
    assert mute_count(services) == 0


# --- personal alerts ----------------------------------------------------------------------------


def test_subscribe_me_delivers_by_direct_message_once(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, channel: str
) -> None:
    answer = slash(web_url, slack, "subscribe me entity:Meta")
    assert "You are now subscribed" in answer
    assert "direct message" in answer
    slash(web_url, slack, "subscribe ai-advances format=compact", channel=DM)  # typed in the DM
    assert "#alerts" not in slash(web_url, slack, "list me")
    assert subscriptions(services) == [
        (USER, "entity:meta", None, None, "full"),
        (USER, "topic:ai-advances", None, None, "compact"),
    ]

    arrive(services, clock, brief("Muse Spark"))  # matches both: one DM
    deliver(services)

    assert posted_titles(slack, DM) == ["Muse Spark"]
    assert [call.params["users"] for call in slack.calls("conversations.open")] == [USER]
    assert slack.messages(channel) == []
    assert "Unsubscribed you from" in slash(web_url, slack, "unsubscribe me entity:Meta")
    assert len(subscriptions(services)) == 1


def test_mute_me_quiets_only_my_direct_messages(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, channel: str
) -> None:
    slash(web_url, slack, "subscribe all")
    slash(web_url, slack, "subscribe me all")
    assert "for you" in slash(web_url, slack, "mute me entity:Meta for 2w")

    arrive(services, clock, brief("Muse Spark"))
    deliver(services)

    assert posted_titles(slack, channel) == ["Muse Spark"]
    assert states(services)[f"Muse Spark@{USER}"] == "muted"
    assert "from entity meta" in slash(web_url, slack, "list me")


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (FakeSlack.deactivate_user, "account is deactivated"),
        (FakeSlack.close_dm, "direct messages with the app are closed"),
    ],
)
def test_a_deactivated_user_or_closed_dm_pauses_the_personal_subscription(
    services: Services,
    slack: FakeSlack,
    web_url: str,
    clock: ManualClock,
    channel: str,
    break_it: object,
    reason: str,
) -> None:
    slash(web_url, slack, "subscribe me all")
    arrive(services, clock, brief("Muse Spark"))
    deliver(services)
    break_it(slack, USER)  # type: ignore[operator]

    arrive(services, clock, brief("Llama 5"))
    deliver(services)

    assert posted_titles(slack, DM) == ["Muse Spark"]
    listed = slash(web_url, slack, "list me")
    assert "paused" in listed
    assert reason in listed
    assert states(services)[f"Llama 5@{USER}"] == "paused"


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named", "example"),
    [
        ("subscribe all colour=red", "colour=", "digest=daily@08:00"),
        ("subscribe all digest=daily@25:00", "25:00", "digest=daily@08:00"),
        ("subscribe all digest=daily@08:00 tz=Mars/Olympus", "Mars/Olympus", "tz=Europe/London"),
        ("subscribe all format=tiny", "format=tiny", "format=compact"),
        ("subscribe digest=daily@08:00", "Say which briefs", "subscribe ai-advances"),
        ("subscribe me", "Say what to subscribe to", "subscribe ai-advances"),
        ("mute entity:Meta for 0h", "0h", "for 1h"),
        ("mute entity:Meta for 400d", "400d", "52w"),
        ("mute entity:Meta for ever", "ever", "for 6h"),
        ("mute entity:Meta", "for how long", "mute entity:Meta for 6h"),
        ("unmute soon", "unmute ID", "unmute all"),
    ],
)
def test_bad_input_names_the_word_gives_an_example_and_changes_nothing(
    services: Services,
    slack: FakeSlack,
    web_url: str,
    channel: str,
    text: str,
    named: str,
    example: str,
) -> None:
    answer = slash(web_url, slack, text)

    assert named in answer
    assert example in answer
    assert '"response_type": "ephemeral"' in answer
    assert subscriptions(services) == []
    assert mute_count(services) == 0


# --- options ------------------------------------------------------------------------------------


def test_options_are_stored_shown_and_changed_by_subscribing_again(
    services: Services, slack: FakeSlack, web_url: str, channel: str
) -> None:
    slack.add_user("U0TOKYO", tz="Asia/Tokyo")

    answer = slash(web_url, slack, "subscribe entity:Meta digest=weekly@fri@17:30", user="U0TOKYO")
    assert "in a weekly digest on Fri at 17:30 (Asia/Tokyo)" in answer
    assert "The next digest is due Fri 11 Jan 17:30 (Asia/Tokyo)" in answer
    changed = slash(web_url, slack, "subscribe entity:Meta format=compact", user="U0TOKYO")
    assert "Updated the options" in changed
    assert "as they arrive, compact" in changed
    slash(web_url, slack, "subscribe ai-advances digest=daily@08:00", user="U0NOBODY")

    assert subscriptions(services) == [
        (channel, "entity:meta", None, None, "compact"),  # the options typed replace the old
        (channel, "topic:ai-advances", "daily@08:00", "UTC", "full"),
    ]
    listed = slash(web_url, slack, "list")
    assert "(as they arrive, compact (analysis in a thread))" in listed
    assert "(in a daily digest at 08:00 (UTC))" in listed


def test_the_subscribe_path_is_a_plain_function_for_the_modal_and_app_home(
    services: Services, channel: str
) -> None:
    from bot.alerts.options import parse_options
    from bot.commands.subscriptions import subscribe_to
    from bot.filters import parse_filter
    from bot.store.subscriptions import ChannelRef

    reply = subscribe_to(
        services.commands.context,
        parse_filter("entity:Meta"),
        parse_options(["digest=daily@07:45", "tz=Europe/Paris"]),
        ChannelRef(channel_id=USER, user_id=USER),
        who=USER,
    )

    assert "You are now subscribed" in reply.message.text
    assert subscriptions(services) == [(USER, "entity:meta", "daily@07:45", "Europe/Paris", "full")]


def test_ended_mutes_are_tidied_away_and_running_ones_kept(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, channel: str
) -> None:
    from bot.store.mutes import delete_expired

    slash(web_url, slack, "mute entity:Meta for 1h")
    slash(web_url, slack, "mute entity:OpenAI for 2d")

    with transaction(services.sessions) as session:
        deleted = delete_expired(session, now=clock.now() + timedelta(days=1))

    assert deleted == 1
    assert mute_count(services) == 1
