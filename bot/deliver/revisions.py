"""Revisions: which fields of a posted brief changed, and the threaded note that says so."""

from __future__ import annotations

import hashlib

from bot.render import mrkdwn
from bot.signal import Signal

FIELD_LABELS = {
    "title": "the title",
    "published": "the date",
    "entity": "the entity",
    "category": "the category",
    "topic": "the topic",
    "summary": "the summary",
    "url": "the link",
}
SECTION_PREFIX = "section:"


def field_digests(signal: Signal) -> dict[str, str]:
    """A short digest per field and per section: enough to tell later what changed."""
    values = {name: str(getattr(signal, name) or "") for name in FIELD_LABELS}
    values["published"] = signal.published.isoformat()
    for section in signal.sections:
        values[SECTION_PREFIX + section.heading] = section.body
    return {name: _digest(value) for name, value in values.items()}


def changed_fields(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What a reader would call the changes, in the order of the message."""
    changes = []
    for name in dict.fromkeys([*after, *before]):
        if before.get(name) == after.get(name):
            continue
        if not name.startswith(SECTION_PREFIX):
            changes.append(FIELD_LABELS.get(name, name))
            continue
        heading = f"“{name.removeprefix(SECTION_PREFIX)}”"
        if name not in before:
            changes.append(f"a new section {heading}")
        elif name not in after:
            changes.append(f"the section {heading} (removed)")
        else:
            changes.append(f"the section {heading}")
    return changes


def revision_note(before: dict[str, str] | None, signal: Signal, revision: int) -> str:
    """The mrkdwn text of the note threaded under an edited message."""
    changes = changed_fields(before, field_digests(signal)) if before else []
    what = f"Revised: {_listed(changes)} changed" if changes else "This brief was revised"
    return mrkdwn(f"{what} (revision {revision}). The message above now shows the new version.")


def _listed(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _digest(value: str) -> str:
    return hashlib.blake2s(value.encode("utf-8"), digest_size=6).hexdigest()
