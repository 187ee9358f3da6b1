"""The outbox and leases on real databases (SQLite and PostgreSQL): who may claim what, when."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import START
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.signal import Signal
from bot.store import leases, outbox
from bot.store.db import make_engine, make_session_factory, transaction, upgrade
from bot.store.models import Delivery
from bot.store.signals import upsert_signals
from bot.store.slack_state import ChannelPace

Sessions = sessionmaker[Session]
NOW = START  # after any real "now": the rows the tests queue (on the system clock) are due
PUBLISHED = datetime(2026, 4, 23, tzinfo=UTC)


@pytest.fixture
def sessions(database_url: str) -> Iterator[Sessions]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def queue(sessions: Sessions, key: str, channels: list[str], *, minutes: int = 0) -> str:
    """A stored signal published `minutes` after PUBLISHED, with a delivery to each channel."""
    signal = Signal(title=key, published=PUBLISHED + timedelta(minutes=minutes), key=key)
    with transaction(sessions) as session:
        (upserted,) = upsert_signals(session, [signal.keyed("test")])
        outbox.enqueue(session, upserted.row.id, [(channel, None) for channel in channels])
        return upserted.row.id


def claim(sessions: Sessions, limit: int = 100, worker: str = "w1") -> list[tuple[str, str]]:
    with transaction(sessions) as session:
        claimed = outbox.claim_due(session, limit=limit, worker=worker, now=NOW)
        return [(job.signal.key, job.channel_id) for job in claimed]


def set_state(sessions: Sessions, new_state: str, **where: str) -> None:
    with transaction(sessions) as session:
        query = update(Delivery).values(state=new_state)
        for column, value in where.items():
            query = query.where(getattr(Delivery, column) == value)
        session.execute(query)


def test_claim_takes_the_oldest_waiting_row_of_each_channel_only(sessions: Sessions) -> None:
    later = queue(sessions, "later", ["C1", "C2"], minutes=5)
    queue(sessions, "earlier", ["C1", "C2"], minutes=0)

    assert sorted(claim(sessions)) == [("earlier", "C1"), ("earlier", "C2")]
    assert claim(sessions) == [], "nothing more while each channel has a post in flight"

    set_state(sessions, "sent", channel_id="C1", state="sending")
    assert claim(sessions) == [("later", "C1")]
    with transaction(sessions) as session:
        states = dict(
            session.execute(
                select(Delivery.channel_id, Delivery.state).where(Delivery.signal_id == later)
            ).all()
        )
    assert states == {"C1": "sending", "C2": "pending"}


def test_a_paused_or_failed_row_does_not_hold_its_channel_back(sessions: Sessions) -> None:
    queue(sessions, "first", ["C1", "C2"], minutes=0)
    queue(sessions, "second", ["C1", "C2"], minutes=1)
    with transaction(sessions) as session:
        first = session.scalars(select(Delivery).order_by(Delivery.id).limit(2)).all()
        first[0].state, first[1].state = "failed", "paused"

    assert sorted(claim(sessions)) == [("second", "C1"), ("second", "C2")]


def test_a_held_channel_and_a_retry_later_wait_and_say_when(sessions: Sessions) -> None:
    queue(sessions, "held", ["C1"])
    queue(sessions, "backing-off", ["C2"])
    queue(sessions, "behind", ["C2"], minutes=1)
    with transaction(sessions) as session:
        session.add(
            ChannelPace(
                channel_id="C1", tokens=1, refilled_at=NOW, ready_at=NOW + timedelta(seconds=30)
            )
        )
        session.execute(
            update(Delivery)
            .where(
                Delivery.channel_id == "C2",
                Delivery.id
                == select(Delivery.id)
                .where(Delivery.channel_id == "C2")
                .order_by(Delivery.id)
                .limit(1)
                .scalar_subquery(),
            )
            .values(next_attempt_at=NOW + timedelta(seconds=10))
        )

    assert claim(sessions) == [], "the later row of C2 waits behind the one backing off"
    with transaction(sessions) as session:
        due = outbox.next_due_at(session)
    assert due == NOW + timedelta(seconds=10)


def test_next_due_is_none_when_nothing_waits(sessions: Sessions) -> None:
    queue(sessions, "only", ["C1"])
    claim(sessions)
    with transaction(sessions) as session:
        assert outbox.next_due_at(session) is None


def test_concurrent_claims_never_hand_out_a_row_twice(sessions: Sessions) -> None:
    for n in range(5):
        queue(sessions, f"s{n}", [f"C{c}" for c in range(40)], minutes=n)
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def claim_until_empty(worker: str) -> None:
        for _round in range(500):
            got = claim(sessions, limit=7, worker=worker)
            with lock:
                claimed.extend(got)
            if got:  # settle at once, so the next row of each channel becomes claimable
                with transaction(sessions) as session:
                    session.execute(
                        update(Delivery)
                        .where(Delivery.claimed_by == worker, Delivery.state == "sending")
                        .values(state="sent")
                    )
            elif not _waiting(sessions):
                return

    threads = [threading.Thread(target=claim_until_empty, args=[f"w{n}"]) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(claimed) == 200
    assert len(set(claimed)) == 200


def _waiting(sessions: Sessions) -> int:
    with transaction(sessions) as session:
        counts = outbox.count_by_state(session)
    return sum(counts.get(state, 0) for state in (*outbox.WAITING, *outbox.IN_FLIGHT))


def test_claims_of_a_dead_worker_are_requeued_and_a_post_marked_unconfirmed(
    sessions: Sessions,
) -> None:
    queue(sessions, "a", ["C1", "C2", "C3"])
    claim(sessions, worker="dead")
    set_state(sessions, "editing", channel_id="C2")
    with transaction(sessions) as session:
        session.execute(
            update(Delivery).where(Delivery.channel_id == "C3").values(claimed_by="alive")
        )

    with transaction(sessions) as session:
        orphans = outbox.orphaned_claims(
            session, live_workers={"alive"}, stale_before=NOW - timedelta(minutes=10)
        )
        assert sorted(row.channel_id for row in orphans) == ["C1", "C2"]
        assert all(outbox.requeue_orphan(session, row, now=NOW, max_attempts=6) for row in orphans)
        assert not outbox.requeue_orphan(session, orphans[0], now=NOW, max_attempts=6), (
            "already moved on"
        )

    with transaction(sessions) as session:
        rows = {row.channel_id: row for row in session.scalars(select(Delivery))}
    assert rows["C1"].state == "pending"
    assert (rows["C1"].last_error or "").startswith(outbox.UNCONFIRMED)
    assert rows["C2"].state == "edit"
    assert rows["C2"].last_error is None, "an edit is safe to repeat"
    assert rows["C3"].state == "sending"


def test_a_row_whose_workers_keep_dying_fails_instead_of_looping(sessions: Sessions) -> None:
    queue(sessions, "a", ["C1"])
    claim(sessions, worker="dead")
    with transaction(sessions) as session:
        session.execute(update(Delivery).values(attempts=6))
        (orphan,) = outbox.orphaned_claims(session, live_workers=set(), stale_before=NOW)
        assert outbox.requeue_orphan(session, orphan, now=NOW, max_attempts=6)
    with transaction(sessions) as session:
        row = session.scalars(select(Delivery)).one()
    assert (row.state, row.last_error) == (
        "failed",
        outbox.UNCONFIRMED + "its worker stopped while sending",
    )


def test_a_claim_held_far_too_long_is_an_orphan_even_if_its_worker_lives(
    sessions: Sessions,
) -> None:
    queue(sessions, "a", ["C1"])
    claim(sessions, worker="alive")
    with transaction(sessions) as session:
        stale = outbox.orphaned_claims(
            session, live_workers={"alive"}, stale_before=NOW + timedelta(seconds=1)
        )
    assert [row.channel_id for row in stale] == ["C1"]


def test_retry_failed_requeues_posts_as_posts_and_edits_as_edits(sessions: Sessions) -> None:
    queue(sessions, "a", ["C1", "C2"])
    with transaction(sessions) as session:
        session.execute(update(Delivery).values(state="failed", attempts=6, rate_limited=3))
        session.execute(
            update(Delivery).where(Delivery.channel_id == "C2").values(message_ts="1.000001")
        )
        assert outbox.retry_failed(session) == 2
    with transaction(sessions) as session:
        rows = {
            row.channel_id: (row.state, row.attempts, row.rate_limited)
            for row in session.scalars(select(Delivery))
        }
    assert rows == {"C1": ("pending", 0, 0), "C2": ("edit", 0, 0)}


def test_a_revision_turns_posted_copies_into_edits(sessions: Sessions) -> None:
    signal_id = queue(sessions, "a", ["C1", "C2"])
    set_state(sessions, "sent", channel_id="C1")
    with transaction(sessions) as session:
        assert outbox.request_edits(session, signal_id) == 1
        states = dict(session.execute(select(Delivery.channel_id, Delivery.state)).all())
    assert states == {"C1": "edit", "C2": "pending"}


def test_a_lease_has_one_holder_until_it_expires_or_is_released(sessions: Sessions) -> None:
    ttl = timedelta(seconds=30)
    with transaction(sessions) as session:
        assert leases.acquire(session, "poll", "a", ttl=ttl, now=NOW)
        assert not leases.acquire(session, "poll", "b", ttl=ttl, now=NOW + timedelta(seconds=29))
        assert leases.acquire(session, "poll", "a", ttl=ttl, now=NOW + timedelta(seconds=29))
        assert leases.holder_of(session, "poll", now=NOW + timedelta(seconds=50)) == "a"
        assert leases.acquire(session, "poll", "b", ttl=ttl, now=NOW + timedelta(seconds=60))
        leases.release(session, "poll", "a")
        assert leases.holder_of(session, "poll", now=NOW + timedelta(seconds=60)) == "b"
        leases.release(session, "poll", "b")
        assert leases.holder_of(session, "poll", now=NOW + timedelta(seconds=60)) is None


def test_contending_processes_get_the_lease_once(sessions: Sessions) -> None:
    winners: list[str] = []

    def contend(holder: str) -> None:
        with transaction(sessions) as session:
            if leases.acquire(session, "poll", holder, ttl=timedelta(seconds=30), now=NOW):
                winners.append(holder)

    threads = [threading.Thread(target=contend, args=[f"w{n}"]) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(winners) == 1


def test_live_workers_are_those_with_a_running_presence_lease(sessions: Sessions) -> None:
    ttl = timedelta(seconds=30)
    with transaction(sessions) as session:
        for worker, started in (("old", NOW - timedelta(minutes=5)), ("a", NOW), ("b", NOW)):
            leases.acquire(session, leases.presence_name(worker), worker, ttl=ttl, now=started)
        leases.acquire(session, "poll", "a", ttl=ttl, now=NOW)
        assert leases.live_workers(session, now=NOW) == {"a", "b"}
        assert leases.count_live_workers(session, now=NOW) == 2
        assert leases.forget_expired(session, before=NOW) == 1


def test_claims_never_sent_are_released_without_counting_the_attempt(sessions: Sessions) -> None:
    queue(sessions, "a", ["C1", "C2"])
    set_state(sessions, "sent", channel_id="C2")
    with transaction(sessions) as session:
        session.execute(update(Delivery).where(Delivery.channel_id == "C2").values(state="edit"))
    claim(sessions, worker="w1")
    with transaction(sessions) as session:
        ids = list(session.scalars(select(Delivery.id)))
        assert outbox.release_claims(session, ids, "someone-else") == 0
        assert outbox.release_claims(session, ids, "w1") == 2
    with transaction(sessions) as session:
        rows = {
            r.channel_id: (r.state, r.attempts, r.claimed_by)
            for r in session.scalars(select(Delivery))
        }
    assert rows == {"C1": ("pending", 0, None), "C2": ("edit", 0, None)}
