"""Local mode: messages are printed to the terminal and saved as Block Kit JSON previews."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from bot.deliver.outcome import Outcome, Thread
from bot.render import Message
from bot.terminal import message_to_text

BLOCK_KIT_BUILDER = "https://app.slack.com/block-kit-builder/#"


class TerminalPoster:
    """A Poster that writes each message to `out` and to `preview_dir/<ts>.json`."""

    def __init__(self, out: TextIO, preview_dir: Path | None = None) -> None:
        self.out = out
        self.preview_dir = preview_dir
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)

    def post(
        self,
        channel_id: str,
        message: Message,
        metadata: dict[str, object],
        thread_ts: str | None = None,
    ) -> Outcome:
        ts = self._next_ts()
        where = f"#{channel_id}" + (f" (in the thread of {thread_ts})" if thread_ts else "")
        self._print(where, message, ts)
        return Outcome.sent(ts)

    def edit(self, channel_id: str, ts: str, message: Message) -> Outcome:
        self._print(f"#{channel_id} (edited)", message, ts)
        return Outcome.sent(ts)

    def delete(self, channel_id: str, ts: str) -> Outcome:
        with self._lock:
            print(f"  ✕ #{channel_id}: message {ts} deleted", file=self.out, flush=True)
        return Outcome.sent(ts)

    def reply_in_thread(
        self, channel_id: str, thread_ts: str, text: str, metadata: dict[str, object] | None = None
    ) -> Outcome:
        with self._lock:
            print(f"  ↳ {text}", file=self.out, flush=True)
        return Outcome.sent(self._next_ts())

    def find_posted(self, channel_id: str, signal_key: str, oldest: float) -> Outcome | None:
        return None  # the terminal keeps no history; a re-print after a crash is harmless

    def find_thread(self, channel_id: str, thread_ts: str, signal_key: str) -> Thread | None:
        return None  # no history: the stored part ts are the truth

    def check_auth(self) -> Outcome:
        return Outcome.sent("")

    def _next_ts(self) -> str:
        return f"{time.time():.0f}.{next(self._sequence):06d}"

    def _print(self, where: str, message: Message, ts: str) -> None:
        rule = "─" * 72
        with self._lock:
            print(f"\n{rule}\n→ {where}\n{message_to_text(message)}", file=self.out)
            if self.preview_dir is not None:
                path = self._save_preview(message, ts)
                print(f"(Block Kit JSON: {path})", file=self.out)
            print(rule, file=self.out, flush=True)

    def _save_preview(self, message: Message, ts: str) -> Path:
        assert self.preview_dir is not None
        self.preview_dir.mkdir(parents=True, exist_ok=True)
        path = self.preview_dir / f"{ts}.json"
        path.write_text(json.dumps({"blocks": message.blocks}, indent=2), encoding="utf-8")
        return path


def block_kit_builder_url(message: Message) -> str:
    """A link that opens the message in Slack's Block Kit Builder."""
    return BLOCK_KIT_BUILDER + quote(json.dumps({"blocks": message.blocks}, separators=(",", ":")))
