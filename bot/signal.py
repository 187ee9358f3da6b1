"""The Signal: one intelligence brief, normalized from whatever source it came from."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache

SHORT_ID_LENGTH = 10
# A surrogate code point on its own: a Python str may hold one (a JSON "\\ud800" escape, bytes
# decoded with surrogateescape), UTF-8 cannot, so neither can a hash, SQLite or PostgreSQL.
_SURROGATE = re.compile("[\ud800-\udfff]")
# `json.dumps(payload, sort_keys=True, ensure_ascii=False)`, without making an encoder per call.
_CONTENT_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Section:
    """One titled part of a brief's analysis."""

    heading: str
    body: str


@dataclass(frozen=True, slots=True)
class Signal:
    """A brief in the normalized shape every source maps to (see CONTRACT.md)."""

    title: str
    published: datetime
    key: str = ""
    source: str = ""
    entity: str = ""
    category: str = ""
    topic: str = ""
    summary: str = ""
    sections: tuple[Section, ...] = field(default_factory=tuple)
    url: str | None = None

    @property
    def id(self) -> str:
        """The short, URL-safe handle people type (`/signals show ID`)."""
        return short_id(self.source, self.effective_key)

    @property
    def effective_key(self) -> str:
        """The source's own key, else the URL, else a hash of title + date."""
        if self.key:
            return self.key
        if self.url:
            return self.url
        digest = hashlib.sha256(f"{self.title}\n{self.published.date().isoformat()}".encode())
        return "sha256:" + digest.hexdigest()[:32]

    @property
    def content_hash(self) -> str:
        """Changes exactly when what a reader sees changes; a new value means a revision."""
        payload = {
            "title": self.title,
            "published": self.published.isoformat(),
            "entity": self.entity,
            "category": self.category,
            "topic": self.topic,
            "summary": self.summary,
            "sections": [[s.heading, s.body] for s in self.sections],
            "url": self.url,
        }
        return hashlib.sha256(_CONTENT_ENCODER.encode(payload).encode()).hexdigest()

    def keyed(self, source: str) -> Signal:
        """This signal as stored for `source`, with its key made explicit."""
        return replace(self, source=source, key=self.effective_key)

    def with_defaults(self, defaults: dict[str, str]) -> Signal:
        """Fill only the fields this signal lacks (a source's `defaults`)."""
        return replace(
            self,
            entity=self.entity or defaults.get("entity", ""),
            category=self.category or defaults.get("category", ""),
            topic=self.topic or defaults.get("topic", ""),
        )


def is_valid_text(text: str) -> bool:
    """True when UTF-8 can hold `text` (no lone surrogate); cheap for the usual text."""
    if text.isascii():
        return True
    try:
        text.encode()  # a tenth of the time a regex search takes
    except UnicodeEncodeError:
        return False
    return True


def valid_text(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD, the replacement character."""
    return text if is_valid_text(text) else _SURROGATE.sub("\ufffd", text)


# Rendering asks for a brief's ID several times per message (provenance, buttons): remembered.
@lru_cache(maxsize=4096)
def short_id(source: str, key: str) -> str:
    """A stable 10-character base32 handle for (source, key)."""
    digest = hashlib.sha256(f"{source}\0{key}".encode()).digest()
    # Base32 spells each 5 bytes as 8 characters, so the first 10 bytes give the first 16.
    return base64.b32encode(digest[:10]).decode("ascii").lower()[:SHORT_ID_LENGTH]


_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """`AI Advances` -> `ai-advances`: the case- and punctuation-blind form used for matching."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NON_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug or text.strip().lower()


def as_utc(moment: datetime | date) -> datetime:
    """A timezone-aware UTC datetime; naive values and plain dates are taken as UTC."""
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
