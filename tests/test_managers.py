"""SIGNAL_BOT_MANAGERS: who may change channel subscriptions, through signed Slack requests."""

from __future__ import annotations

import pytest
from fake_slack import FakeSlack
from slack_requests import block_texts, event, said, slash, wait_for_home

from bot.app import Services
from bot.config import Settings
from bot.errors import ConfigError
from bot.managers import ManagerPolicy, Permissions, RoleUnknown
from bot.store.db import transaction
from bot.store.history import recent_changes
from bot.store.subscriptions import channel_subscriptions

CHANNEL = "C0AI"
BOSS, ADMIN, MEMBER = "U0BOSS", "U0ADMIN", "U0MEMBER"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"signal_bot_managers": f"admins, {BOSS}"})


@pytest.fixture
def workspace(slack: FakeSlack) -> None:
    slack.add_channel(CHANNEL, "ai-news")
    slack.add_user(BOSS)
    slack.add_user(ADMIN, admin=True)
    slack.add_user(MEMBER)


def test_a_member_is_refused_kindly_and_nothing_changes(
    workspace: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    answer = said(slash(web_url, slack, "subscribe topic:ai-advances", user=MEMBER))

    assert '"response_type": "ephemeral"' in answer
    assert "Only workspace admins and owners and <@U0BOSS> can change" in answer
    assert "You can still search" in answer
    with transaction(services.sessions) as session:
        assert channel_subscriptions(session, CHANNEL) == []
        assert recent_changes(session) == []
    assert "No briefs in the last 30 days" in said(slash(web_url, slack, "topics", user=MEMBER))
    assert "has no subscriptions yet" in said(slash(web_url, slack, "list", user=MEMBER))


def test_named_managers_and_workspace_admins_may_and_roles_are_cached(
    workspace: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    assert "is now subscribed" in said(slash(web_url, slack, "subscribe entity:meta", user=BOSS))
    assert slack.calls("users.info") == []  # named: no need to ask Slack

    assert "is now subscribed" in said(slash(web_url, slack, "subscribe ai", user=ADMIN))
    assert "Unsubscribed" in said(slash(web_url, slack, "unsubscribe ai", user=ADMIN))
    assert [call.params["user"] for call in slack.calls("users.info")] == [ADMIN]


def test_the_form_is_refused_and_anyone_may_subscribe_their_dm(
    workspace: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    refused = said(slash(web_url, slack, "subscribe", user=MEMBER))
    assert "Only workspace admins" in refused
    assert slack.calls("views.open") == []

    slack.add_channel("D0MEMBER", "directmessage")
    mine = slash(web_url, slack, "subscribe ai", channel="D0MEMBER", user=MEMBER)
    assert "You are now subscribed" in said(mine)
    anywhere = slash(web_url, slack, "subscribe me entity:meta", user=MEMBER)
    assert "You are now subscribed" in said(anywhere)
    muted = said(slash(web_url, slack, "mute entity:meta for 1d", user=MEMBER))
    assert "Only workspace admins" in muted
    own = said(slash(web_url, slack, "mute me entity:meta for 1d", user=MEMBER))
    assert "Muted: Briefs from entity meta for you" in own
    with transaction(services.sessions) as session:
        actions = [(c.channel_id, c.action, c.subject) for c in recent_changes(session)]
    assert actions[0] == (MEMBER, "muted", "mute")
    assert (MEMBER, "subscribed", "subscription") in actions


def test_members_see_the_home_tab_without_manager_parts(
    workspace: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    slash(web_url, slack, "subscribe entity:meta", user=BOSS)

    event(web_url, {"type": "app_home_opened", "user": MEMBER, "tab": "home"})
    home = wait_for_home(slack, MEMBER, "entity:meta")

    text = block_texts(home)
    assert "Source health" not in text
    assert "Recent changes" not in text
    assert "home_subscription" not in text  # no Edit / Remove on channel subscriptions
    assert "Only workspace admins and owners and <@U0BOSS> can change" in text


def test_when_slack_cannot_say_the_refusal_says_so(
    workspace: None, services: Services, web_url: str, slack: FakeSlack
) -> None:
    slack.fail_next("users.info", "internal_error", status=200, retry_after=None)
    answer = said(slash(web_url, slack, "subscribe ai", user=MEMBER))
    assert "could not check with Slack" in answer
    assert "internal_error" in answer


@pytest.mark.parametrize(
    ("setting", "user", "admin", "allowed"),
    [
        ("everyone", "U1", False, True),
        ("", "U1", False, True),
        ("admins", "U1", False, False),
        ("admins", "U1", True, True),
        ("U0A1 U0B2", "U0B2", False, True),
        ("U0A1,U0B2", "U0C3", False, False),
        ("U0A1", "", False, True),  # the CLI: whoever holds the database
    ],
)
def test_manager_policy(setting: str, user: str, admin: bool, allowed: bool) -> None:
    permissions = Permissions(ManagerPolicy.parse(setting), lambda user_id, team_id: admin)
    assert (permissions.refusal(user) is None) is allowed


def test_a_bad_setting_names_itself() -> None:
    with pytest.raises(ConfigError, match="SIGNAL_BOT_MANAGERS: bob"):
        ManagerPolicy.parse("admins bob")


def test_an_unknown_role_is_a_refusal_not_a_crash() -> None:
    def unknown(user_id: str, team_id: str) -> bool:
        raise RoleUnknown("users.info answered `ratelimited`")

    refusal = Permissions(ManagerPolicy.parse("admins"), unknown).refusal("U1")
    assert refusal is not None
    assert "ratelimited" in refusal
