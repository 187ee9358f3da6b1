"""The App Home tab: what a user receives, what the workspace's channels receive, the latest
briefs, and for managers source health and recent changes. A pure function of HomeData.

Slack allows 100 blocks in a home view: subscriptions are shown a page at a time (PAGE_SIZE, with
Previous / Next), and every other list is one section, so a view never exceeds about 50 blocks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.render import mrkdwn
from bot.slack.views import checked_view, mrkdwn_text, plain_text
from bot.store.overview import is_personal

_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{2,}$")
PAGE_SIZE = 20
PERSONAL_SHOWN = 10
ADD_ACTION = "home_add"
PAGE_ACTION = "home_page"
SUBSCRIPTION_MENU = "home_subscription"
UNMUTE_ACTION = "home_unmute"
MUTES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class ShownSubscription:
    id: int
    channel_id: str
    canonical: str
    description: str
    paused_reason: str | None
    options: str = ""


@dataclass(frozen=True, slots=True)
class ShownMute:
    id: int
    channel_id: str
    description: str
    until: datetime


@dataclass(frozen=True, slots=True)
class ShownBrief:
    id: str
    title: str
    entity: str
    category: str
    published: datetime


@dataclass(frozen=True, slots=True)
class ShownSource:
    name: str
    failing: bool
    failing_for_long: bool
    last_poll_at: str | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ShownChange:
    at: datetime
    channel_id: str
    actor: str
    action: str
    subject: str
    subject_id: int | None
    after: str | None


@dataclass(frozen=True)
class HomeData:
    user_id: str
    is_manager: bool
    who_may: str
    personal: Sequence[ShownSubscription] = ()
    channel_subscriptions: Sequence[ShownSubscription] = ()
    total_channel_subscriptions: int = 0
    page: int = 0
    mutes: Sequence[ShownMute] = ()
    latest: Sequence[ShownBrief] = ()
    sources: Sequence[ShownSource] = ()
    changes: Sequence[ShownChange] = ()
    notice: str | None = None  # mrkdwn, escaped by whoever wrote it


def home_view(data: HomeData) -> dict[str, Any]:
    """The home tab's view, validated like Slack would."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text("Signal briefs", 150)},
    ]
    if data.notice:
        blocks.append({"type": "section", "text": mrkdwn_text(data.notice)})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ADD_ACTION,
                    "style": "primary",
                    "text": plain_text("Add a subscription", 75),
                }
            ],
        }
    )
    blocks += _personal(data)
    blocks += _channels(data)
    blocks += _mutes(data)
    blocks += _latest(data.latest)
    if data.is_manager:
        blocks += _sources(data.sources)
        blocks += _changes(data.changes)
    else:
        note = f"Only {data.who_may} can change channel subscriptions."
        blocks.append({"type": "context", "elements": [mrkdwn_text(note)]})
    return checked_view({"type": "home", "blocks": blocks})


def page_count(total: int) -> int:
    return max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def _personal(data: HomeData) -> list[dict[str, Any]]:
    title = "*Your subscriptions*"
    if not data.personal:
        empty = f"{title}\nNone yet. Subscribe in a direct message with me to get briefs yourself."
        return [{"type": "divider"}, {"type": "section", "text": mrkdwn_text(empty)}]
    rows = [_subscription_row(sub, editable=True) for sub in data.personal[:PERSONAL_SHOWN]]
    return [{"type": "divider"}, {"type": "section", "text": mrkdwn_text(title)}, *rows]


def _channels(data: HomeData) -> list[dict[str, Any]]:
    total, pages = data.total_channel_subscriptions, page_count(data.total_channel_subscriptions)
    title = f"*Channel subscriptions* ({total})"
    if pages > 1:
        title += f" · page {data.page + 1} of {pages}"
    if not total:
        title += "\nNo channel is subscribed yet: *Add a subscription*, or `/signals subscribe`."
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        {"type": "section", "text": mrkdwn_text(title)},
    ]
    blocks += [
        _subscription_row(sub, editable=data.is_manager) for sub in data.channel_subscriptions
    ]
    if pages > 1:
        blocks.append(_pager(data.page, pages))
    return blocks


