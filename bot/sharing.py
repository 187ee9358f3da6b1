"""Share: post a brief from search results in the channel, once per (brief, channel).

The click first claims the (brief, channel) pair in its own transaction (a unique row), then
posts, then records the message. A second click, by anyone, finds the claim and posts nothing.
A post Slack refuses releases the claim, so a later click can try again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import SignalBotError
from bot.render import Message, Renderer, slack_date
from bot.store.db import transaction
from bot.store.shares import (
    existing_claim,
    insert_claim,
    record_share,
    release_share,
    take_over_claim,
)
from bot.store.signals import get_signal


class PostFailed(SignalBotError):
    """Slack would not take the post; the message says why, for the person who clicked."""


# (channel_id, parts: the post then its threaded replies, signal_key) -> the post's ts;
# raises PostFailed.
Publisher = Callable[[str, list[Message], str], str]


class Shared(StrEnum):
    POSTED = "posted"  # this click posted it
    ALREADY = "already"  # it was shared here before
    IN_PROGRESS = "in_progress"  # another click is posting it right now
    NO_SUCH_BRIEF = "no_such_brief"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ShareOutcome:
    result: Shared
    title: str = ""
    shared_by: str = ""
    shared_at: datetime | None = None
    reason: str = ""


def share_brief(
    sessions: sessionmaker[Session],
    renderer: Renderer,
    *,
    signal_id: str,
    channel_id: str,
    user_id: str,
    publish: Publisher,
    channel_problem: Callable[[], str | None],
    now: datetime,
) -> ShareOutcome:
    """Post the brief in the channel unless it was shared there already (as of `now`).

    `channel_problem` says why the bot cannot post in the channel (None when it can).
    """
    with transaction(sessions) as session:
        row = get_signal(session, signal_id)
        if row is None:
            return ShareOutcome(Shared.NO_SUCH_BRIEF)
        signal_id, signal = row.id, row.to_signal()
    if problem := channel_problem():
        return ShareOutcome(Shared.FAILED, signal.title, reason=problem)
    previous = _claim(sessions, signal_id, channel_id, user_id, now)
    if previous is not None:
        return ShareOutcome(previous[0], signal.title, previous[1], previous[2])
    try:
        message_ts = publish(channel_id, renderer.render_brief(signal), signal.key)
    except PostFailed as failure:
        with transaction(sessions) as session:
            release_share(session, signal_id, channel_id)
        return ShareOutcome(Shared.FAILED, signal.title, reason=str(failure))
    with transaction(sessions) as session:
        record_share(session, signal_id, channel_id, message_ts)
    return ShareOutcome(Shared.POSTED, signal.title, user_id, now)


def _claim(
    sessions: sessionmaker[Session], signal_id: str, channel_id: str, user_id: str, now: datetime
) -> tuple[Shared, str, datetime] | None:
    """None when this click may post; else what the existing claim says."""
    try:
        with transaction(sessions) as session:
            insert_claim(session, signal_id, channel_id, user_id, now)
        return None
    except IntegrityError:
        pass  # claimed before: see by whom, and whether it ever got posted
    with transaction(sessions) as session:
        claim = existing_claim(session, signal_id, channel_id)
        if claim is None:  # released in between: leave it to the next click
            return Shared.IN_PROGRESS, "", now
        if take_over_claim(session, claim, user_id, now):
            return None
        state = Shared.ALREADY if claim.message_ts else Shared.IN_PROGRESS
        return state, claim.shared_by, claim.claimed_at


def share_notice(outcome: ShareOutcome) -> tuple[str, str]:
    """The emoji and line that tell the person who clicked Share what happened."""
    title = f"“{outcome.title}”" if outcome.title else "That brief"
    when = f" on {slack_date(outcome.shared_at)}" if outcome.shared_at else ""
    if outcome.result is Shared.POSTED:
        return ":white_check_mark:", f"Shared {title} in this channel."
    if outcome.result is Shared.ALREADY:
        return ":information_source:", f"{title} was already shared in this channel{when}."
    if outcome.result is Shared.IN_PROGRESS:
        return ":hourglass_flowing_sand:", f"{title} is being shared in this channel right now."
    if outcome.result is Shared.NO_SUCH_BRIEF:
        return ":grey_question:", "That brief is no longer stored, so there is nothing to share."
    return ":warning:", f"I couldn't share {title} here: {outcome.reason}"
