"""What every command family shares: the reply type, the context commands run in, Slack access."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.config import SourceConfig
from bot.deliver.clock import Clock, SystemClock
from bot.managers import EVERYONE, Permissions
from bot.people import NoPeople, People
from bot.render import Message, Renderer
from bot.store.models import is_user_id
from bot.store.overview import is_personal
from bot.store.subscriptions import ChannelRef


@dataclass(frozen=True, slots=True)
class Reply:
    message: Message
    response_type: str = "ephemeral"
    # Messages that follow the first one (a long brief's continuations), in order.
    followups: tuple[Message, ...] = ()

    def as_response(self) -> dict[str, Any]:
        return {"response_type": self.response_type, **self.message.as_kwargs()}

    def followup_responses(self) -> list[dict[str, Any]]:
        return [{"response_type": self.response_type, **m.as_kwargs()} for m in self.followups]


class ChannelAccess(Protocol):
    def problem_posting_in(self, channel_id: str, team_id: str = "") -> str | None:
        """None when the bot can post in the channel (joining it if it may); else why not.
        `team_id` picks the workspace's token when each has its own."""


class OpenChannels:
    """Local mode: every channel is writable."""

    def problem_posting_in(self, channel_id: str, team_id: str = "") -> str | None:
        return None


log = logging.getLogger(__name__)


class ChangeNotifier:
    """Tells whoever listens (the App Home) that a user changed subscriptions or mutes."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str, str], None]] = []
        self._lock = threading.Lock()

    def listen(self, listener: Callable[[str, str], None]) -> None:
        """Call `listener(user_id, team_id)` after each change."""
        with self._lock:
            self._listeners.append(listener)

    def changed_by(self, user_id: str, team_id: str = "") -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(user_id, team_id)
            except Exception:  # a listener's failure must not undo or hide the change itself
                log.exception("change listener failed")


@dataclass(frozen=True)
class CommandContext:
    """The database, the renderer and Slack, passed to every command."""

    sessions: sessionmaker[Session]
    renderer: Renderer
    channels: ChannelAccess
    sources: Sequence[SourceConfig] = ()
    push_enabled: bool = False
    people: People = field(default_factory=NoPeople)
    clock: Clock = field(default_factory=SystemClock)
    permissions: Permissions = EVERYONE
    changes: ChangeNotifier = field(default_factory=ChangeNotifier)

    def refusal(self, where: ChannelRef) -> Reply | None:
        """A friendly refusal when the user may not change this channel's subscriptions."""
        if is_personal(where.channel_id):
            return None  # a DM with the app: the user's own, personal subscriptions
        refused = self.permissions.refusal(where.user_id, where.team_id)
        if refused is None:
            return None
        text = f":no_entry: {refused}"  # already mrkdwn, with the managers' mentions
        return Reply(Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]))

    def notice(self, emoji: str, *lines: str) -> Reply:
        return Reply(self.renderer.render("notice.json.j2", emoji=emoji, lines=list(lines)))


def channel_label(where: ChannelRef) -> str:
    if is_user_id(where.channel_id):
        return "You"
    return f"#{where.channel_name}" if where.channel_name else "This channel"


def personal_target(args: str, where: ChannelRef) -> tuple[ChannelRef, str]:
    """`me …` anywhere, or anything typed in a DM with the app, is about the person who typed
    it: their user ID stands in for the channel. Returns (target, the rest of the words)."""
    first, _, rest = args.strip().partition(" ")
    said_me = first.lower() == "me"
    if not said_me and not where.channel_id.startswith("D"):
        return where, args
    person = ChannelRef(
        channel_id=where.user_id, channel_name="", team_id=where.team_id, user_id=where.user_id
    )
    return person, rest.strip() if said_me else args
