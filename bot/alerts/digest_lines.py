"""A digest's briefs grouped by topic and split into messages that fit Slack (pure).

A message holds at most MAX_LINES briefs and a bounded amount of text: a period with more
continues in a second message (part 2 of 2), never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

MAX_LINES = 40  # one section per brief, one per topic heading, a header and a footer: < 50 blocks
MAX_CHARS = 9000  # of block text per message, under the 11,000 budget with room for markup
LINE_OVERHEAD = 60  # the ID, separators and markup around each line
NO_TOPIC = "Other briefs"


@dataclass(frozen=True, slots=True)
class DigestLine:
    signal_id: str
    title: str
    entity: str
    category: str
    topic: str
    published: datetime

    @property
    def cost(self) -> int:
        return (
            len(self.title[:300])
            + len(self.entity[:100])
            + len(self.category[:100])
            + LINE_OVERHEAD
        )


@dataclass(frozen=True, slots=True)
class TopicGroup:
    topic: str
    lines: tuple[DigestLine, ...]


def in_reading_order(lines: Sequence[DigestLine]) -> list[DigestLine]:
    """By topic (named topics A-Z, then the rest), oldest first within a topic."""
    return sorted(
        lines,
        key=lambda line: (
            not line.topic.strip(),
            line.topic.casefold(),
            line.published,
            line.signal_id,
        ),
    )


def split_into_parts(lines: Sequence[DigestLine]) -> list[list[DigestLine]]:
    """Consecutive runs of `in_reading_order(lines)`, each small enough for one message."""
    parts: list[list[DigestLine]] = []
    current: list[DigestLine] = []
    used = blocks = 0
    topic: str | None = None
    for line in in_reading_order(lines):
        heading = 1 if line.topic != topic or not current else 0
        if current and (blocks + 1 + heading > MAX_LINES or used + line.cost > MAX_CHARS):
            parts.append(current)
            current, used, blocks, heading = [], 0, 0, 1
        current.append(line)
        used += line.cost
        blocks += 1 + heading
        topic = line.topic
    if current:
        parts.append(current)
    return parts


def grouped(lines: Sequence[DigestLine]) -> list[TopicGroup]:
    """One group per topic, in reading order."""
    groups: list[TopicGroup] = []
    for line in in_reading_order(lines):
        name = line.topic.strip() or NO_TOPIC
        if groups and groups[-1].topic == name:
            groups[-1] = TopicGroup(name, (*groups[-1].lines, line))
        else:
            groups.append(TopicGroup(name, (line,)))
    return groups
