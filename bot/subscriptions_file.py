"""Subscriptions as a YAML file: `signal-bot subscriptions export` and `… import FILE`.

The file, as exported (comments name the channels; JSON-style quoting keeps every value exact):

    subscriptions:
      # #ai-news
      - channel: "C0AI"
        filter: "topic:ai-advances"

Import checks the whole file first, naming the line of every problem, and applies nothing when
any entry is bad; then it adds what is missing in one transaction. Importing the same file again
changes nothing. It never removes a subscription the file does not list (`unsubscribe` does that).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts.options import AlertOptions, parse_options
from bot.errors import FilterError, SignalBotError
from bot.filters import parse_filter
from bot.store.history import ACTOR_IMPORT, record_change
from bot.store.models import Subscription, utcnow
from bot.store.mutes import active_mutes, add_mute
from bot.store.overview import is_personal
from bot.store.subscriptions import ChannelRef, find_subscription, options_of, save_subscription

ENTRY_KEYS = frozenset(
    {"channel", "channel_name", "filter", "paused", "digest", "tz", "format", "created_by"}
)
OPTION_KEYS = ("digest", "tz", "format")
_CHANNEL_ID = re.compile(r"^[CDGUW][A-Z0-9]{2,}$|^local$")


class ImportRejected(SignalBotError):
    """A file that cannot be imported; `problems` are `line N: what is wrong`, in file order."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("nothing was imported:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Entry:
    line: int
    channel_id: str
    channel_name: str
    canonical: str
    options: AlertOptions


@dataclass(frozen=True, slots=True)
class MuteEntry:
    line: int
    channel_id: str
    canonical: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Planned:
    """What importing one entry does: `add`, `update` (its options) or `unchanged`."""

    action: str
    entry: Entry | MuteEntry


def export_yaml(session: Session, *, now: datetime) -> str:
    """Every subscription as YAML, by channel, each channel named in a comment."""
    rows = session.scalars(
        select(Subscription).order_by(Subscription.channel_id, Subscription.id)
    ).all()
    lines = [
        f"# signal-bot subscriptions, exported {now:%Y-%m-%d %H:%M} UTC.",
        "# `signal-bot subscriptions import FILE` applies this file: idempotent, all or nothing.",
        "subscriptions:" if rows else "subscriptions: []",
    ]
    named = None
    for row in rows:
        if row.channel_id != named:
            named = row.channel_id
            lines.append(f"  # {_channel_comment(row)}")
        lines.append(f"  - channel: {_quoted(row.channel_id)}")
        if row.channel_name:
            lines.append(f"    channel_name: {_quoted(row.channel_name)}")
        lines.append(f"    filter: {_quoted(row.filter)}")
        options = options_of(row)
        if options.digest is not None:
            lines.append(f"    digest: {_quoted(options.digest.canonical)}")
            lines.append(f"    tz: {_quoted(options.tz or 'UTC')}")
        if options.format != "full":
            lines.append(f"    format: {_quoted(options.format)}")
        if row.paused_reason:
            lines.append(f"    paused: {_quoted(row.paused_reason)}  # kept as is on import")
    mutes = active_mutes(session, now=now)
    lines.append("mutes:" if mutes else "mutes: []")
    for mute in mutes:
        lines.append(f"  - channel: {_quoted(mute.channel_id)}")
        lines.append(f"    filter: {_quoted(mute.filter)}")
        lines.append(f"    until: {_quoted(mute.until.isoformat())}")
    return "\n".join(lines) + "\n"


