"""What one poll of one source did, whatever its kind."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.ingest import IngestReport
from bot.sources.http import Validators


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """The server's side of a poll: its status and what to send it next time."""

    status: int
    validators: Validators
    body_hash: str | None = None
    unchanged: bool = False


@dataclass(slots=True)
class PollReport:
    """One poll of one source."""

    source: str
    ingest: IngestReport = field(default_factory=IngestReport)
    items_seen: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    announced: bool = False
    http: HttpOutcome | None = None
    # True when the source is backing off and was not polled at all.
    skipped: bool = False

    @property
    def unchanged(self) -> bool:
        """Nothing was read: 304 Not Modified, or the very same body as last time."""
        return self.http is not None and self.http.unchanged
