"""Push ingest (`POST /signals`): a JSON signal or list, validated, stored exactly once.

Pushed signals take the same path as polled ones (ingest -> outbox) under the source `push`,
which is always announced: there is no backlog to prime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import SignalBotError
from bot.ingest import IngestReport, ingest
from bot.signal import Signal
from bot.sources.json_signals import format_error_location, signals_from_payload
from bot.store import source_state as state_store
from bot.store.db import transaction

PUSH_SOURCE = "push"
# Two pushes of one new key at once: the loser's insert hits the unique key; a retry sees it.
INGEST_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a pushed body, at a field path like `[2].published`."""

    field: str
    problem: str


class PushRejected(SignalBotError):
    """A body that cannot be ingested; every problem is listed."""

    def __init__(self, error: str, problems: list[Problem]) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems


def signals_from_body(data: bytes) -> list[Signal]:
    """The pushed signals, keyed to the push source; PushRejected names every problem."""
    if not data.strip():
        raise PushRejected("the body is empty", [Problem("(body)", "send a signal or a list")])
    try:
        payload = json.loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except UnicodeDecodeError as error:
        problem = Problem("(body)", f"not UTF-8 (byte offset {error.start})")
        raise PushRejected("the body is not JSON", [problem]) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        problem = Problem("(body)", f"{error.msg} at {where}")
        raise PushRejected("the body is not JSON", [problem]) from None
    except RecursionError:
        problem = Problem("(body)", "nested too deeply")
        raise PushRejected("the body is not JSON", [problem]) from None
    try:
        return [signal.keyed(PUSH_SOURCE) for signal in signals_from_payload(payload)]
    except ValidationError as error:
        raise PushRejected("invalid signal", _problems(error)) from None


def ingest_pushed(sessions: sessionmaker[Session], signals: list[Signal]) -> IngestReport:
    """Store and queue pushed signals, and note the push in the source's health."""
    for attempt in range(1, INGEST_ATTEMPTS + 1):
        try:
            with transaction(sessions) as session:
                report = ingest(session, signals, announce=True)
                _record_push(session, len(signals), len(report.new))
            return report
        except IntegrityError:
            if attempt == INGEST_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _record_push(session: Session, seen: int, new: int) -> None:
    state = state_store.source_state(session, PUSH_SOURCE)
    state.kind = "push"
    state_store.record_success(state, seen=seen, new=new)


def _problems(error: ValidationError) -> list[Problem]:
    return [
        Problem(
            format_error_location(tuple(e["loc"])) or "(body)",
            e["msg"].removeprefix("Value error, "),
        )
        for e in error.errors()
    ]
