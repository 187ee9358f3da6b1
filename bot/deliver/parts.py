"""One attempt at a brief in parts: the post, then its threaded continuations, in order.

Each part is posted once: the ts of every part posted so far travels back in the Outcome and is
stored, and after a crash or an answer that may have been lost (an unconfirmed attempt), the
channel's history (the post) and the thread (`conversations.replies`, whose messages carry their
part number in their metadata) say what is already there. A revision edits every part in place,
posts the continuations it added, deletes those it no longer needs, and notes the revision once.
An attempt posts at most a channel's burst of new messages (Verdict.MORE: the rest follow when
the channel's pace allows), so a long brief does not run into Slack's per-channel limit.

When Slack refuses a part's rendering (`msg_blocks_too_long`, `invalid_blocks`, …: our message
was wrong), a short fallback goes out in its place, so the channel always gets the brief.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.deliver.outcome import Outcome, Poster, Thread, Verdict
from bot.deliver.revisions import revision_note
from bot.deliver.slack_poster import RENDERING_REFUSALS, revision_metadata, signal_metadata
from bot.render import Message
from bot.store.outbox import Claimed

log = logging.getLogger(__name__)


class _Stopped(Exception):
    """A Slack answer that ends the attempt; carries its outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


@dataclass
class PartsAttempt:
    """Sends `parts` (the rendered brief) for one claimed delivery."""

    poster: Poster
    job: Claimed
    parts: list[Message]
    fallback: Callable[[], Message]
    find_post: Callable[[], Outcome | None]  # the post an unconfirmed attempt may have made
    post_budget: int = 3  # new messages this attempt may post before leaving the rest for later
    posted: dict[int, str] = field(default_factory=dict)  # part number -> ts
    writes: int = 0
    posts: int = 0
    fallback_reason: str | None = None

    def run(self) -> Outcome:
        try:
            thread = self._what_is_there()
            self._send_parts()
            if self.job.editing:
                self._delete_extra_replies()
                self._note_revision(thread)
        except _Stopped as stopped:
            return self._with_progress(stopped.outcome)
        return self._with_progress(Outcome.sent(self.posted[0]))

    # What the channel already holds.

    def _what_is_there(self) -> Thread | None:
        known = {number: ts for number, ts in enumerate(self.job.part_ts) if ts}
        if not known and self.job.message_ts:
            known[0] = self.job.message_ts  # posted by 0.1, before parts were stored
        if 0 not in known and self.job.maybe_posted:
            found = self.find_post()
            if found is not None and found.ts:
                known[0] = found.ts
            elif found is not None and found.verdict is not Verdict.PAUSE:
                raise _Stopped(found)
        self.posted = known
        if 0 not in known or not (self.job.editing or self.job.maybe_posted):
            return None
        thread = self.poster.find_thread(self.job.channel_id, known[0], self.job.signal.key)
        if isinstance(thread, Outcome):
            # Retried, paused or stopped as Slack's answer says; still unconfirmed if it was.
            raise _Stopped(replace(thread, ambiguous=thread.ambiguous or self.job.maybe_posted))
        if thread is not None:
            self.posted = {0: known[0], **thread.parts}
        return thread

    # Posting and editing.

    def _send_parts(self) -> None:
        refresh = self.job.editing or self.job.posted_revision < self.job.revision
        for number, message in enumerate(self.parts):
            if number in self.posted:
                if refresh:
                    self._write(number, message, edit_ts=self.posted[number])
            else:
                self._spend_post()
                self.posted[number] = self._write(number, message)

    def _write(self, number: int, message: Message, *, edit_ts: str | None = None) -> str:
        outcome = self._call(number, message, edit_ts)
        if edit_ts is not None and number and outcome.error == "message_not_found":
            edit_ts = None  # someone deleted this reply: post it again
            outcome = self._call(number, message, edit_ts)
        if outcome.verdict is Verdict.FAIL and outcome.error in RENDERING_REFUSALS:
            outcome = self._send_fallback(number, message, edit_ts, outcome.error)
        if outcome.verdict is not Verdict.SENT:
            raise _Stopped(outcome)
        return edit_ts or outcome.ts or ""

    def _spend_post(self) -> None:
        """Count a new message, or end the attempt (MORE) when its budget is spent.

        Posting is paced per channel (about one a second, short bursts allowed); edits and
        deletions are not, and a refused part's fallback takes the place of its part.
        """
        if self.posts >= self.post_budget:
            raise _Stopped(Outcome(Verdict.MORE))
        self.posts += 1

    def _call(self, number: int, message: Message, edit_ts: str | None) -> Outcome:
        self.writes += 1
        channel = self.job.channel_id
        if edit_ts is not None:
            return self.poster.edit(channel, edit_ts, message)
        metadata = signal_metadata(self.job.signal.key, number)
        if number == 0:
            return self.poster.post(channel, message, metadata)
        return self.poster.post(channel, message, metadata, thread_ts=self.posted[0])

    def _send_fallback(
        self, number: int, refused: Message, edit_ts: str | None, error: str | None
    ) -> Outcome:
        self.fallback_reason = (
            f"{error}: part {number + 1} of {len(self.parts)}, {refused.size}, "
            f"{len(refused.text)} characters of text"
        )
        log.error(
            "Slack refused brief %s in %s (%s); sending a short fallback instead",
            self.job.signal_id,
            self.job.channel_id,
            self.fallback_reason,
        )
        fallback = self.fallback()
        outcome = self._call(number, fallback, edit_ts)
        if outcome.verdict is Verdict.FAIL and outcome.error in RENDERING_REFUSALS:
            log.error("Slack refused the fallback of brief %s too: text only", self.job.signal_id)
            outcome = self._call(number, Message(fallback.text, []), edit_ts)
        return outcome

    # Revisions.

    def _delete_extra_replies(self) -> None:
        extra = sorted(number for number in self.posted if number >= len(self.parts))
        for number in extra:
            self.writes += 1
            outcome = self.poster.delete(self.job.channel_id, self.posted[number])
            if outcome.verdict is not Verdict.SENT:
                raise _Stopped(outcome)
            del self.posted[number]

    def _note_revision(self, thread: Thread | None) -> None:
        job = self.job
        if job.posted_revision >= job.revision:
            return  # parts resumed after a failure, not a new revision
        if thread is not None and job.revision in thread.noted_revisions:
            return  # noted by an attempt that did not live to record it
        self._spend_post()
        note = revision_note(job.posted_fields, job.signal, job.revision)
        metadata = revision_metadata(job.signal.key, job.revision)
        self.writes += 1
        noted = self.poster.reply_in_thread(job.channel_id, self.posted[0], note, metadata)
        if noted.verdict is not Verdict.SENT:
            log.warning("revision note in %s not posted: %s", job.channel_id, noted.error)

    def _with_progress(self, outcome: Outcome) -> Outcome:
        count = max(self.posted, default=-1) + 1
        posted = tuple(self.posted.get(number, "") for number in range(count))
        return Outcome(
            outcome.verdict,
            ts=outcome.ts,
            error=outcome.error,
            retry_after=outcome.retry_after,
            ambiguous=outcome.ambiguous,
            parts=posted or None,
            fallback=self.fallback_reason,
            writes=max(self.writes, 1),
        )
