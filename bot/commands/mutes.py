"""`mute`, `unmute`, and the mute menu on every posted brief: quiet a channel (or yourself)
for a while without unsubscribing. Muted briefs stay searchable and are never back-posted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts.mute_terms import MUTE_EXAMPLE, parse_duration, parse_mute
from bot.alerts.options import is_known_zone
from bot.commands.base import CommandContext, Reply, channel_label, personal_target
from bot.errors import FilterError
from bot.filters import SignalFilter, normalized_value, parse_filter
from bot.store.alert_models import Mute
from bot.store.db import transaction
from bot.store.history import record_change
from bot.store.models import StoredSignal, is_user_id
from bot.store.mutes import active_mutes, add_mute, remove_mutes
from bot.store.subscriptions import ChannelRef

MENU_FIELDS = ("entity", "topic")
MENU_DURATIONS = {"1d": "1 day", "1w": "1 week"}


@dataclass(frozen=True, slots=True)
class ListedMute:
    id: int
    description: str
    until: datetime

    @property
    def until_unix(self) -> int:
        return int(self.until.timestamp())


def mute(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    """`mute [me] FILTER for DURATION|until YYYY-MM-DD`."""
    target, rest = personal_target(args, where)
    if not rest.strip():
        raise FilterError(f"Say what to mute and for how long: {MUTE_EXAMPLE}.")
    zone = _zone_of(context, where) if " until " in f" {rest.lower()} " else ZoneInfo("UTC")
    request = parse_mute(rest, now=context.clock.now(), zone=zone)
    if refusal := context.refusal(target):
        return refusal
    return _muted(context, request.signal_filter, request.until, target, where.user_id)


def unmute(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    """`unmute [me] ID|all`."""
    target, rest = personal_target(args, where)
    word = rest.strip().lstrip("#").lower()
    if word != "all" and not word.isdigit():
        raise FilterError("Say which mute to end: `unmute ID` (see `list`) or `unmute all`.")
    if refusal := context.refusal(target):
        return refusal
    with transaction(context.sessions) as session:
        ended = remove_mutes(
            session,
            target.channel_id,
            None if word == "all" else int(word),
            now=context.clock.now(),
        )
        for row in ended:
            _record(session, target, where.user_id, "unmuted", row, ended=True)
        described = [f"{parse_filter(row.filter).describe()} (#{row.id})" for row in ended]
    context.changes.changed_by(where.user_id, where.team_id)
    if not described:
        return context.notice(
            ":grey_question:", "No mute in force matches that. `list` shows them."
        )
    return context.notice(":loud_sound:", "Unmuted: " + "; ".join(described) + ".")


def mute_from_menu(context: CommandContext, choice: str, where: ChannelRef) -> Reply:
    """A choice from a posted brief's mute menu: `FIELD:DURATION:SIGNAL_ID`."""
    field, _, rest = choice.partition(":")
    duration, _, signal_id = rest.partition(":")
    if field not in MENU_FIELDS or duration not in MENU_DURATIONS:
        raise FilterError("That mute choice is not one I offer; try `/signals mute` instead.")
    with transaction(context.sessions) as session:
        signal = session.scalar(select(StoredSignal).where(StoredSignal.id == signal_id))
        value = str(getattr(signal, field, "") or "").strip() if signal is not None else ""
    if not value:
        raise FilterError(f"That brief has no {field} to mute.")
    normalized = normalized_value(field, value)
    signal_filter = SignalFilter(
        include={field: frozenset({normalized})}, labels={(field, normalized): value}
    )
    target, _ = personal_target("", where)
    if refusal := context.refusal(target):
        return refusal
    until = context.clock.now() + parse_duration(duration)
    return _muted(context, signal_filter, until, target, where.user_id, undo=True)


def undo_mute(context: CommandContext, value: str, where: ChannelRef) -> Reply:
    """The Undo button under a mute's answer."""
    target, _ = personal_target("", where)
    mute_id = int(value) if value.isdigit() else -1
    if refusal := context.refusal(target):
        return refusal
    with transaction(context.sessions) as session:
        ended = remove_mutes(session, target.channel_id, mute_id, now=context.clock.now())
        for row in ended:
            _record(session, target, where.user_id, "unmuted", row, ended=True)
        described = [parse_filter(row.filter).describe() for row in ended]
    context.changes.changed_by(where.user_id, where.team_id)
    if not described:
        return context.notice(":grey_question:", "That mute has already ended.")
    return context.notice(":loud_sound:", f"Undone: {described[0]} will be posted again.")


def listed_mutes(session: Session, channel_id: str, now: datetime) -> list[ListedMute]:
    return [
        ListedMute(row.id, parse_filter(row.filter).describe(), row.until)
        for row in active_mutes(session, now=now, channel_id=channel_id)
    ]


def _muted(
    context: CommandContext,
    signal_filter: SignalFilter,
    until: datetime,
    target: ChannelRef,
    who: str,
    *,
    undo: bool = False,
) -> Reply:
    with transaction(context.sessions) as session:
        row = add_mute(
            session,
            channel_id=target.channel_id,
            canonical_filter=signal_filter.canonical,
            until=until,
            who=who,
            team_id=target.team_id,
        )
        mute_id, until = row.id, row.until
        _record(session, target, who, "muted", row)
    context.changes.changed_by(who, target.team_id)
    here = "for you" if is_user_id(target.channel_id) else f"in {channel_label(target)}"
    message = context.renderer.render(
        "mute.json.j2",
        what=f"{_sentence_case(signal_filter.describe())} {here}",
        until_unix=int(until.timestamp()),
        until_text=f"{until:%Y-%m-%d %H:%M} UTC",
        mute_id=mute_id,
        undo=undo,
    )
    return Reply(message)


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _zone_of(context: CommandContext, where: ChannelRef) -> ZoneInfo:
    zone = context.people.time_zone(where.user_id, where.team_id)
    return ZoneInfo(zone) if zone and is_known_zone(zone) else ZoneInfo("UTC")


def _record(
    session: Session, target: ChannelRef, who: str, action: str, row: Mute, *, ended: bool = False
) -> None:
    typed = f"{row.filter} until {row.until:%Y-%m-%d %H:%M} UTC"
    record_change(
        session,
        channel_id=target.channel_id,
        team_id=target.team_id,
        actor=who,
        action=action,
        subject="mute",
        subject_id=row.id,
        before=typed if ended else None,
        after=None if ended else typed,
    )