def _subscription_row(sub: ShownSubscription, *, editable: bool) -> dict[str, Any]:
    where = "" if is_personal(sub.channel_id) else f"{channel_mention(sub.channel_id)} · "
    if sub.paused_reason:
        state = f":double_vertical_bar: paused: {mrkdwn(sub.paused_reason)}"
    else:
        state = ":large_green_circle: active"
    delivered = mrkdwn(sub.options) or "as they arrive"
    text = (
        f"{where}{mrkdwn(sub.description)}\n"
        f"`#{sub.id}` `{mrkdwn(sub.canonical)}` · {delivered} · {state}"
    )
    block: dict[str, Any] = {"type": "section", "text": mrkdwn_text(text)}
    if editable:
        block["accessory"] = {
            "type": "overflow",
            "action_id": f"{SUBSCRIPTION_MENU}_{sub.id}",  # unique within the view
            "options": [
                {"text": plain_text("Edit…", 75), "value": f"edit:{sub.id}"},
                {"text": plain_text("Remove", 75), "value": f"remove:{sub.id}"},
            ],
        }
    return block


def _mutes(data: HomeData) -> list[dict[str, Any]]:
    if not data.mutes:
        return []
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        {"type": "section", "text": mrkdwn_text(f"*Mutes in force* ({len(data.mutes)})")},
    ]
    for mute in data.mutes[:MUTES_SHOWN]:
        where = "For you" if is_personal(mute.channel_id) else channel_mention(mute.channel_id)
        fallback = f"until {mute.until:%Y-%m-%d %H:%M} UTC"
        until = (
            f"<!date^{int(mute.until.timestamp())}^until {{date_short_pretty}} {{time}}|{fallback}>"
        )
        text = f"{where} · {mrkdwn(mute.description)} · {until} · `#{mute.id}`"
        block: dict[str, Any] = {"type": "section", "text": mrkdwn_text(text)}
        if data.is_manager or is_personal(mute.channel_id):
            block["accessory"] = {
                "type": "button",
                "action_id": f"{UNMUTE_ACTION}_{mute.id}",
                "text": plain_text("Unmute", 75),
                "value": str(mute.id),
            }
        blocks.append(block)
    return blocks


def _pager(page: int, pages: int) -> dict[str, Any]:
    buttons = []
    if page > 0:
        buttons.append(_page_button("Previous", page - 1, "home_page_previous"))
    if page + 1 < pages:
        buttons.append(_page_button("Next", page + 1, "home_page_next"))
    return {"type": "actions", "block_id": PAGE_ACTION, "elements": buttons}


def _page_button(label: str, page: int, action_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": plain_text(label, 75),
        "value": str(page),
    }


def _latest(briefs: Sequence[ShownBrief]) -> list[dict[str, Any]]:
    if not briefs:
        return []
    lines = [
        f"• *{mrkdwn(brief.title)}* — "
        + " · ".join(mrkdwn(part) for part in (brief.entity, brief.category) if part)
        + f" · {brief.published:%Y-%m-%d} · `{mrkdwn(brief.id)}`"
        for brief in briefs
    ]
    text = "*Latest briefs*\n" + "\n".join(lines)
    return [{"type": "divider"}, {"type": "section", "text": mrkdwn_text(text)}]


def _sources(sources: Sequence[ShownSource]) -> list[dict[str, Any]]:
    if not sources:
        return []
    lines = []
    for source in sources:
        if source.failing:
            icon = ":red_circle:" if source.failing_for_long else ":large_orange_circle:"
            state = f"failing: {mrkdwn(source.last_error or '')}"
        else:
            icon, state = ":large_green_circle:", "ok"
        polled = source.last_poll_at[:16].replace("T", " ") if source.last_poll_at else "never"
        lines.append(f"{icon} *{mrkdwn(source.name)}* {state} · last poll {polled}")
    text = "*Source health*\n" + "\n".join(lines)
    return [{"type": "divider"}, {"type": "section", "text": mrkdwn_text(text)}]


def _changes(changes: Sequence[ShownChange]) -> list[dict[str, Any]]:
    if not changes:
        return []
    lines = [
        f"`{change.at:%Y-%m-%d %H:%M}` {_actor(change.actor)} {mrkdwn(change.action)} "
        f"{change.subject}{f' #{change.subject_id}' if change.subject_id else ''}"
        + ("" if is_personal(change.channel_id) else f" in {channel_mention(change.channel_id)}")
        + (f": `{mrkdwn(change.after)}`" if change.after else "")
        for change in changes
    ]
    text = "*Recent changes*\n" + "\n".join(lines)
    return [{"type": "section", "text": mrkdwn_text(text)}]


def channel_mention(channel_id: str) -> str:
    """`<#C…>` for a Slack channel ID; anything else (`local`) as plain text."""
    return f"<#{channel_id}>" if _SLACK_ID.match(channel_id) else f"_{mrkdwn(channel_id)}_"


def _actor(actor: str) -> str:
    if actor[:1] in ("U", "W") and actor.isalnum():
        return f"<@{actor}>"
    return f"_{mrkdwn(actor)}_"
