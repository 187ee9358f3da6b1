"""Long briefs for tests: brief-format text and Signals of a chosen size, what Slack shows of a
brief posted in parts, and the checks the long-brief tests share."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from fake_slack_blocks import check_message, text_length

from bot.app import Services
from bot.render import MESSAGE
from bot.signal import Section, Signal
from bot.store import outbox
from bot.store.db import transaction
from bot.store.models import Delivery

HEADINGS = ("The News", "The OPTYX Analysis", "AI Governance Impact")
VOCABULARY = ("model", "closed", "weights", "Meta", "enterprise", "risk", "license", "roadmap")


def paragraph(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(f"{rng.choice(VOCABULARY)}{rng.randint(0, 999)}" for _ in range(words)) + "."


def section_bodies(total_chars: int, sections: int = 3, seed: int = 0) -> list[str]:
    """`sections` bodies of paragraphs, about `total_chars` characters together."""
    per_section = total_chars // sections
    bodies = []
    for number in range(sections):
        paragraphs: list[str] = []
        while sum(len(p) + 2 for p in paragraphs) < per_section:
            paragraphs.append(paragraph(seed * 1000 + number * 100 + len(paragraphs), 100))
        bodies.append("\n\n".join(paragraphs))
    return bodies


def brief_text(ref: str, bodies: list[str], lede: str = "Meta launched a closed model.") -> str:
    """A brief in the signal service's text format, one section per body."""
    lines = ["Back to Live Signals", "Apr 23, 2026", "Meta", "PLATFORM RELEASE", ""]
    lines += ["Meta Pivots To Closed-Source AI", "", lede, ""]
    for heading, body in zip(HEADINGS * 10, bodies, strict=False):
        lines += [heading, "", body, ""]
    lines += ["OPTYX Intelligence Engine", "", "Automated Analysis", "", "View Intelligence Model"]
    lines.append(f"[ORIGIN_NODE: AI Advances][SYS_TIMESTAMP: 2026-04-23][REF: {ref}]")
    return "\n".join(lines) + "\n"


def long_signal(key: str, total_chars: int, *, seed: int = 0, **changes: Any) -> Signal:
    bodies = section_bodies(total_chars, seed=seed)
    fields: dict[str, Any] = {
        "title": f"Long brief {key}",
        "published": datetime(2026, 4, 23, 9, tzinfo=UTC),
        "key": key,
        "topic": "AI Advances",
        "summary": "A long brief.",
        "sections": tuple(Section(h, b) for h, b in zip(HEADINGS, bodies, strict=True)),
        "url": "https://briefs.example/long",
    }
    return Signal(**(fields | changes)).keyed("optyx")


def block_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b.get("type") == "section" and "text" in b]


def thread_of(messages: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The one top-level message of a channel and the replies in its thread, oldest first."""
    (top,) = [m for m in messages if "thread_ts" not in m]
    return top, [m for m in messages if m.get("thread_ts") == top["ts"]]


def part_number(message: dict[str, Any]) -> int:
    return int(message.get("metadata", {}).get("event_payload", {}).get("part", 0))


def assert_holds_every_word(parts: list[dict[str, Any]], bodies: list[str]) -> None:
    """Each body's words appear, in order and unbroken, in the parts' section texts."""
    words = " ".join(
        " ".join(text.split()) for part in parts for text in block_texts(part["blocks"])
    )
    for body in bodies:
        assert " ".join(body.split()) in words


def part_sizes(parts: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(blocks, characters of block text) of each part."""
    return [(len(part["blocks"]), text_length(part["blocks"])) for part in parts]


def stored_row(services: Services) -> Delivery:
    """The one delivery row, detached."""
    with transaction(services.sessions) as session:
        (row,) = outbox.deliveries(session)
        session.expunge(row)
        return row


def assert_parts_within_slack_limits(parts: list[dict[str, Any]]) -> None:
    """Each part is a message Slack accepts, within our 11,000-character budget."""
    for part in parts:
        check_message(part, required=True)
        assert text_length(part["blocks"]) <= (MESSAGE.text_budget or 0)
        assert len(part["blocks"]) <= MESSAGE.blocks
