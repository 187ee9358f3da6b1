"""Ingest and the folder source on real databases: idempotency, revisions, priming, the outbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SEED
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import SourceConfig
from bot.ingest import ingest
from bot.signal import Section, Signal
from bot.sources import poll_source
from bot.store.db import make_engine, make_session_factory, transaction, upgrade
from bot.store.models import Delivery, StoredSignal
from bot.store.subscriptions import ChannelRef, add_subscription

Sessions = sessionmaker[Session]
WHEN = datetime(2026, 4, 23, tzinfo=UTC)


def a_signal(key: str = "k1", **changes: object) -> Signal:
    fields: dict[str, object] = {
        "title": "Meta ships Muse Spark",
        "published": WHEN,
        "key": key,
        "source": "optyx",
        "entity": "Meta",
        "category": "PLATFORM RELEASE",
        "topic": "AI Advances",
        "summary": "A closed model.",
        "sections": (Section("The News", "It shipped."),),
    }
    fields.update(changes)
    return Signal(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sessions(database_url: str) -> Iterator[Sessions]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def subscribe(sessions: Sessions, channel: str, canonical: str) -> None:
    with transaction(sessions) as session:
        add_subscription(session, ChannelRef(channel_id=channel), canonical)


def deliveries(sessions: Sessions) -> list[tuple[str, str, str]]:
    with transaction(sessions) as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id))
        return [(row.signal_id, row.channel_id, row.state) for row in rows]


def test_same_content_again_is_a_no_op_and_changed_content_a_revision(sessions: Sessions) -> None:
    with transaction(sessions) as session:
        first = ingest(session, [a_signal()], announce=True)
    with transaction(sessions) as session:
        again = ingest(session, [a_signal()], announce=True)
    with transaction(sessions) as session:
        revised = ingest(session, [a_signal(summary="A closed model, now priced.")], announce=True)
        row = session.scalars(select(StoredSignal)).one()

    assert (len(first.new), again.unchanged, revised.revised) == (1, 1, [row.id])
    assert row.revision == 2
    assert row.summary == "A closed model, now priced."


def test_new_signals_queue_one_delivery_per_matching_channel(sessions: Sessions) -> None:
    subscribe(sessions, "C_AI", "ai-advances")
    subscribe(sessions, "C_AI", "entity:meta")  # a second match in the same channel
    subscribe(sessions, "C_META", "entity:meta")
    subscribe(sessions, "C_SEC", "security")

    with transaction(sessions) as session:
        report = ingest(session, [a_signal()], announce=True)

    assert report.queued == 2
    assert sorted(channel for _, channel, _ in deliveries(sessions)) == ["C_AI", "C_META"]


def test_a_signal_matching_nothing_is_stored_and_queues_nothing(sessions: Sessions) -> None:
    subscribe(sessions, "C_SEC", "security")
    with transaction(sessions) as session:
        report = ingest(session, [a_signal()], announce=True)
    assert (len(report.new), report.queued, deliveries(sessions)) == (1, 0, [])


def test_a_subscription_receives_what_arrives_after_it_not_the_past(sessions: Sessions) -> None:
    with transaction(sessions) as session:
        ingest(session, [a_signal("old")], announce=True)
    subscribe(sessions, "C_AI", "all")
    with transaction(sessions) as session:
        ingest(session, [a_signal("old"), a_signal("new", title="Newer")], announce=True)

    assert [channel for _, channel, _ in deliveries(sessions)] == ["C_AI"]
    assert len(deliveries(sessions)) == 1


def folder_source(path: Path, *, backfill: bool = False) -> SourceConfig:
    return SourceConfig(name="optyx", kind="folder", path=path, interval="1s", backfill=backfill)


def test_first_poll_primes_without_posting_then_new_files_are_delivered(
    sessions, tmp_path: Path
) -> None:
    (tmp_path / "old.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    subscribe(sessions, "C_AI", "all")
    source = folder_source(tmp_path)

    primed = poll_source(sessions, source)
    newer = SEED.read_text(encoding="utf-8").replace("Muse Spark", "Muse Flame")
    (tmp_path / "new.txt").write_text(newer, encoding="utf-8")
    second = poll_source(sessions, source)

    assert (len(primed.ingest.new), primed.ingest.queued) == (1, 0)
    assert (len(second.ingest.new), second.ingest.queued) == (1, 1)


def test_backfill_posts_what_the_first_poll_finds(sessions: Sessions, tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    subscribe(sessions, "C_AI", "all")

    report = poll_source(sessions, folder_source(tmp_path, backfill=True))

    assert report.ingest.queued == 1


def test_same_key_in_two_files_the_most_recently_modified_wins(
    sessions: Sessions, tmp_path: Path
) -> None:
    seed = SEED.read_text(encoding="utf-8")
    older, newer = tmp_path / "b-older.txt", tmp_path / "a-newer.txt"
    older.write_text(seed.replace("In a significant", "OLDER. In a significant"), encoding="utf-8")
    newer.write_text(seed.replace("In a significant", "NEWER. In a significant"), encoding="utf-8")
    os.utime(older, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    os.utime(newer, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))

    poll_source(sessions, folder_source(tmp_path))

    with transaction(sessions) as session:
        (row,) = session.scalars(select(StoredSignal)).all()
    assert row.summary.startswith("NEWER.")


def test_a_broken_file_is_skipped_then_read_again_once_fixed(
    sessions: Sessions, tmp_path: Path
) -> None:
    broken = tmp_path / "brief.txt"
    broken.write_text("Back to Live Signals\nnot a date\n", encoding="utf-8")
    (tmp_path / "other.json").write_text(
        '{"title": "Other", "published": "2026-05-01", "topic": "AI Advances"}', encoding="utf-8"
    )
    source = folder_source(tmp_path)

    first = poll_source(sessions, source)
    broken.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    os.utime(broken, ns=(1_900_000_000_000_000_000, 1_900_000_000_000_000_000))
    second = poll_source(sessions, source)

    assert len(first.ingest.new) == 1
    assert first.errors
    assert f"{broken}:" in first.errors[0]
    assert len(second.ingest.new) == 1
    assert not second.errors


def test_a_missing_folder_is_a_recorded_failure_not_a_crash(
    sessions: Sessions, tmp_path: Path
) -> None:
    report = poll_source(sessions, folder_source(tmp_path / "nowhere"))
    assert report.errors
    assert "nowhere" in report.errors[0]