def read_entries(text: str) -> list[Entry | MuteEntry]:
    """The file's entries, or ImportRejected naming the line of every problem."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ImportRejected([f"{where}not YAML: {getattr(error, 'problem', error)}"]) from error
    problems: list[str] = []
    entries: list[Entry | MuteEntry] = [*_entries(root, problems), *_mute_entries(root, problems)]
    if problems:
        raise ImportRejected(problems)
    return entries


def plan_import(session: Session, entries: list[Entry | MuteEntry]) -> list[Planned]:
    """What importing the entries would change; nothing is written."""
    planned: list[Planned] = []
    seen: set[tuple[str, str]] = set()
    now = utcnow()
    for entry in entries:
        if isinstance(entry, MuteEntry):
            held = active_mutes(session, now=now, channel_id=entry.channel_id)
            covered = entry.until <= now or any(
                m.filter == entry.canonical and m.until >= entry.until for m in held
            )
            planned.append(Planned("unchanged" if covered else "add", entry))
            continue
        key = (entry.channel_id, entry.canonical)
        found = find_subscription(session, *key)
        if key in seen or (found is not None and options_of(found) == entry.options):
            action = "unchanged"
        else:
            action = "add" if found is None else "update"
        planned.append(Planned(action, entry))
        seen.add(key)
    return planned


def apply_import(session: Session, planned: list[Planned]) -> None:
    """Add the planned subscriptions (in the caller's transaction), each recorded in history."""
    for step in planned:
        if step.action == "unchanged":
            continue
        entry = step.entry
        if isinstance(entry, MuteEntry):
            _import_mute(session, entry)
            continue
        where = ChannelRef(entry.channel_id, entry.channel_name, user_id=ACTOR_IMPORT)
        existing = find_subscription(session, entry.channel_id, entry.canonical)
        before = _typed(existing) if existing else None
        saved = save_subscription(session, where, entry.canonical, entry.options, utcnow())
        record_change(
            session,
            channel_id=entry.channel_id,
            actor=ACTOR_IMPORT,
            action="subscribed" if step.action == "add" else "edited",
            before=before,
            after=_typed(saved.subscription),
            subject_id=saved.subscription.id,
        )


def _entries(root: yaml.Node | None, problems: list[str]) -> Iterator[Entry]:
    if root is None:
        return
    listed = _mapping_value(root, "subscriptions") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(listed, yaml.SequenceNode):
        problems.append(f"line {_line(root)}: expected `subscriptions:` followed by a list")
        return
    for item in listed.value:
        if entry := _entry(item, problems):
            yield entry


def _entry(node: yaml.Node, problems: list[str]) -> Entry | None:
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"line {_line(node)}: expected `channel:` and `filter:`")
        return None
    fields: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in ENTRY_KEYS:
            known = ", ".join(sorted(ENTRY_KEYS))
            problems.append(f"line {_line(key_node)}: unknown key `{key}` (known: {known})")
        elif not isinstance(value_node, yaml.ScalarNode):
            problems.append(f"line {_line(value_node)}: `{key}` must be a single value")
        else:
            fields[key] = str(value_node.value)
    channel, text = fields.get("channel", ""), fields.get("filter", "")
    before = len(problems)
    words = [f"{key}={fields[key]}" for key in OPTION_KEYS if fields.get(key)]
    try:
        options = parse_options(words)
    except FilterError as error:
        problems.append(f"line {_line(node)}: {error}")
        options = AlertOptions()
    if not _CHANNEL_ID.match(channel):
        problems.append(
            f"line {_line(node)}: channel: `{channel}` is not a channel ID like C0123ABCD"
        )
    try:
        canonical = parse_filter(text).canonical if text.strip() else ""
    except FilterError as error:
        problems.append(f"line {_line(node)}: filter: {error}")
        return None
    if not canonical:
        problems.append(f"line {_line(node)}: filter: missing (e.g. `filter: topic:ai-advances`)")
    if len(problems) > before:
        return None
    return Entry(_line(node), channel, fields.get("channel_name", ""), canonical, options)


def _import_mute(session: Session, entry: MuteEntry) -> None:
    mute = add_mute(
        session,
        channel_id=entry.channel_id,
        canonical_filter=entry.canonical,
        until=entry.until,
        who=ACTOR_IMPORT,
    )
    record_change(
        session,
        channel_id=entry.channel_id,
        actor=ACTOR_IMPORT,
        action="muted",
        subject="mute",
        subject_id=mute.id,
        before=None,
        after=f"{entry.canonical} until {entry.until:%Y-%m-%d %H:%M} UTC",
    )


def _mute_entries(root: yaml.Node | None, problems: list[str]) -> Iterator[MuteEntry]:
    listed = _mapping_value(root, "mutes") if isinstance(root, yaml.MappingNode) else None
    if listed is None:
        return
    if not isinstance(listed, yaml.SequenceNode):
        problems.append(f"line {_line(listed)}: expected `mutes:` followed by a list")
        return
    for node in listed.value:
        fields = _scalars(node, frozenset({"channel", "filter", "until"}), problems)
        if fields is None:
            continue
        where = f"line {_line(node)}: "
        try:
            until = datetime.fromisoformat(fields.get("until", ""))
            canonical = parse_filter(fields.get("filter", "")).canonical
        except (ValueError, FilterError) as error:
            problems.append(f"{where}{error}")
            continue
        if until.tzinfo is None:
            problems.append(f"{where}until: give a time zone, e.g. 2026-12-01T08:00:00+00:00")
        elif not _CHANNEL_ID.match(fields.get("channel", "")):
            problems.append(f"{where}channel: `{fields.get('channel', '')}` is not a channel ID")
        else:
            yield MuteEntry(_line(node), fields["channel"], canonical, until)


def _scalars(node: yaml.Node, keys: frozenset[str], problems: list[str]) -> dict[str, str] | None:
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"line {_line(node)}: expected {', '.join(sorted(keys))}")
        return None
    fields: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in keys or not isinstance(value_node, yaml.ScalarNode):
            problems.append(f"line {_line(key_node)}: unexpected `{key}`")
        else:
            fields[key] = str(value_node.value)
    return fields


def _typed(row: Subscription) -> str:
    return f"{row.filter} {options_of(row).canonical}".strip()


def _mapping_value(node: yaml.MappingNode, wanted: str) -> yaml.Node | None:
    return next((value for key, value in node.value if key.value == wanted), None)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _quoted(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar, exact whatever it holds.
    return json.dumps(value, ensure_ascii=False)


def _channel_comment(row: Subscription) -> str:
    if is_personal(row.channel_id):
        return f"direct message ({row.created_by or 'a person'})"
    name = " ".join(row.channel_name.split())  # no line breaks inside a comment
    return f"#{name}" if name else row.channel_id
