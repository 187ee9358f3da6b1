"""Sending one claimed delivery: render it, then post it, or edit it and note the revision."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from bot.deliver.outcome import Outcome, TeamPosters, Verdict
from bot.deliver.revisions import revision_note
from bot.deliver.slack_poster import signal_metadata
from bot.render import Message, Renderer
from bot.store.outbox import Claimed

log = logging.getLogger(__name__)

RENDER_CACHE_SIZE = 256


class Sender:
    """Turns a claimed delivery into Slack calls; one signal is rendered once for all channels."""

    def __init__(self, posters: TeamPosters, renderer: Renderer, history_margin: timedelta) -> None:
        self.posters = posters  # each workspace's own, when there are several
        self.renderer = renderer
        self.history_margin = history_margin
        self._rendered: dict[tuple[str, int], Message] = {}
        self._lock = threading.Lock()

    def send(self, job: Claimed) -> Outcome:
        """One attempt; the outcome says what happens to the row next."""
        try:
            message = self._message(job)
        except Exception as error:  # a template bug fails this row loudly, not the worker
            log.exception("rendering %s failed", job.signal_id, extra=job.log_context)
            return Outcome(Verdict.FAIL, error=f"render error: {error}")
        if job.editing and job.message_ts:
            return self._edit(job, job.message_ts, message)
        if job.maybe_posted and (found := self._already_posted(job)) is not None:
            return found
        poster = self.posters.for_team(job.team_id)
        return poster.post(job.channel_id, message, signal_metadata(job.signal.key))

    def _message(self, job: Claimed) -> Message:
        key = (job.signal_id, job.revision)
        with self._lock:
            cached = self._rendered.get(key)
        if cached is not None:
            return cached
        message = self.renderer.render_signal(job.signal)
        with self._lock:
            if len(self._rendered) >= RENDER_CACHE_SIZE:
                self._rendered.clear()
            self._rendered[key] = message
        return message

    def _edit(self, job: Claimed, ts: str, message: Message) -> Outcome:
        poster = self.posters.for_team(job.team_id)
        outcome = poster.edit(job.channel_id, ts, message)
        if outcome.verdict is not Verdict.SENT:
            return outcome
        note = revision_note(job.posted_fields, job.signal, job.revision)
        noted = poster.reply_in_thread(job.channel_id, ts, note)
        if noted.verdict is not Verdict.SENT:
            log.warning(
                "revision note in %s not posted: %s",
                job.channel_id,
                noted.error,
                extra=job.log_context,
            )
        return Outcome.sent(ts)

    def _already_posted(self, job: Claimed) -> Outcome | None:
        """SENT if the channel already holds the message; None to post; else retry later."""
        oldest = (job.created_at - self.history_margin).timestamp()
        found = self.posters.for_team(job.team_id).find_posted(
            job.channel_id, job.signal.key, oldest
        )
        if found is None or found.verdict in (Verdict.SENT, Verdict.STOP):
            return found
        if found.verdict is Verdict.PAUSE:
            return None  # the post will meet the same channel problem and pause it
        error = f"could not check whether it was posted: {found.error}"
        return Outcome(Verdict.RETRY, error=error, retry_after=found.retry_after, ambiguous=True)
