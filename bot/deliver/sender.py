"""Sending one claimed delivery: render it (once per revision and format), then post or edit
its parts (bot.deliver.parts)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from bot.deliver.outcome import Outcome, Poster, Verdict
from bot.deliver.parts import PartsAttempt
from bot.render import Message, Renderer
from bot.store.outbox import Claimed

log = logging.getLogger(__name__)

RENDER_CACHE_SIZE = 256


class Sender:
    """Turns a claimed delivery into Slack calls; one signal is rendered once for all channels."""

    def __init__(
        self,
        poster: Poster,
        renderer: Renderer,
        history_margin: timedelta,
        *,
        posts_per_attempt: int = 3,
    ) -> None:
        self.poster = poster
        # A long brief's parts go out a channel's burst at a time, then wait for its pace.
        self.posts_per_attempt = posts_per_attempt
        self.renderer = renderer
        self.history_margin = history_margin
        self._rendered: dict[tuple[str, int, str], list[Message]] = {}
        self._lock = threading.Lock()

    def send(self, job: Claimed) -> Outcome:
        """One attempt; the outcome says what happens to the row next."""
        try:
            parts = self._parts(job)
        except Exception as error:  # a template bug fails this row loudly, not the worker
            log.exception("rendering %s failed", job.signal_id)
            return Outcome(Verdict.FAIL, error=f"render error: {error}")
        attempt = PartsAttempt(
            self.poster,
            job,
            parts,
            fallback=lambda: self.renderer.render_fallback(job.signal),
            find_post=lambda: self._already_posted(job),
            post_budget=self.posts_per_attempt,
        )
        return attempt.run()

    def _parts(self, job: Claimed) -> list[Message]:
        key = (job.signal_id, job.revision, job.format)
        with self._lock:
            cached = self._rendered.get(key)
        if cached is not None:
            return cached
        parts = self.renderer.render_brief(job.signal, job.format)
        with self._lock:
            if len(self._rendered) >= RENDER_CACHE_SIZE:
                self._rendered.clear()
            self._rendered[key] = parts
        return parts

    def _already_posted(self, job: Claimed) -> Outcome | None:
        """SENT if the channel already holds the message; None to post; else retry later."""
        oldest = (job.created_at - self.history_margin).timestamp()
        found = self.poster.find_posted(job.channel_id, job.signal.key, oldest)
        if found is None or found.verdict in (Verdict.SENT, Verdict.STOP):
            return found
        if found.verdict is Verdict.PAUSE:
            return None  # the post will meet the same channel problem and pause it
        error = f"could not check whether it was posted: {found.error}"
        return Outcome(Verdict.RETRY, error=error, retry_after=found.retry_after, ambiguous=True)
